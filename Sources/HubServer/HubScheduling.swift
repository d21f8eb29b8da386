import Glibc
import JSON

/// How the hub's loop thread is scheduled (`hub.realTimePriority`), as applied when the loop started.
struct HubScheduling {
    /// The configured priority (0: normal scheduling asked for).
    var requested = 0
    /// Whether `SCHED_FIFO` at `requested` is in effect.
    var applied = false
    /// Why it is not, when it was asked for.
    var refusal: String?

    /// `SCHED_RESET_ON_FORK` (<sched.h>, Linux 2.6.32+; only under `_GNU_SOURCE`, so not imported).
    static let resetOnFork: Int32 = 0x4000_0000

    /// Puts the calling thread (the loop's) at `SCHED_FIFO` `priority`; 0 leaves it alone.
    static func apply(priority: Int) -> HubScheduling {
        var result = HubScheduling(requested: priority)
        guard priority > 0 else { return result }
        var parameters = sched_param(sched_priority: Int32(priority))
        // 0 names the calling thread: only the loop thread is raised, not helper threads. Guests the supervisor
        // (re)starts are forked from this thread and would inherit the hub's priority, above the real-time
        // partitions: with reset-on-fork they start at normal scheduling and get their own class's policy.
        if sched_setscheduler(0, SCHED_FIFO | HubScheduling.resetOnFork, &parameters) == 0 {
            result.applied = true
        } else {
            let code = errno
            result.refusal =
                code == EPERM
                ? "EPERM: SCHED_FIFO needs CAP_SYS_NICE (or an RLIMIT_RTPRIO of at least \(priority))"
                : "errno \(code)"
        }
        return result
    }

    var json: JSON {
        var object: JSONObject = [
            "policy": .string(applied ? "SCHED_FIFO" : "SCHED_OTHER"), "realTimePriority": .int(Int64(requested)),
        ]
        if applied { object["priority"] = .int(Int64(requested)) }
        if let refusal { object["notApplied"] = .string(refusal) }
        return .object(object)
    }
}
