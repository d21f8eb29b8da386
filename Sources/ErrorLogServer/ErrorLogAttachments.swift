import DeviceKit
import ErrorLog
import EventLoop
import GuestWire
import JSON

/// How entries reach the error logs (`Protocols/errorlog.md` §2): a guest's `ERROR_REPORT` (the session hands
/// it over; `Protocols/guest.md` §9.5) and the hub's own faults, read from the events the hub publishes, so
/// the supervisor, the software slots and the management plane need no hook of their own.
extension ErrorLogDevice {
    /// What the session answers a report with.
    package enum ReportOutcome: Equatable {
        case recorded(sequence: UInt64)
        /// More than `errorLogReportsPerSecond`: `ERROR` `rate_limited`.
        case rateLimited
        /// Not a partition the hub keeps a log for: `ERROR` `internal_error`.
        case unknownPartition
    }

    /// One `ERROR_REPORT` from `partition`'s guest, within its rate (a token bucket of
    /// `errorLogReportsPerSecond`, as large a burst).
    package func guestReport(
        partition: String, severity: GuestErrorSeverity, code: String, text: String,
        nowNanos: UInt64 = MonotonicClock.nanoseconds()
    ) -> ReportOutcome {
        guard ensureLog(partition) else { return .unknownPartition }
        let rate = Double(reportsPerSecond)
        var bucket = buckets[partition] ?? (tokens: rate, at: nowNanos)
        let elapsed = Double(nowNanos &- bucket.at) / 1e9
        bucket = (tokens: min(rate, bucket.tokens + max(0, elapsed) * rate), at: nowNanos)
        guard bucket.tokens >= 1 else {
            buckets[partition] = bucket
            counters.reportsRateLimited += 1
            return .rateLimited
        }
        bucket.tokens -= 1
        buckets[partition] = bucket
        let entry = record(
            partition, source: .guest, severity: ErrorLogSeverity(rawValue: severity.rawValue) ?? .error, code: code,
            text: text)
        return entry.map { .recorded(sequence: $0.sequence) } ?? .unknownPartition
    }

    /// A report refused because the session did not negotiate `error-log` (counted; the session answers
    /// `unknown_frame_type`).
    package func reportWithoutFeature() { counters.reportsWithoutFeature += 1 }

    /// The event kinds `observe` turns into entries; the hub hands over only these. Asked of every event published:
    /// the lengths (15, 18, 19, 12) are compared first, which costs nothing, where comparing the text is a call,
    /// and the commonest kinds (`irq.raised`, `irq.latched`, `msg.*`) match none of them.
    package static func records(_ kind: String) -> Bool {
        switch kind.utf8.count {
        case 15: return kind == "partition.state"
        case 18: return kind == "partition.detached"
        case 19: return kind == "software.rolledBack"
        case 12: return kind == "mgmt.refused"
        default: return false
        }
    }

    /// Turns one of the hub's events into an entry of the partition it concerns (`Protocols/errorlog.md` §2.2):
    /// a crash or a failed partition (supervisor), a session closed for missed heartbeats (watchdog), a
    /// software rollback with its reason, a refused management command with its refusal code.
    package func observe(kind: String, partition: String?, data: JSON) {
        if let partition, kind != "mgmt.refused" { _ = ensureLog(partition) }
        switch kind {
        case "partition.state":
            guard let partition, let to = data["to"]?.stringValue, to == "crashed" || to == "failed" else { return }
            let reason = data["reason"]?.stringValue ?? ""
            record(partition, source: .hub, severity: to == "failed" ? .critical : .error, code: to, text: reason)
        case "partition.detached":
            guard let partition, data["reason"]?.stringValue == "heartbeat-missed" else { return }
            record(
                partition, source: .hub, severity: .error, code: "heartbeat_missed",
                text: "the session sent nothing for three heartbeat periods (Protocols/guest.md §9.1)")
        case "software.rolledBack":
            guard let partition else { return }
            let how = data["automatic"]?.boolValue == true ? "automatic" : "requested"
            let text =
                "\(how) rollback from slot \(data["from"]?.stringValue ?? "?") to slot \(data["to"]?.stringValue ?? "?"): "
                + (data["reason"]?.stringValue ?? "")
            record(partition, source: .hub, severity: .error, code: "rolled_back", text: text)
        case "mgmt.refused":
            observeRefusal(data)
        default:
            return
        }
    }

    /// A refused management command goes to the log of the partition it targets, else of the partition that
    /// relayed it (`guest:NAME`); the refusal code leads the text.
    private func observeRefusal(_ data: JSON) {
        let target = data["target"]?.stringValue ?? ""
        let source = data["source"]?.stringValue ?? ""
        let relayer = source.hasPrefix("guest:") ? String(source.dropFirst(6)) : ""
        guard let partition = [target, relayer].first(where: { logs[$0] != nil }) else {
            counters.unattributed += 1
            return
        }
        let operation = data["operation"]?.stringValue ?? ""
        let text =
            "\(data["result"]?.stringValue ?? "?"): \(operation.isEmpty ? "command" : operation) \(target)"
            + " by \(data["authority"]?.stringValue ?? "") from \(source): \(data["detail"]?.stringValue ?? "")"
        record(partition, source: .hub, severity: .warning, code: "command_refused", text: text)
    }
}
