import ControlWire
import DeviceKit
import JSON
import Management

/// A pending `mgmt.wait` (`Protocols/control.md` §17.4): answered with the first audit entry after `after`
/// whose result (and authority, when given) match; a `verified` write-ahead entry only when asked for by name,
/// so a wait for any result is answered by the command's outcome; held in the family's `DeferredWaits` (at most
/// `controlMaxWaiters`, `-32004 too_many_waits` beyond; `-32005` at `timeoutMs`).
package struct ManagementWait {
    /// Only entries with a larger sequence number.
    let after: UInt64
    /// `accepted`, a refusal code, `verified`, or nil for any outcome.
    let result: String?
    let authority: String?

    func matches(_ entry: AuditEntry) -> Bool {
        entry.sequence > after && (result.map { entry.result == $0 } ?? (entry.result != AuditEntry.verified))
            && (authority == nil || entry.authority == authority)
    }
}

extension ManagementDevice {
    /// `mgmt.wait {timeoutMs, result?, authority?, after?}`: an entry already in the log after `after` answers
    /// at once; otherwise the next one audited does. `after` defaults to the newest entry's number (only new
    /// entries count).
    func mgmtWait(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["timeoutMs", "result", "authority", "after"])
        let timeout = try params.requireInt("timeoutMs", in: 0...Int64(host?.limits.controlMaxWaitMs ?? 0))
        let wait = ManagementWait(
            after: try params.optionalInteger("after", in: UInt64(0)...UInt64(Int64.max)) ?? audit.nextSequence - 1,
            result: try params.optionalString("result"), authority: try params.optionalString("authority"))
        if let entry = audit.entries.first(where: wait.matches) { return .result(["entry": entry.json]) }
        guard let waits else { throw .unavailable("the hub is shutting down") }
        return try waits.register(call, until: wait, timeoutMs: timeout)
    }

    /// Answers the waits `entry` satisfies.
    func resolveWaits(_ entry: AuditEntry) {
        waits?.resolve { $0.matches(entry) ? ["entry": entry.json] : nil }
    }
}
