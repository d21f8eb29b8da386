/// Keeps the hub's real-time priority (`hub.realTimePriority`) from turning a load that saturates its loop into
/// starvation of the normal-priority processes on its CPU (`Deploy/config-reference.md`, "Real-time budget").
///
/// At `SCHED_FIFO` a loop that never runs dry (a flooding Ethernet peer keeps it switching) holds its CPU until the
/// kernel's own throttling (95% of every second by default). A normal-priority process woken on that CPU — a guest,
/// the peer waiting for its frames — then waits until the scheduler moves it elsewhere or throttling starts: tens of
/// milliseconds. So what the loop thread wanted of a CPU — the time it ran plus the time it waited runnable — is
/// sampled once per window, at the end of a pass: a window in which it wanted at least `percent` of a CPU puts it at
/// normal scheduling, where the kernel shares the CPU with everyone else; a later window in which it wanted less than
/// half of the budget gives it `SCHED_FIFO` back. Demand, not CPU time: at normal priority a saturated loop may be
/// granted little of a contended CPU, and judged on what it got it would be restored, saturate the CPU again at
/// `SCHED_FIFO` and be demoted again, every other window. The gap between the thresholds does the rest.
///
/// The clocks and the policy switch are parameters, so the decisions can be tested without privileges.
package final class RealTimeBudget {
    /// The share of one CPU (1...99 percent) a window may use at `SCHED_FIFO`.
    package let percent: Int
    package let windowNanos: UInt64
    /// Whether the thread runs at normal scheduling because a window reached the budget.
    package private(set) var demoted = false
    /// Times the budget put the thread at normal scheduling.
    package private(set) var demotions: UInt64 = 0
    /// Times a policy change was refused (the privilege withdrawn meanwhile); the thread keeps its policy.
    package private(set) var refusals: UInt64 = 0
    /// What a window's end changed.
    package enum Change {
        /// The thread now runs at normal scheduling.
        case demoted
        /// The thread runs at `SCHED_FIFO` again.
        case restored
        /// The kernel refused the change (counted in `refusals`); the thread keeps its policy.
        case refused
    }
    /// Called after every change.
    package var onChange: ((Change) -> Void)?
    private var windowStart: UInt64
    /// Nil after a sample could not be read: the next window starts from the next one that can.
    private var windowStartDemand: UInt64?
    private let threadDemandNanos: () -> UInt64?
    private let setNormal: () -> Bool
    private let setRealTime: () -> Bool

    /// `now` is the loop clock (`MonotonicClock` nanoseconds) at start; `threadDemandNanos` reads what the loop
    /// thread has wanted of a CPU so far (ran plus waited runnable, `Scheduling.threadCPUDemandNanoseconds`), nil
    /// when it cannot; `setNormal` and `setRealTime` change its policy and say whether the kernel agreed.
    package init(
        percent: Int, windowMilliseconds: Int, now: UInt64, threadDemandNanos: @escaping () -> UInt64?,
        setNormal: @escaping () -> Bool, setRealTime: @escaping () -> Bool
    ) {
        self.percent = percent
        windowNanos = UInt64(max(windowMilliseconds, 1)) * 1_000_000
        windowStart = now
        self.threadDemandNanos = threadDemandNanos
        windowStartDemand = threadDemandNanos()
        self.setNormal = setNormal
        self.setRealTime = setRealTime
    }

    /// The end of a loop pass at `now`: closes the window when it is over (one comparison otherwise).
    @inline(__always)
    package func passEnded(now: UInt64) {
        if now &- windowStart >= windowNanos { endWindow(now: now) }
    }

    private func endWindow(now: UInt64) {
        let demand = threadDemandNanos()
        defer {
            windowStart = now
            windowStartDemand = demand
        }
        // A sample that cannot be read, or a window without a start, decides nothing (rather than reading as idle).
        guard let demand, let start = windowStartDemand else { return }
        let elapsed = max(now &- windowStart, 1)
        let wanted = demand > start ? demand - start : 0
        // Percent of one CPU; `wanted` is at most about `elapsed` (one thread), so `wanted * 100` cannot overflow
        // before `elapsed` reaches about 5 years.
        let share = wanted >= UInt64.max / 100 ? 100 : Int(min(wanted * 100 / elapsed, 100))
        if !demoted, share >= percent {
            guard setNormal() else { return refused() }
            demoted = true
            demotions += 1
            onChange?(.demoted)
        } else if demoted, share * 2 < percent {
            guard setRealTime() else { return refused() }
            demoted = false
            onChange?(.restored)
        }
    }

    private func refused() {
        refusals += 1
        onChange?(.refused)
    }
}
