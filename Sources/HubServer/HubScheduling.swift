import HubSystem
import JSON

/// How the hub's loop thread is scheduled (`hub.realTimePriority`), as applied when the loop started.
struct HubScheduling {
    /// The configured priority (0: normal scheduling asked for).
    var requested = 0
    /// Whether `SCHED_FIFO` at `requested` is in effect.
    var applied = false
    /// Why it is not, when it was asked for.
    var refusal: String?

    /// Puts the calling thread (the loop's) at `SCHED_FIFO` `priority`; 0 leaves it alone.
    static func apply(priority: Int) -> HubScheduling {
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

    var json: JSON {
        var object: JSONObject = [
            "policy": .string(applied ? "SCHED_FIFO" : "SCHED_OTHER"), "realTimePriority": .int(Int64(requested)),
        ]
        if applied { object["priority"] = .int(Int64(requested)) }
        if let refusal { object["notApplied"] = .string(refusal) }
        return .object(object)
    }
}
