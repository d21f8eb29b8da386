import ControlWire
import DeviceKit
import DeviceKitTesting
import EventLoop
import JSON
import Testing

/// The one deferred-wait mechanism (`Protocols/control.md` §8, `controlMaxWaiters` per family): answered on a
/// match, timed out at the deadline, refused over the limit, forgotten when the caller goes away.
@Suite struct DeferredWaitsTests {
    private func waits(limit: Int = 4) throws -> (Loop, DeferredWaits<String>) {
        let loop = try Loop()
        return (loop, DeferredWaits(loop: loop, limit: limit, limitName: "testWaits", reason: "too_many_waits"))
    }

    @Test func aMatchAnswersOnlyTheWaitsItSatisfiesInRegistrationOrder() throws {
        let (loop, waits) = try waits()
        let caller = FakeControlCaller()
        for name in ["a", "b", "a"] {
            #expect(try waits.register(caller.makeCall("x.wait"), until: name, timeoutMs: 10_000).isDeferred)
        }
        #expect(waits.resolve { $0 == "a" ? ["matched": .string($0)] : nil } == 2)
        let answers = caller.takeAnswers()
        #expect(answers.map(\.id) == [.int(1), .int(3)])
        #expect(answers.allSatisfy { $0.result?["matched"] == "a" })
        #expect(waits.count == 1 && waits.conditions == ["b"])
        waits.close()
        #expect(loop.shutdown() == 0)
    }

    /// Devices keep a flag their hot path reads from `onCountChange`: it reports every change of `count` (a
    /// registration, an answer, a timeout, a caller gone, closing) and nothing else.
    @Test func onCountChangeReportsEveryChangeOfCount() throws {
        let (loop, waits) = try waits()
        var reported: [Int] = []
        waits.onCountChange = { reported.append($0) }
        let caller = FakeControlCaller()
        _ = try waits.register(caller.makeCall("x.wait"), until: "a", timeoutMs: 60_000)
        _ = try waits.register(caller.makeCall("x.wait"), until: "b", timeoutMs: 0)
        #expect(waits.resolve { _ in nil } == 0)
        #expect(reported == [1, 2], "a resolve that answers nothing changes nothing")
        for _ in 0..<50 where waits.count == 2 { _ = loop.runOnce(wait: false) }
        #expect(reported == [1, 2, 1], "the timeout")
        waits.resolve { $0 == "a" ? [:] : nil }
        #expect(reported == [1, 2, 1, 0])
        #expect(reported.last == waits.count)
        waits.close()
        #expect(loop.shutdown() == 0)
    }

    @Test func aWaitTimesOutAtItsDeadlineWithTimeout() throws {
        let (loop, waits) = try waits()
        let caller = FakeControlCaller()
        _ = try waits.register(caller.makeCall("x.wait"), until: "never", timeoutMs: 0)
        _ = try waits.register(caller.makeCall("x.wait"), until: "later", timeoutMs: 60_000)
        for _ in 0..<50 where caller.answers.isEmpty { _ = loop.runOnce(wait: false) }
        let answers = caller.takeAnswers()
        #expect(answers.count == 1)
        #expect(answers.first?.error?.code == .timeout)
        #expect(answers.first?.error?.reason == "timeout")
        #expect(waits.conditions == ["later"], "the other wait is still pending")
        waits.close()
        #expect(loop.shutdown() == 0)
    }

    @Test func oneWaitOverTheLimitIsRefusedWithItsFamilysLimitNameAndReason() throws {
        let (loop, waits) = try waits(limit: 2)
        let caller = FakeControlCaller()
        _ = try waits.register(caller.makeCall("x.wait"), until: "a", timeoutMs: 1000)
        _ = try waits.register(caller.makeCall("x.wait"), until: "b", timeoutMs: 1000)
        #expect(throws: ControlError.limitExceeded("testWaits", value: 2, reason: "too_many_waits")) {
            try waits.register(caller.makeCall("x.wait"), until: "c", timeoutMs: 1000)
        }
        // An answered wait frees its place.
        waits.resolve { $0 == "a" ? [:] : nil }
        #expect(try waits.register(caller.makeCall("x.wait"), until: "c", timeoutMs: 1000).isDeferred)
        waits.close()
        #expect(loop.shutdown() == 0)
    }

    @Test func aCallerThatDisconnectsNoLongerHoldsAPlace() throws {
        let (loop, waits) = try waits(limit: 1)
        let leaving = FakeControlCaller()
        _ = try waits.register(leaving.makeCall("x.wait"), until: "a", timeoutMs: 60_000)
        leaving.disconnect()
        #expect(waits.isEmpty)
        let staying = FakeControlCaller()
        #expect(try waits.register(staying.makeCall("x.wait"), until: "a", timeoutMs: 60_000).isDeferred)
        waits.resolve { _ in [:] }
        #expect(leaving.answers.isEmpty && staying.answers.count == 1)
        waits.close()
        #expect(loop.shutdown() == 0)
    }

    @Test func finishAllAnswersEveryPendingWait() throws {
        let (loop, waits) = try waits()
        let caller = FakeControlCaller()
        _ = try waits.register(caller.makeCall("x.wait"), until: "a", timeoutMs: 60_000)
        _ = try waits.register(caller.makeCall("x.wait"), until: "b", timeoutMs: 60_000)
        waits.finishAll(.error(.unavailable("stopping")))
        #expect(caller.takeAnswers().map { $0.error?.code } == [.unavailable, .unavailable])
        #expect(waits.isEmpty)
        waits.close()
        #expect(loop.shutdown() == 0)
    }
}

extension ControlReply {
    var isDeferred: Bool { if case .deferred = self { true } else { false } }
}
