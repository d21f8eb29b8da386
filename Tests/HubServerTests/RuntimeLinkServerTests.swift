import Glibc
import GuestWire
import HubGuest
import JSON
import PlatformConfig
import Testing

/// Links opened at run time through a live hub (`Protocols/guest.md` §7.6–§7.9, `control.md` link.open).
@Suite struct RuntimeLinkServerTests {
    private static func hub(maxLinks: Int = 64) throws -> HubHarness {
        try HubHarness { configuration in
            let linux = configuration.partitions.firstIndex { $0.name == "linux" }!
            configuration.partitions[linux].mayOpenLinks = true
            configuration.hub.limits.runtimeLinksMax = maxLinks
        }
    }

    private func attach(_ hub: HubHarness, _ partition: String, aware: Bool = true, tcp: Bool = false) throws
        -> GuestClient
    {
        let endpoint = tcp ? "tcp:127.0.0.1:\(hub.guestTCPPort)" : "unix:\(hub.guestUnix)"
        return try GuestClient.connect(
            endpoint: endpoint, partition: partition, secret: "\(partition)-dev-secret",
            features: aware ? [GuestProtocol.runtimeLinksFeature] : [])
    }

    /// The next event accepted by `pick`, skipping others (credit, IRQs…).
    private func next<T>(_ client: GuestClient, _ pick: (GuestEvent) -> T?) throws -> T? {
        while let event = try client.nextEvent(timeout: 5) {
            if let value = pick(event) { return value }
        }
        return nil
    }

    private func rejection(_ body: () throws -> Void) -> GuestErrorCode? {
        do {
            try body()
        } catch let error as GuestClientError {
            if case .rejected(let code, _) = error { return code }
        } catch {}
        return nil
    }

    @Test func twoGuestsOpenALinkExchangeMessagesAndCloseIt() throws {
        let hub = try Self.hub()
        let linux = try attach(hub, "linux")
        let secure = try attach(hub, "secure", tcp: true)
        #expect(linux.hubOffersRuntimeLinks)

        let opened = try linux.openLink(name: "keys", peer: "secure", maxMessage: 256, depth: 8)
        #expect(opened.link.id == 6 && !opened.existing && opened.openedBy == "linux")
        #expect(opened.link.initialCredit == 8 && opened.link.peer == "secure")
        // The peer is told at once (request id 0), with credit since secure may message linux.
        let told = try next(secure) { if case .linkOpened(let link) = $0 { link } else { nil } }
        #expect(told?.link.id == 6 && told?.link.peer == "linux" && told?.link.initialCredit == 8)

        #expect(try linux.send(link: 6, payload: Array("sign this".utf8), correlation: 7).status == .queued)
        let request = try next(secure) { if case .message(let delivery) = $0 { delivery } else { nil } }
        #expect(request?.sender == "linux" && request?.link == 6 && request?.correlation == 7)
        #expect(request.map { Array($0.payload) } == Array("sign this".utf8))
        try secure.ack(link: 6, upTo: request?.messageId ?? 0)
        #expect(try secure.send(link: 6, payload: Array("signed".utf8), correlation: 7).status == .queued)
        let reply = try next(linux) { if case .message(let delivery) = $0 { delivery } else { nil } }
        #expect(reply?.sender == "secure" && reply.map { Array($0.payload) } == Array("signed".utf8))

        // Opening again is idempotent.
        #expect(try linux.openLink(name: "keys", peer: "secure", maxMessage: 256, depth: 8).existing)

        // The control API lists it as a runtime link.
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let link = try control.call("link.get", ["name": "keys"])
        #expect(link["result"]?["runtime"] == true && link["result"]?["id"] == 6)
        #expect(link["result"]?["openedBy"] == "linux")

        // secure has not acknowledged the reply's partner yet: linux holds one unacknowledged message.
        let closing = try secure.closeLink(6)
        #expect(closing.state == .closing && closing.held == 1)
        let linuxTold = try next(linux) { if case .linkClosed(6, let state, _) = $0 { state } else { nil } }
        #expect(linuxTold == .closing)
        #expect(try linux.send(link: 6, payload: [1]).status == .linkClosing)
        // Acknowledging the last message removes the link; both ends hear it is gone.
        try linux.ack(link: 6, upTo: reply?.messageId ?? 0)
        #expect(try next(linux) { if case .linkClosed(6, .closed, _) = $0 { true } else { nil } } == true)
        #expect(try next(secure) { if case .linkClosed(6, .closed, _) = $0 { true } else { nil } } == true)
        #expect(try linux.send(link: 6, payload: [1]).status == .noSuchLink)
        #expect(try control.call("link.get", ["name": "keys"])["error"] != nil)
        #expect(hub.stop() == 0)
    }

    /// Removing a runtime link shifts the positions of the links opened after it; guest ids do not shift, so
    /// sends, deliveries, acknowledgements and credit on the later link still name it correctly.
    @Test func aLaterRuntimeLinkStillWorksAfterAnEarlierOneIsRemoved() throws {
        let hub = try Self.hub()
        let linux = try attach(hub, "linux")
        let secure = try attach(hub, "secure")
        #expect(try linux.openLink(name: "first", peer: "secure", maxMessage: 64, depth: 2).link.id == 6)
        #expect(try linux.openLink(name: "second", peer: "secure", maxMessage: 64, depth: 2).link.id == 7)
        #expect(try linux.closeLink(6).state == .closed)
        #expect(try linux.send(link: 6, payload: [0]).status == .noSuchLink)
        for round in UInt8(1)...3 {
            // depth 2: the third round only has credit because the acknowledgements freed slots.
            #expect(try linux.send(link: 7, payload: [round]).status == .queued)
            let delivery = try next(secure) { if case .message(let delivery) = $0 { delivery } else { nil } }
            #expect(delivery?.link == 7 && delivery.map { Array($0.payload) } == [round])
            try secure.ack(link: 7, upTo: delivery?.messageId ?? 0)
            let credit = try next(linux) { if case .credit(7, let credit) = $0 { credit } else { nil } }
            #expect(credit == 1)
        }
        #expect(try secure.send(link: 7, payload: [9]).status == .queued)
        let reply = try next(linux) { if case .message(let delivery) = $0 { delivery } else { nil } }
        #expect(reply?.link == 7 && reply?.sender == "secure")
        #expect(hub.stop() == 0)
    }

    @Test func refusalsArePrecise() throws {
        let hub = try Self.hub(maxLinks: 1)
        let linux = try attach(hub, "linux")
        let rtos = try attach(hub, "rtos")
        let old = try attach(hub, "mgmt", aware: false)
        // rtos did not opt in.
        #expect(
            rejection { _ = try rtos.openLink(name: "x", peer: "linux", maxMessage: 64, depth: 4) } == .notPermitted)
        // A client that did not negotiate the feature gets the §11 answer for an unknown type.
        #expect(
            rejection { _ = try old.openLink(name: "x", peer: "linux", maxMessage: 64, depth: 4) } == .unknownFrameType)
        #expect(
            rejection { _ = try linux.openLink(name: "x", peer: "nobody", maxMessage: 64, depth: 4) }
                == .noSuchPartition)
        #expect(
            rejection { _ = try linux.openLink(name: "9x", peer: "mgmt", maxMessage: 64, depth: 4) } == .invalidArgument
        )
        #expect(
            rejection { _ = try linux.openLink(name: "x", peer: "mgmt", maxMessage: 64, depth: 100_000) } == .tooLarge)
        #expect(
            rejection { _ = try linux.openLink(name: "rtos-secure", peer: "mgmt", maxMessage: 64, depth: 4) }
                == .nameInUse)
        #expect(rejection { _ = try linux.closeLink(0) } == .notPermitted)  // configured rtos-linux
        #expect(rejection { _ = try linux.closeLink(77) } == .noSuchLink)
        _ = try linux.openLink(name: "one", peer: "mgmt", maxMessage: 64, depth: 4)
        #expect(
            rejection { _ = try linux.openLink(name: "two", peer: "mgmt", maxMessage: 64, depth: 4) } == .limitReached)
        // The older client was not told and gets nothing on the link; linux's message waits for its next attach.
        #expect(try linux.send(link: 6, payload: [9]).status == .queued)
        #expect(try old.heartbeat(stamp: 1) == ())
        var sawNew = false
        while let event = try old.nextEvent(timeout: 0.2) {
            if case .message = event { sawNew = true }
            if case .other(let frame) = event, frame.type == .linkOpened { sawNew = true }
        }
        #expect(!sawNew)
        old.close()
        // The hub notices the closed connection on its next loop pass; retry until it has.
        var reattached: GuestClient? = nil
        for _ in 0..<100 where reattached == nil {
            reattached = try? attach(hub, "mgmt", aware: false)
            if reattached == nil { usleep(20_000) }
        }
        let again = try #require(reattached)
        #expect(again.welcome.links.contains { $0.id == 6 && $0.name == "one" && $0.peer == "linux" })
        let delivered = try next(again) { if case .message(let delivery) = $0 { delivery } else { nil } }
        #expect(delivered?.link == 6 && delivered.map { Array($0.payload) } == [9])
        #expect(hub.stop() == 0)
    }

    @Test func controlOpensAndClosesLinks() throws {
        let hub = try Self.hub()
        let rtos = try attach(hub, "rtos")
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let opened = try control.call(
            "link.open", ["name": "probe", "a": "rtos", "b": "mgmt", "depth": 4, "maxMessageBytes": 64, "as": "tester"])
        #expect(opened["result"]?["created"] == true && opened["result"]?["runtime"] == true)
        let told = try next(rtos) { if case .linkOpened(let link) = $0 { link } else { nil } }
        // rtos may not message mgmt: it is told of the link without credit, and can receive.
        #expect(told?.link.name == "probe" && told?.link.initialCredit == 0 && told?.openedBy == "injector:tester")
        let sent = try control.call("msg.send", ["link": "probe", "to": "rtos", "text": "hi", "as": "tester"])
        #expect(sent["result"]?["messageId"] == 1)
        let message = try next(rtos) { if case .message(let delivery) = $0 { delivery } else { nil } }
        #expect(message?.sender == "injector:tester")
        let list = try control.call("link.list")
        #expect(list["result"]?["runtime"]?["count"] == 1)
        let closing = try control.call("link.close", ["name": "probe", "as": "tester"])
        #expect(closing["result"]?["state"] == "closing" && closing["result"]?["held"] == 1)
        #expect(try control.call("link.close", ["name": "rtos-linux", "as": "tester"])["error"] != nil)
        try rtos.ack(link: told?.link.id ?? 0, upTo: message?.messageId ?? 0)
        #expect(try next(rtos) { if case .linkClosed(_, .closed, _) = $0 { true } else { nil } } == true)
        #expect(hub.stop() == 0)
    }
}
