import JSON

/// One audited command (`Protocols/management.md` §5): accepted or refused, with what could be read of it.
package struct AuditEntry: Equatable, Sendable {
    /// Position in the log since it was first created; never reused, so readers can page.
    package var sequence: UInt64
    package var timeMs: UInt64
    /// `control` or `guest:PARTITION`.
    package var source: String
    /// Empty when the envelope could not be decoded.
    package var authority: String
    package var operation: String
    package var target: String
    package var counter: UInt64
    /// `accepted` or the refusal code.
    package var result: String
    package var detail: String

    package var json: JSON {
        [
            "seq": .uint(sequence), "timeMs": .uint(timeMs), "source": .string(source),
            "authority": .string(authority), "operation": .string(operation), "target": .string(target),
            "counter": .string(String(counter)), "result": .string(result), "detail": .string(detail),
        ]
    }

    init?(json: JSON) {
        guard let sequence = json["seq"]?.uint64Value, let timeMs = json["timeMs"]?.uint64Value,
            let source = json["source"]?.stringValue, let authority = json["authority"]?.stringValue,
            let operation = json["operation"]?.stringValue, let target = json["target"]?.stringValue,
            let counterText = json["counter"]?.stringValue, let counter = UInt64(counterText),
            let result = json["result"]?.stringValue, let detail = json["detail"]?.stringValue
        else { return nil }
        self.init(
            sequence: sequence, timeMs: timeMs, source: source, authority: authority, operation: operation,
            target: target, counter: counter, result: result, detail: detail)
    }

    package init(
        sequence: UInt64 = 0, timeMs: UInt64, source: String, authority: String, operation: String, target: String,
        counter: UInt64, result: String, detail: String
    ) {
        self.sequence = sequence
        self.timeMs = timeMs
        self.source = source
        self.authority = authority
        self.operation = operation
        self.target = target
        self.counter = counter
        self.result = result
        self.detail = detail
    }
}

/// The audit log: the newest `capacity` entries, oldest dropped first.
package struct ManagementAuditLog: Equatable, Sendable {
    package private(set) var entries: [AuditEntry] = []
    package private(set) var nextSequence: UInt64 = 1
    package let capacity: Int

    package init(capacity: Int) { self.capacity = max(1, capacity) }

    package mutating func append(_ entry: AuditEntry) {
        var entry = entry
        entry.sequence = nextSequence
        nextSequence += 1
        entries.append(entry)
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
    }

    /// Up to `limit` entries with a sequence number of at least `from`.
    package func page(from: UInt64, limit: Int) -> [AuditEntry] {
        Array(entries.lazy.filter { $0.sequence >= from }.prefix(max(0, limit)))
    }

    package var json: JSON {
        ["version": 1, "nextSequence": .uint(nextSequence), "entries": .array(entries.map(\.json))]
    }

    /// Reads the on-disk form, keeping the newest `capacity` entries; nil when it is not one.
    package init?(json: JSON, capacity: Int) {
        guard json["version"]?.intValue == 1, let next = json["nextSequence"]?.uint64Value,
            let list = json["entries"]?.arrayValue
        else { return nil }
        var entries: [AuditEntry] = []
        for item in list {
            guard let entry = AuditEntry(json: item) else { return nil }
            entries.append(entry)
        }
        self.capacity = max(1, capacity)
        self.entries = Array(entries.suffix(self.capacity))
        self.nextSequence = next
    }
}
