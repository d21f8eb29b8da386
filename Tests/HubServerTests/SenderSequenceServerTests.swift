import Glibc
import GuestWire
import HubGuest
import JSON
import Testing

/// Idempotent sends (`Protocols/guest.md` §7.10–§7.11) through a real hub in this process.
@Suite struct SenderSequenceServerTests {
    private func attach(_ hub: HubHarness, _ partition: String, sequenced: Bool = true, resume: [UInt8]? = nil)
        throws -> GuestClient
    {
        try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: partition, secret: "\(partition)-dev-secret",
            resumeToken: resume, features: sequenced ? [GuestProtocol.sendSequenceFeature] : [])
    }

    private func linkID(_ client: GuestClient, _ name: String) throws -> UInt32 {
        try #require(client.welcome.links.first { $0.name == name }).id
    }

    /// Payloads delivered on `link`, acknowledging each, until `count` arrived or 5 s passed.
    private func receive(_ client: GuestClient, link: UInt32, count: Int) throws -> [String] {
        var payloads: [String] = []
        while payloads.count < count, let event = try client.nextEvent(timeout: 5) {
            guard case .message(let delivery) = event, delivery.link == link else { continue }
            payloads.append(String(decoding: delivery.payload, as: UTF8.self))
            try client.ack(link: link, upTo: delivery.messageId)
        }
        return payloads
    }

    @Test func repeatsAreAnsweredDuplicateAndQueuedOnceAcrossAKilledSender() throws {
        let hub = try HubHarness()
        var sender = try attach(hub, "rtos")
        let link = try linkID(sender, "rtos-linux")
        #expect(sender.sendSequences[link] == 0, "SEND_SEQUENCES follows WELCOME and lists every link")
        #expect(sender.sendSequences.count == sender.welcome.links.count)
        #expect(try sender.sendSequenced(link: link, sequence: 1, payload: Array("one".utf8)).status == .queued)
        // Pipelined, no answers wanted; then the sender vanishes without a goodbye.
        try sender.sendSequencedMessages(
            link: link, firstSequence: 2, payloads: [Array("two".utf8)[...], Array("three".utf8)[...]])
        try sender.heartbeat()  // answered after the hub handled both sends
        sender.close()

        // A fresh attach (no resume token) still knows where this end stands.
        sender = try attachRetrying(hub, "rtos")
        #expect(sender.sendSequences[link] == 3)
        // Sending everything again from its own stale record: duplicates, answered with the last accepted sequence.
        let again = try sender.sendSequenced(link: link, sequence: 2, payload: Array("two".utf8))
        #expect(again == SendOutcome(status: .duplicate, messageId: 3))
        #expect(try sender.sendSequenced(link: link, sequence: 4, payload: Array("four".utf8)).status == .queued)

        let receiver = try attach(hub, "linux", sequenced: false)
        #expect(try receive(receiver, link: link, count: 4) == ["one", "two", "three", "four"])
        #expect(try receiver.nextEvent(timeout: 0.2).flatMap { if case .message = $0 { $0 } else { nil } } == nil)

        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let counters = try control.call("link.get", ["name": "rtos-linux"])["result"]?["counters"]
        #expect(counters?["sent"] == 4 && counters?["duplicateSends"] == 1)
        #expect(hub.stop() == 0)
    }

    @Test func aGapIsRefusedWithTheLastAcceptedSequenceAndNothingIsQueued() throws {
        let hub = try HubHarness()
        let sender = try attach(hub, "rtos")
        let link = try linkID(sender, "rtos-linux")
        #expect(try sender.sendSequenced(link: link, sequence: 1, payload: [1]).status == .queued)
        #expect(
            try sender.sendSequenced(link: link, sequence: 3, payload: [3])
                == SendOutcome(status: .sequenceGap, messageId: 1))
        // Pipelined (request id 0): a gap is still answered, carrying where to go back to.
        try sender.sendSequencedMessages(link: link, firstSequence: 5, payloads: [[5]])
        var answer: GuestFrame?
        while answer == nil, let frame = try sender.receive(timeout: 5) {
            if case .msgSent = frame.message { answer = frame }
        }
        #expect(answer?.message == .msgSent(link: link, messageId: 1, status: .sequenceGap))
        // The largest sequence is a gap too (no overflow), and sequence 0 is malformed; the session goes on.
        #expect(
            try sender.sendSequenced(link: link, sequence: .max, payload: [9])
                == SendOutcome(status: .sequenceGap, messageId: 1))
        // The encoder writes what it is given; the hub's decoder must refuse it.
        try sender.sendFrame(
            GuestFrame(.msgSendSequenced(link: link, sequence: 0, correlation: 0, payload: [0]), requestId: 77))
        var error: GuestFrame?
        while error == nil, let frame = try sender.receive(timeout: 5) {
            if case .error = frame.message { error = frame }
        }
        #expect(error?.requestId == 77)
        if case .error(let code, _)? = error?.message { #expect(code == .malformedFrame) }
        #expect(try sender.sendSequenced(link: link, sequence: 2, payload: [2]).status == .queued)

        let receiver = try attach(hub, "linux", sequenced: false)
        #expect(try receive(receiver, link: link, count: 2) == ["\u{1}", "\u{2}"])
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let counters = try control.call("link.get", ["name": "rtos-linux"])["result"]?["counters"]
        #expect(counters?["sent"] == 2 && counters?["sequenceGaps"] == 3)
        #expect(hub.stop() == 0)
    }

    @Test func aRefusedSendDoesNotAdvanceTheSequence() throws {
        let hub = try HubHarness()
        let sender = try attach(hub, "rtos")
        let link = try linkID(sender, "rtos-linux")
        let tooLarge = [UInt8](
            repeating: 0, count: Int(try #require(sender.welcome.links.first { $0.id == link }).maxMessage) + 1)
        #expect(
            try sender.sendSequenced(link: link, sequence: 1, payload: tooLarge)
                == SendOutcome(status: .tooLarge, messageId: 0))
        #expect(try sender.sendSequenced(link: link, sequence: 1, payload: [1]).status == .queued)
        #expect(hub.stop() == 0)
    }

    @Test func aSessionWithoutTheFeatureGetsUnknownFrameTypeAndNoSequences() throws {
        let hub = try HubHarness()
        let sender = try attach(hub, "rtos", sequenced: false)
        #expect(sender.sendSequences.isEmpty)
        let link = try linkID(sender, "rtos-linux")
        do {
            _ = try sender.sendSequenced(link: link, sequence: 1, payload: [1])
            Issue.record("MSG_SEND_SEQ accepted without the feature")
        } catch GuestClientError.rejected(let code, _) {
            #expect(code == .unknownFrameType)
        }
        // Plain sends still work and the session goes on.
        #expect(try sender.send(link: link, payload: [1]).status == .queued)
        #expect(hub.stop() == 0)
    }

    @Test func duplicatesGiveTheirCreditBack() throws {
        let hub = try HubHarness { $0.links[0].depth = 4 }
        let sender = try attach(hub, "rtos")
        let link = try linkID(sender, "rtos-linux")
        let initial = try #require(sender.welcome.links.first { $0.id == link }).initialCredit
        #expect(initial == 4)
        #expect(try sender.sendSequenced(link: link, sequence: 1, payload: [1]).status == .queued)
        // Ten repeats, far more than the credit: each uses one credit and gets it back at once.
        for _ in 0..<10 { try sender.sendSequencedMessages(link: link, firstSequence: 1, payloads: [[1]]) }
        try sender.heartbeat()
        var returned: UInt32 = 0
        while let event = try sender.nextEvent(timeout: 0.2) {
            if case .credit(link, let credit) = event { returned += credit }
        }
        #expect(returned == 10)
        #expect(try sender.sendSequenced(link: link, sequence: 2, payload: [2]).status == .queued)
        #expect(hub.stop() == 0)
    }

    @Test func reopeningAnExistingRuntimeLinkReportsItsSequence() throws {
        let hub = try HubHarness { configuration in
            let linux = configuration.partitions.firstIndex { $0.name == "linux" }!
            configuration.partitions[linux].mayOpenLinks = true
        }
        let features = [GuestProtocol.runtimeLinksFeature, GuestProtocol.sendSequenceFeature]
        var linux = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "linux", secret: "linux-dev-secret", features: features)
        let opened = try linux.openLink(name: "keys", peer: "rtos", maxMessage: 64, depth: 8)
        #expect(!opened.existing && linux.sendSequences[opened.link.id] == nil, "a new link starts at 0, unreported")
        for sequence in 1...3 {
            #expect(
                try linux.sendSequenced(link: opened.link.id, sequence: UInt64(sequence), payload: [1]).status
                    == .queued)
        }
        try linux.detach()
        linux = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "linux", secret: "linux-dev-secret", features: features)
        #expect(linux.sendSequences[opened.link.id] == 3, "SEND_SEQUENCES after WELCOME lists runtime links too")
        let again = try linux.openLink(name: "keys", peer: "rtos", maxMessage: 64, depth: 8)
        #expect(again.existing)
        // LINK_OPENED for an existing link is followed by SEND_SEQUENCES for it alone.
        var reported: [GuestSendSequence]?
        while reported == nil, let frame = try linux.receive(timeout: 5) {
            if case .sendSequences(let entries) = frame.message { reported = entries }
        }
        #expect(reported == [GuestSendSequence(link: opened.link.id, lastAccepted: 3)])
        #expect(hub.stop() == 0)
    }

    /// A killed guest's connection is seen closed by the hub a moment later: attach again until it is.
    private func attachRetrying(_ hub: HubHarness, _ partition: String) throws -> GuestClient {
        for _ in 0..<200 {
            do {
                return try attach(hub, partition)
            } catch GuestClientError.rejected(code: .alreadyAttached, _) {
                usleep(10_000)
            }
        }
        return try attach(hub, partition)
    }
}
