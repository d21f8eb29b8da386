import Glibc
import GuestWire
import HubGuest
import JSON
import PlatformConfig
import Testing

/// Identities and rate budgets (`Protocols/guest.md` §7.12) through a real hub in this process: the glue between
/// the codec's frames and the model's budgets and stored identities.
@Suite struct IdentityServerTests {
    private func attach(_ hub: HubHarness, _ partition: String, _ features: [String]) throws -> GuestClient {
        try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: partition, secret: "\(partition)-dev-secret",
            features: features)
    }

    private func linkID(_ client: GuestClient, _ name: String) throws -> UInt32 {
        try #require(client.welcome.links.first { $0.name == name }).id
    }

    /// The next message event on `client`, acknowledged.
    private func nextMessage(_ client: GuestClient) throws -> GuestEvent? {
        while let event = try client.nextEvent(timeout: 5) {
            switch event {
            case .message(let delivery), .identifiedMessage(let delivery, _):
                try client.ack(link: delivery.link, upTo: delivery.messageId)
                return event
            default: continue
            }
        }
        return nil
    }

    @Test func anIdentityIsStampedForReceiversThatAskAndLeftOutForOthers() throws {
        let hub = try HubHarness()
        let sender = try attach(hub, "rtos", [GuestProtocol.identityFeature])
        #expect(sender.hubOffersIdentity)
        let link = try linkID(sender, "rtos-linux")
        #expect(try sender.send(link: link, as: "user:alice", payload: Array("one".utf8)).status == .queued)
        #expect(try sender.send(link: link, payload: Array("two".utf8)).status == .queued)

        // A receiver with the feature gets the identity beside the stamped sender; a plain send stays plain.
        var receiver = try attach(hub, "linux", [GuestProtocol.identityFeature])
        guard case .identifiedMessage(let first, let identity) = try nextMessage(receiver) else {
            Issue.record("no MSG_DELIVER_AS")
            return
        }
        #expect(identity == "user:alice" && first.sender == "rtos" && Array(first.payload) == Array("one".utf8))
        guard case .message(let second) = try nextMessage(receiver) else {
            Issue.record("no MSG_DELIVER")
            return
        }
        #expect(Array(second.payload) == Array("two".utf8))
        receiver.close()

        // A receiver without the feature gets identity-stamped messages as plain MSG_DELIVER.
        #expect(try sender.send(link: link, as: "app.mail+1", payload: Array("three".utf8)).status == .queued)
        receiver = try attachRetrying(hub, "linux", features: [])
        guard case .message(let third) = try nextMessage(receiver) else {
            Issue.record("no MSG_DELIVER for a receiver without the feature")
            return
        }
        #expect(third.sender == "rtos" && Array(third.payload) == Array("three".utf8))

        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let counters = try control.call("link.get", ["name": "rtos-linux"])["result"]?["counters"]
        #expect(counters?["identitySends"] == 2 && counters?["sent"] == 3)
        #expect(hub.stop() == 0)
    }

    @Test func msgSendAsNeedsTheFeature() throws {
        let hub = try HubHarness()
        let plain = try attach(hub, "rtos", [])
        let link = try linkID(plain, "rtos-linux")
        do {
            _ = try plain.request(.msgSendAs(link: link, correlation: 0, identity: "u", payload: [1]))
            Issue.record("MSG_SEND_AS without the feature was accepted")
        } catch GuestClientError.rejected(code: .unknownFrameType, _) {
        }
        // The session goes on, and nothing was queued.
        #expect(try plain.send(link: link, payload: [2]) == SendOutcome(status: .queued, messageId: 1))
        plain.close()
        let client = try attachRetrying(hub, "rtos", features: [GuestProtocol.identityFeature])
        // The client refuses an identity the protocol cannot carry before anything is sent.
        #expect(throws: GuestClientError.self) { _ = try client.send(link: link, as: "bob smith", payload: [1]) }
        #expect(try client.send(link: link, as: "bob", payload: [3]) == SendOutcome(status: .queued, messageId: 2))
        #expect(hub.stop() == 0)
    }

    private func attachRetrying(_ hub: HubHarness, _ partition: String, features: [String]) throws -> GuestClient {
        for _ in 0..<200 {
            do {
                return try attach(hub, partition, features)
            } catch GuestClientError.rejected(code: .alreadyAttached, _) {
                usleep(10_000)
            }
        }
        return try attach(hub, partition, features)
    }

    @Test func sendsOverTheBudgetAreRateLimitedOrQueueFullByFeatureAndCounted() throws {
        let hub = try HubHarness { configuration in
            let index = configuration.links.firstIndex { $0.name == "rtos-linux" }!
            // A budget that refills too slowly to matter during the test: one message per ~3 hours.
            configuration.links[index].rateLimit = LinkRateLimit(bytesPerSecond: 1, burstBytes: 4096)
        }
        let withFeature = try attach(hub, "rtos", [GuestProtocol.rateLimitFeature])
        let link = try linkID(withFeature, "rtos-linux")
        #expect(try withFeature.send(link: link, payload: [UInt8](repeating: 1, count: 4000)).status == .queued)
        #expect(
            try withFeature.send(link: link, payload: [UInt8](repeating: 1, count: 200))
                == SendOutcome(
                    status: .rateLimited, messageId: 0))
        withFeature.close()
        // Without the feature the same refusal reads queue_full (not queued, no credit used, try later).
        let without = try attachRetrying(hub, "rtos", features: [])
        #expect(try without.send(link: link, payload: [UInt8](repeating: 1, count: 200)).status == .queueFull)
        #expect(try without.send(link: link, payload: [UInt8](repeating: 1, count: 96)).status == .queued)

        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let result = try control.call("link.get", ["name": "rtos-linux"])["result"]
        #expect(result?["counters"]?["rateLimited"] == 2 && result?["counters"]?["bytesRateLimited"] == 400)
        #expect(result?["counters"]?["sent"] == 2)
        #expect(result?["queues"]?[0]?["rateLimit"]?["bytesPerSecond"] == 1)
        #expect(result?["queues"]?[0]?["rateLimit"]?["burstBytes"] == 4096)
        let partition = try control.call("partition.get", ["name": "rtos"])["result"]?["counters"]
        #expect(partition?["msgRateLimited"] == 2)
        let limits = try control.call("hub.limits", [:])["result"]
        #expect(limits?["limits"]?["linkMessagesPerSecond"]?["value"] == 0)
        #expect(limits?["limits"]?["linkBytesPerSecond"]?["max"] == .int(1 << 34))
        #expect(hub.stop() == 0)
    }
}
