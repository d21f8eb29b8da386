import Hypervisor
import PlatformConfig
import TestSupport
import Testing

/// Idempotent sends in the model (`Protocols/guest.md` §7.10): no sockets, a sender killed at arbitrary points.
@Suite struct SenderSequenceTests {
    private func payload(_ number: UInt64) -> [UInt8] { withUnsafeBytes(of: number.bigEndian) { Array($0) } }

    /// 10,000 numbered messages; the sender is killed 200 times, each time with a random part of its in-flight
    /// batch never reaching the hub, and restarts alternately from the hub's record and from a stale own record.
    /// The receiver gets every message once, in order, and the hub counts the repeats it dropped.
    @Test func aSenderKilledTwoHundredTimesQueuesEveryMessageOnce() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        var rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        let link = try #require(rtos.links.first { $0.name == "rtos-linux" })
        let position = try #require(platform.linkIndex(forID: link.id))
        let generator = SeededRandomSource(seed: 7)
        var next: UInt64 = 1
        var staleRecord: UInt64 = 0
        var received: [UInt64] = []
        var actions: [Action] = []
        var kills = 0
        var rounds = 0
        while received.count < 10_000 && rounds < 100_000 {
            rounds += 1
            // One pipelined batch, of which only a prefix reaches the hub when the sender is killed now.
            let batch = UInt64(1 + generator.next() % 40)
            let killedNow = kills < 200 && generator.next() % 3 == 0
            let arriving = killedNow ? generator.next() % (batch + 1) : batch
            var sequence = next
            let end = min(next + (killedNow ? arriving : batch), 10_001)
            sending: while sequence < end {
                let outcome = platform.send(
                    from: rtos.session, linkAt: position, sequence: sequence, payload: payload(sequence)[...],
                    correlation: nil, actions: &actions)
                switch outcome {
                case .sent(.queued, let last):
                    #expect(last == sequence)
                    sequence += 1
                case .duplicate(let last):
                    #expect(last >= sequence)
                    sequence += 1
                case .sent(.queueFull, let last), .gap(let last):
                    sequence = last + 1
                    break sending
                default:
                    Issue.record("unexpected \(outcome)")
                    break sending
                }
            }
            next = sequence
            if killedNow {
                kills += 1
                _ = platform.detach(session: rtos.session, reason: .connectionLost, actions: &actions)
                rtos = fixture.attach("rtos")
                let hubRecord = try #require(platform.lastAcceptedSequence(session: rtos.session, linkID: link.id))
                #expect(hubRecord >= staleRecord)
                next = (kills % 2 == 0 ? hubRecord : staleRecord) + 1
                staleRecord = hubRecord
            }
            for delivered in fixture.drain() {
                guard let message = delivered.message else { continue }
                received.append(UInt64(bigEndianBytes: message.payload))
                _ = platform.acknowledge(
                    session: linux.session, link: "rtos-linux", upTo: message.messageID, actions: &actions)
            }
        }
        #expect(kills == 200)
        #expect(received == Array(1...10_000))
        let counters = try #require(platform.snapshot().link("rtos-linux")).aToB.counters
        #expect(counters.queued == 10_000 && counters.duplicateSends > 0)
    }

    @Test func refusalsDoNotAdvanceAndTheRecordOutlivesSessions() throws {
        var configuration = PlatformConfiguration.reference
        configuration.links[0].depth = 2
        let fixture = try Fixture(configuration)
        let platform = fixture.platform
        var rtos = fixture.attach("rtos")
        var actions: [Action] = []
        func send(_ sequence: UInt64) -> Platform.SequencedSendOutcome {
            platform.send(
                from: rtos.session, linkAt: 0, sequence: sequence, payload: [1], correlation: nil, actions: &actions)
        }
        #expect(send(1) == .sent(.queued(1), lastAccepted: 1))
        #expect(send(2) == .sent(.queued(2), lastAccepted: 2))
        #expect(send(3) == .sent(.queueFull, lastAccepted: 2), "a full queue leaves the sequence where it was")
        #expect(send(4) == .gap(lastAccepted: 2))
        #expect(send(2) == .duplicate(lastAccepted: 2))
        // A resumed session keeps the record (fresh attaches: the test above); the other direction has its own.
        _ = platform.detach(session: rtos.session, reason: .guestRequested, actions: &actions)
        rtos = fixture.attach("rtos", resumeToken: rtos.resumeToken)
        #expect(platform.lastAcceptedSequence(session: rtos.session, linkID: 0) == 2)
        let linux = fixture.attach("linux")
        #expect(platform.lastAcceptedSequence(session: linux.session, linkID: 0) == 0)
        #expect(platform.lastAcceptedSequence(session: linux.session, linkID: 9999) == nil)
        let counters = try #require(platform.snapshot().link("rtos-linux")).aToB.counters
        #expect(counters.duplicateSends == 1 && counters.sequenceGaps == 1 && counters.queued == 2)
    }
}

extension UInt64 {
    fileprivate init(bigEndianBytes bytes: [UInt8]) { self = bytes.reduce(0) { $0 << 8 | UInt64($1) } }
}
