import Hypervisor
import PlatformConfig
import TestSupport
import Testing

@Suite struct MessagingTests {
    private func payload(_ id: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt32(id).bigEndian) { Array($0) }
    }

    /// Messaging's guarantees (`Protocols/guest.md` §7), at the model level: 10,000 messages, the receiver lost in the
    /// middle (as after SIGKILL) and resumed; every message arrives exactly once, in order.
    @Test func tenThousandMessagesSurviveADetachAndResume() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        var linux = fixture.attach("linux")
        let total = 10_000
        var credit = rtos.links.first { $0.name == "rtos-linux" }!.sendCredit
        var sent = 0
        var processed: [UInt64] = []  // what the guest processed, after deduplication by id
        var lastProcessed: UInt64 = 0  // the guest keeps this durable across its restart
        var seenThisAttach = Set<UInt64>()
        var lastIDThisAttach: UInt64 = 0
        var killed = false
        var actions: [Action] = []

        var rounds = 0
        while processed.count < total {
            rounds += 1
            #expect(rounds < 10_000, "no progress")
            if rounds >= 10_000 { break }
            while credit > 0 && sent < total {
                let outcome = platform.send(
                    from: .session(rtos.session), link: "rtos-linux", payload: payload(sent + 1), actions: &actions)
                #expect(outcome == .queued(UInt64(sent + 1)))
                sent += 1
                credit -= 1
            }
            var pass: [Action] = []
            platform.drainDeliveries(budget: 100, into: &pass)
            var toAck: UInt64? = nil
            for action in fixture.expand(pass) {
                guard let message = action.message else { continue }
                #expect(message.session == linux.session)
                #expect(message.sender == .partition("rtos"))
                #expect(seenThisAttach.insert(message.messageID).inserted, "id delivered twice in one attach")
                #expect(message.messageID > lastIDThisAttach, "out of order")
                lastIDThisAttach = message.messageID
                #expect(message.payload == payload(Int(message.messageID)))
                if message.messageID > lastProcessed {
                    #expect(message.messageID == lastProcessed + 1)
                    processed.append(message.messageID)
                    lastProcessed = message.messageID
                }
                toAck = message.messageID
            }
            if !killed && processed.count >= total / 2 {
                // The guest dies having processed messages it never acknowledged.
                killed = true
                platform.detach(session: linux.session, reason: .connectionLost, actions: &actions)
                // While it is away the sender fills the queue up to its credit, no further.
                while credit > 0 && sent < total {
                    #expect(
                        platform.send(
                            from: .session(rtos.session), link: "rtos-linux", payload: payload(sent + 1),
                            actions: &actions) == .queued(UInt64(sent + 1)))
                    sent += 1
                    credit -= 1
                }
                #expect(
                    platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [0], actions: &actions)
                        == .queueFull)
                #expect(
                    actions.contains(
                        .event(.linkQueueFull(link: "rtos-linux", sender: .partition("rtos"), receiver: "linux"))))
                linux = fixture.attach("linux", resumeToken: linux.resumeToken)
                seenThisAttach.removeAll()
                lastIDThisAttach = 0
                continue
            }
            if let toAck {
                #expect(
                    platform.acknowledge(session: linux.session, link: "rtos-linux", upTo: toAck, actions: &actions)
                        != .beyondDelivered)
            }
            for action in actions {
                if case .grantCredit(let session, "rtos-linux", let granted) = action, session == rtos.session {
                    credit += granted
                }
            }
            actions.removeAll()
        }
        #expect(processed == (1...UInt64(total)).map { $0 })
        let snapshot = platform.snapshot()
        let direction = snapshot.link("rtos-linux")!.aToB
        #expect(direction.held == 0)
        #expect(direction.counters.queued == UInt64(total))
        #expect(direction.counters.acknowledged == UInt64(total))
        #expect(direction.counters.redelivered > 0)
        #expect(direction.counters.refusedFull == 1)
        #expect(snapshot.partition("linux")!.counters.messagesRedelivered == direction.counters.redelivered)
        #expect(
            snapshot.partition("linux")!.counters.messagesDelivered
                == UInt64(total) + direction.counters.redelivered)
    }

    @Test func queueFullRefusesAndAcksGrantCredit() throws {
        var configuration = PlatformConfiguration.reference
        configuration.links[0].depth = 4
        let fixture = try Fixture(configuration)
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        #expect(rtos.links[0].sendCredit == 4)
        var actions: [Action] = []
        for id in 1...4 {
            #expect(
                platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [1], actions: &actions)
                    == .queued(UInt64(id)))
        }
        #expect(
            platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [1], actions: &actions)
                == .queueFull)
        #expect(
            platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [1], actions: &actions)
                == .queueFull)
        // Reported once per episode.
        #expect(
            actions.filter {
                $0 == .event(.linkQueueFull(link: "rtos-linux", sender: .partition("rtos"), receiver: "linux"))
            }
            .count == 1)
        #expect(platform.snapshot().link("rtos-linux")?.aToB.counters.refusedFull == 2)

        let linux = fixture.attach("linux")
        let delivered = fixture.drain().compactMap(\.message)
        #expect(delivered.map(\.messageID) == [1, 2, 3, 4])
        actions.removeAll()
        #expect(
            platform.acknowledge(session: linux.session, link: "rtos-linux", upTo: 5, actions: &actions)
                == .beyondDelivered)
        #expect(
            platform.acknowledge(session: linux.session, link: "rtos-linux", upTo: 2, actions: &actions)
                == .acknowledged(freed: 2))
        #expect(actions == [.grantCredit(session: rtos.session, link: "rtos-linux", credit: 2)])
        #expect(
            platform.acknowledge(session: linux.session, link: "rtos-linux", upTo: 1, actions: &actions)
                == .acknowledged(freed: 0))
        #expect(
            platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [1], actions: &actions)
                == .queued(5))
    }

    @Test func receiveWindowHoldsMessagesInTheHub() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux", window: 3)
        #expect(linux.links.first { $0.name == "rtos-linux" }?.receiveWindow == 3)
        var actions: [Action] = []
        for _ in 0..<10 {
            _ = platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [7], actions: &actions)
        }
        #expect(fixture.drain().compactMap(\.message).map(\.messageID) == [1, 2, 3])
        #expect(fixture.drain().isEmpty)
        #expect(!platform.hasPendingDeliveries)
        _ = platform.acknowledge(session: linux.session, link: "rtos-linux", upTo: 2, actions: &actions)
        #expect(platform.hasPendingDeliveries)
        #expect(fixture.drain().compactMap(\.message).map(\.messageID) == [4, 5])
        #expect(
            platform.setReceiveWindow(session: linux.session, link: "rtos-linux", window: 100)
                == .acknowledged(freed: 0))
        #expect(fixture.drain().compactMap(\.message).map(\.messageID) == [6, 7, 8, 9, 10])
    }

    @Test func policySizeAndAddressingChecks() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        let mgmt = fixture.attach("mgmt")
        var actions: [Action] = []
        // rtos may not message mgmt, though a link joins them; mgmt may message rtos.
        #expect(
            platform.send(from: .session(rtos.session), link: "mgmt-rtos", payload: [1], actions: &actions)
                == .notPermitted)
        #expect(
            platform.send(from: .session(mgmt.session), link: "mgmt-rtos", payload: [1], actions: &actions)
                == .queued(1))
        // Not an end of the link.
        #expect(
            platform.send(from: .session(rtos.session), link: "mgmt-linux", payload: [1], actions: &actions)
                == .notPermitted)
        #expect(
            platform.send(from: .session(rtos.session), link: "nope", payload: [1], actions: &actions) == .noSuchLink)
        let big = [UInt8](repeating: 0, count: LinkConfig.defaultMaxMessageBytes + 1)
        #expect(
            platform.send(from: .session(rtos.session), link: "rtos-linux", payload: big, actions: &actions)
                == .tooLarge)
        #expect(
            platform.send(
                from: .session(rtos.session), link: "rtos-linux", payload: big.dropLast(), correlation: 77,
                actions: &actions) == .queued(1))
        #expect(platform.snapshot().partition("rtos")?.counters.sendsRefused == 4)

        // An injector names the receiving end and is stamped as itself.
        #expect(
            platform.send(from: .injector("t"), link: "rtos-linux", payload: [9], actions: &actions) == .notPermitted)
        #expect(
            platform.send(from: .injector("t"), link: "rtos-linux", to: "rtos", payload: [9], actions: &actions)
                == .queued(1))
        let delivered = fixture.drain().compactMap(\.message)
        // Round robin over rtos's links in configuration order: rtos-linux, then mgmt-rtos.
        #expect(delivered.map(\.sender) == [.injector("t"), .partition("mgmt")])
        #expect(delivered.allSatisfy { $0.session == rtos.session })

        let linux = fixture.attach("linux")
        let toLinux = fixture.drain().compactMap(\.message)
        #expect(toLinux.count == 1)
        #expect(toLinux.first?.correlation == 77)
        #expect(toLinux.first?.session == linux.session)
    }

    @Test func freshAttachAlsoGetsUnacknowledgedMessages() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        for _ in 0..<3 {
            _ = platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [1], actions: &actions)
        }
        #expect(fixture.drain().compactMap(\.message).map(\.redelivery) == [false, false, false])
        _ = platform.acknowledge(session: linux.session, link: "rtos-linux", upTo: 1, actions: &actions)
        platform.detach(session: linux.session, reason: .connectionLost, actions: &actions)
        fixture.attach("linux")
        let again = fixture.drain().compactMap(\.message)
        #expect(again.map(\.messageID) == [2, 3])
        #expect(again.map(\.redelivery) == [true, true])
    }
}
