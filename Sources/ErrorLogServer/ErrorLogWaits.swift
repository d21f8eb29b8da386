import ControlWire
import DeviceKit
import ErrorLog
import JSON

/// A pending `errors.wait` (`Protocols/control.md`, errors): answered with the first new entry of the
/// partition (any when none is named) at or above the severity; held in the family's `DeferredWaits` (at most
/// `controlMaxWaiters`; `-32005` at `timeoutMs`).
package struct ErrorLogWait {
    let partition: String?
    let minimumSeverity: ErrorLogSeverity
    let source: ErrorLogSource?

    func matches(partition name: String, _ entry: ErrorLogEntry) -> Bool {
        (partition == nil || partition == name) && entry.severity.rawValue >= minimumSeverity.rawValue
            && (source == nil || entry.source == source)
    }
}

extension ErrorLogDevice {
    /// `errors.wait {timeoutMs, partition?, severity?, source?}`: only entries recorded after the call count.
    func errorsWait(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["timeoutMs", "partition", "severity", "source"])
        let timeout = try params.requireInt("timeoutMs", in: 0...Int64(host?.limits.controlMaxWaitMs ?? 0))
        let partition = try params.optionalString("partition")
        if let partition, logs[partition] == nil { throw .notFound("partition", name: partition) }
        let severity = try params.optionalChoice("severity", of: ErrorLogSeverity.allCases.map(\.name))
        let source = try params.optionalChoice("source", of: ErrorLogSource.allCases.map(\.name))
        let wait = ErrorLogWait(
            partition: partition, minimumSeverity: severity.flatMap(ErrorLogSeverity.init(name:)) ?? .info,
            source: source.flatMap { name in ErrorLogSource.allCases.first { $0.name == name } })
        guard let waits else { throw .unavailable("the hub is shutting down") }
        return try waits.register(call, until: wait, timeoutMs: timeout)
    }

    /// Answers the waits a new entry of `partition` satisfies.
    func resolveWaits(partition: String, entry: ErrorLogEntry) {
        waits?.resolve { wait in
            wait.matches(partition: partition, entry) ? ["partition": .string(partition), "entry": entry.json] : nil
        }
    }
}
