import EventLoop
import Hypervisor

/// The model's `Scheduler` on the hub's loop: each token is one libuv timer; when it fires the
/// hub hands the token back to the model (`Platform.timerFired`).
final class LoopScheduler: Scheduler {
    private let loop: Loop
    private var timers: [TimerToken: Timer] = [:]
    private var nextToken: UInt64 = 1
    /// Called on the loop when a token is due.
    var onFire: ((TimerToken) -> Void)?

    init(loop: Loop) { self.loop = loop }

    var now: UInt64 { MonotonicClock.nanoseconds() }

    func schedule(after nanoseconds: UInt64) -> TimerToken {
        let token = TimerToken(rawValue: nextToken)
        nextToken += 1
        guard let timer = try? Timer(loop: loop) else { return token }
        timers[token] = timer
        // libuv timers count whole milliseconds; round up so a timer never fires early.
        let milliseconds = nanoseconds / 1_000_000 + (nanoseconds % 1_000_000 == 0 ? 0 : 1)
        timer.start(afterMilliseconds: milliseconds) { [unowned self] in
            self.timers[token]?.close()
            self.timers[token] = nil
            self.onFire?(token)
        }
        return token
    }

    func cancel(_ token: TimerToken) {
        timers[token]?.close()
        timers[token] = nil
    }

    func closeAll() {
        for timer in timers.values { timer.close() }
        timers.removeAll()
    }

    var armedCount: Int { timers.count }
}
