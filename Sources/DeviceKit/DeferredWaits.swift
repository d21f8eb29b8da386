import ControlWire
import EventLoop
import JSON

/// A device family's pending `*.wait` calls (`events.wait`, `eth.wait`, `modem.wait`, `fb.wait`): the one
/// deferred-wait mechanism of the hub.
///
/// A wait is a control call answered later: by the first thing that satisfies its `Condition` (the device calls
/// `resolve` when something happens), or by `-32005 timeout` at its deadline. One rule bounds them
/// (`Protocols/control.md` §8): a family holds at most `limit` waits (`controlMaxWaiters`); one more is refused
/// with `-32004` naming `limitName`, with `reason`. A wait whose caller disconnects is forgotten at once, so it
/// no longer counts. One timer per family, armed for the earliest deadline, times waits out.
///
/// Everything runs on the loop thread. `close()` at the device's `stop`.
package final class DeferredWaits<Condition> {
    private struct Wait {
        let id: UInt64
        let call: ControlCall
        let condition: Condition
        /// Monotonic nanoseconds.
        let deadline: UInt64
        let timeoutMs: Int64
    }

    /// The most waits held at once.
    package let limit: Int
    /// The limit's name in refusals (`data.limit`) and the refusal's `data.reason`.
    package let limitName: String
    package let reason: String
    private let loop: Loop
    private var waits: [Wait] = [] {
        didSet {
            guard count != waits.count else { return }
            count = waits.count
            onCountChange?(count)
        }
    }
    /// Called whenever `count` changes, so a device can keep a flag its hot path reads without a call.
    package var onCountChange: ((Int) -> Void)?
    private var nextID: UInt64 = 1
    private var timer: Timer?
    private var armedDeadline: UInt64?
    private var closed = false

    package init(loop: Loop, limit: Int, limitName: String, reason: String) {
        self.loop = loop
        self.limit = limit
        self.limitName = limitName
        self.reason = reason
    }

    deinit { timer?.close() }

    /// Pending waits. Stored, so a device's hot path (a check per frame) reads it without a call.
    // SAFETY: unchecked exclusivity: written only in `waits`' observer, read by devices on the same loop
    // thread; no access to it overlaps another (a checked read cost a runtime call per frame).
    @exclusivity(unchecked) package private(set) var count = 0
    @inlinable package var isEmpty: Bool { count == 0 }
    /// The pending waits' conditions, oldest first.
    package var conditions: [Condition] { waits.map(\.condition) }

    /// The refusal for one wait too many.
    package var limitError: ControlError {
        ControlError.limitExceeded(limitName, value: Int64(limit), reason: reason)
    }

    /// Holds `call` until `condition` is met or `timeoutMs` passes; returns `.deferred` for the handler to
    /// return. Throws the limit error when `limit` waits are pending. A call whose caller is already gone is
    /// not held (nobody would read the answer).
    package func register(_ call: ControlCall, until condition: Condition, timeoutMs: Int64) throws(ControlError)
        -> ControlReply
    {
        guard waits.count < limit else { throw limitError }
        guard call.hasCaller, !closed else { return .deferred }
        let id = nextID
        nextID += 1
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, timeoutMs)) * 1_000_000
        waits.append(Wait(id: id, call: call, condition: condition, deadline: deadline, timeoutMs: timeoutMs))
        call.whenCallerCloses { [weak self] in self?.cancel(id) }
        armTimer()
        return .deferred
    }

    /// Answers, oldest first, every wait for which `answer` returns a result, and forgets them. Returns how many
    /// were answered.
    @discardableResult
    package func resolve(_ answer: (Condition) -> JSON?) -> Int {
        guard !waits.isEmpty else { return 0 }
        var answered: [(ControlCall, JSON)] = []
        waits.removeAll { wait in
            guard let result = answer(wait.condition) else { return false }
            answered.append((wait.call, result))
            return true
        }
        // Answered after the list is consistent: an answer may make the caller register a new wait.
        for (call, result) in answered { call.reply(.result(result)) }
        if !answered.isEmpty { armTimer() }
        return answered.count
    }

    /// Answers every pending wait with `reply` (the device is stopping) and forgets them.
    package func finishAll(_ reply: ControlReply) {
        let pending = waits
        waits.removeAll()
        for wait in pending { wait.call.reply(reply) }
        timer?.stop()
        armedDeadline = nil
    }

    /// Stops the timer for good; pending waits are dropped unanswered (use `finishAll` first to answer them).
    package func close() {
        closed = true
        waits.removeAll()
        timer?.close()
        timer = nil
    }

    private func cancel(_ id: UInt64) {
        waits.removeAll { $0.id == id }
        if waits.isEmpty {
            timer?.stop()
            armedDeadline = nil
        }
    }

    /// Times out every wait whose deadline passed, then re-arms for the next one.
    private func expire() {
        armedDeadline = nil
        let now = MonotonicClock.nanoseconds()
        var due: [Wait] = []
        waits.removeAll { wait in
            guard wait.deadline <= now else { return false }
            due.append(wait)
            return true
        }
        for wait in due { wait.call.reply(.error(.timeout(afterMs: wait.timeoutMs))) }
        armTimer()
    }

    private func armTimer() {
        guard !closed, let next = waits.lazy.map(\.deadline).min() else {
            timer?.stop()
            armedDeadline = nil
            return
        }
        if let armedDeadline, armedDeadline <= next, timer?.isActive == true { return }
        if timer == nil { timer = try? Timer(loop: loop) }
        let now = MonotonicClock.nanoseconds()
        let delay = next > now ? (next - now + 999_999) / 1_000_000 : 0
        armedDeadline = next
        timer?.start(afterMilliseconds: delay) { [weak self] in self?.expire() }
    }
}
