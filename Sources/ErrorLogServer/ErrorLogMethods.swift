import ControlWire
import DeviceKit
import ErrorLog
import JSON

/// The `errors.*` control methods (`Protocols/control.md`, errors): the table the device registers, then one
/// named handler per method. Every number is range-checked before it is used.
extension ErrorLogDevice {
    var methods: [ControlMethod] {
        [
            ControlMethod("errors.read", summary: "A page of a partition's persistent error log") {
                [unowned self] call throws(ControlError) in try self.errorsRead(call)
            },
            ControlMethod("errors.reset", summary: "Empty a partition's error log") {
                [unowned self] call throws(ControlError) in try self.errorsReset(call)
            },
            ControlMethod("errors.status", summary: "Every partition's error-log size, drops and the counters") {
                [unowned self] call throws(ControlError) in try self.errorsStatus(call)
            },
            ControlMethod("errors.wait", summary: "Answer with the next error-log entry matching a filter") {
                [unowned self] call throws(ControlError) in try self.errorsWait(call)
            },
        ]
    }

    /// Sequence numbers and `since` stay within what JSON numbers carry exactly.
    static let maxSequence: UInt64 = (1 << 53) - 1
    static let maxPage = 1000

    func log(_ params: ControlParams) throws(ControlError) -> (String, PartitionErrorLog) {
        let partition = try params.requireString("partition")
        guard let log = logs[partition] else { throw .notFound("partition", name: partition) }
        return (partition, log)
    }

    /// `errors.read {partition, since?, limit?}`: up to `limit` (1...1000, default 100) entries with a sequence
    /// number of at least `since` (default 0: the oldest kept). `since` beyond `nextSequence` is refused
    /// (`invalid_params`): such a cursor was not handed out by this log. `next` is the following page's `since`.
    func errorsRead(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["partition", "since", "limit"])
        let (partition, log) = try log(params)
        let since = try params.optionalInteger("since", in: UInt64(0)...Self.maxSequence) ?? 0
        let limit = try params.optionalInteger("limit", in: 1...Self.maxPage) ?? 100
        guard since <= log.nextSequence else {
            throw .invalidParams(
                param: "since", expected: "0...\(log.nextSequence) (nextSequence)",
                detail: "since \(since) is beyond the log's next sequence number \(log.nextSequence)")
        }
        let page = log.page(since: since, limit: limit)
        return .result([
            "partition": .string(partition), "entries": .array(page.map(\.json)),
            "next": .uint((page.last?.sequence).map { $0 + 1 } ?? max(since, log.entries.first?.sequence ?? since)),
            "oldest": .uint(log.entries.first?.sequence ?? log.nextSequence), "nextSequence": .uint(log.nextSequence),
            "count": .int(Int64(log.count)), "dropped": .uint(log.dropped), "persistent": .bool(disk != nil),
        ])
    }

    /// `errors.reset {partition}`: empties the log and its file; `removed` is how many entries it held.
    func errorsReset(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["partition"])
        let (partition, _) = try log(params)
        let removed = reset(partition) ?? 0
        return .result(["partition": .string(partition), "removed": .int(Int64(removed))])
    }

    /// `errors.status {}`: each partition's count, bytes, drops and next sequence number; the counters.
    func errorsStatus(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        var partitions = JSONObject()
        for name in logs.keys.sorted() {
            guard let log = logs[name] else { continue }
            partitions[name] = [
                "count": .int(Int64(log.count)), "bytes": .int(Int64(log.bytes)), "dropped": .uint(log.dropped),
                "nextSequence": .uint(log.nextSequence),
            ]
        }
        return .result([
            "persistent": .bool(disk != nil), "partitions": .object(partitions), "counters": counters.json,
            "limits": limitsJSON,
        ])
    }
}
