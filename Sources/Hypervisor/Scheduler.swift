/// A handle for one scheduled timer, issued by a `Scheduler`.
package struct TimerToken: Hashable, Sendable {
    package let rawValue: UInt64
    package init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// Where the model reads the time. The model never reads a system clock itself, so tests
/// drive time with a manual clock.
package protocol Clock: AnyObject {
    /// Monotonic time in nanoseconds.
    var now: UInt64 { get }
}

/// Arms and cancels timers for the model.
///
/// Contract: when a token's deadline has passed, the owner of the scheduler (the server's
/// loop adapter, or a test's manual clock) calls `Platform.timerFired(_:)` with that token,
/// at most once per `schedule` call. A cancelled token must not be reported; a stale token
/// that is reported anyway is ignored by the model.
package protocol Scheduler: Clock {
    func schedule(after nanoseconds: UInt64) -> TimerToken
    func cancel(_ token: TimerToken)
}
