import HubSystem
import JSON

/// How the hub's loop thread is scheduled (`hub.realTimePriority`): as applied when the loop started, and whether the
/// real-time budget holds it at normal scheduling now.
package struct HubScheduling {
    /// The configured priority (0: normal scheduling asked for).
    package var requested = 0
    /// Whether `SCHED_FIFO` at `requested` is in effect.
    package var applied = false
    /// Why it is not, when it was asked for.
    package var refusal: String?
    /// While `SCHED_FIFO` is in effect and `hub.limits.realTimeBudgetPercent` is under 100: what moves the thread
    /// to normal scheduling while it saturates a CPU, and back.
    package var budget: RealTimeBudget?

    package init(requested: Int = 0) { self.requested = requested }

    /// Puts the calling thread (the loop's) at `SCHED_FIFO` `priority`; 0 leaves it alone.
    package static func apply(priority: Int) -> HubScheduling {
        var result = HubScheduling(requested: priority)
        guard priority > 0 else { return result }
        // 0 names the calling thread: only the loop thread is raised, not helper threads. Guests the supervisor
        // (re)starts are forked from this thread and would inherit the hub's priority, above the real-time
        // partitions: with reset-on-fork they start at normal scheduling and get their own class's policy.
        do {
            try Scheduling.setRealTime(pid: 0, priority: Int32(priority), resetOnFork: true)
            result.applied = true
        } catch {
            result.refusal =
                error.code == SystemError.permissionDenied
                ? "EPERM: SCHED_FIFO needs CAP_SYS_NICE (or an RLIMIT_RTPRIO of at least \(priority))"
                : "errno \(error.code)"
        }
        return result
    }

    /// Whether the thread runs at `SCHED_FIFO` now.
    package var isRealTime: Bool { applied && budget?.demoted != true }

    package var json: JSON {
        var object: JSONObject = [
            "policy": .string(isRealTime ? "SCHED_FIFO" : "SCHED_OTHER"), "realTimePriority": .int(Int64(requested)),
        ]
        if isRealTime { object["priority"] = .int(Int64(requested)) }
        if let refusal { object["notApplied"] = .string(refusal) }
        if let budget {
            object["budget"] = [
                "percent": .int(Int64(budget.percent)), "windowMs": .int(Int64(budget.windowNanos / 1_000_000)),
                "demoted": .bool(budget.demoted), "demotions": .uint(budget.demotions),
                "refusals": .uint(budget.refusals),
            ]
        }
        return .object(object)
    }
}
