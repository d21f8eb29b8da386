import JSON

/// One audited command (`Protocols/management.md` §5): accepted or refused, with what could be read of it.
package struct AuditEntry: Equatable, Sendable {
    /// Position in the log since it was first created; never reused, so readers can page.
    package var sequence: UInt64
    package var timeMs: UInt64
    /// `control`, `guest:PARTITION`, or `hub` for what the hub records on its own.
    package var source: String
    /// Empty when the envelope could not be decoded.
    package var authority: String
    package var operation: String
    package var target: String
    package var counter: UInt64
    /// `accepted`, the refusal code, `verified` (the write-ahead entry of a verified command) or one of the hub's
    /// own results (`interrupted`, `rolled_back`).
    package var result: String
    package var detail: String
    /// On the outcome of a verified command: the sequence number of its `verified` entry. Only such an entry ends
    /// a `verified` one; a refusal of the same authority and counter audited while the operation runs (a replay,
    /// a forgery) carries none, so it is never taken for the outcome (§5).
    package var outcomeOf: UInt64?

    /// The write-ahead entry of a verified command, written before its counter is spent (§5).
    package static let verified = "verified"
    /// The outcome the hub gives at start to a `verified` entry that has none: it stopped in between (§5).
    package static let interrupted = "interrupted"

    package var json: JSON {
        var object: JSONObject = [
            "seq": .uint(sequence), "timeMs": .uint(timeMs), "source": .string(source),
            "authority": .string(authority), "operation": .string(operation), "target": .string(target),
            "counter": .string(String(counter)), "result": .string(result), "detail": .string(detail),
        ]
        if let outcomeOf { object["outcomeOf"] = .uint(outcomeOf) }
        return .object(object)
    }

    package init?(json: JSON) {
        guard let sequence = json["seq"]?.uint64Value, let timeMs = json["timeMs"]?.uint64Value,
            let source = json["source"]?.stringValue, let authority = json["authority"]?.stringValue,
            let operation = json["operation"]?.stringValue, let target = json["target"]?.stringValue,
            let counterText = json["counter"]?.stringValue, let counter = UInt64(counterText),
            let result = json["result"]?.stringValue, let detail = json["detail"]?.stringValue
        else { return nil }
        var outcomeOf: UInt64? = nil
        if let link = json["outcomeOf"] {
            guard let sequence = link.uint64Value else { return nil }
            outcomeOf = sequence
        }
        self.init(
            sequence: sequence, timeMs: timeMs, source: source, authority: authority, operation: operation,
            target: target, counter: counter, result: result, detail: detail, outcomeOf: outcomeOf)
    }

    package init(
        sequence: UInt64 = 0, timeMs: UInt64, source: String, authority: String, operation: String, target: String,
        counter: UInt64, result: String, detail: String, outcomeOf: UInt64? = nil
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
        self.outcomeOf = outcomeOf
    }
}

/// The entries a `ManagementAuditLog` keeps, oldest first, indexed from 0.
package struct AuditEntries: RandomAccessCollection, Sendable {
    fileprivate var storage: [AuditEntry]
    fileprivate var head: Int

    package var startIndex: Int { 0 }
    package var endIndex: Int { storage.count - head }
    package subscript(position: Int) -> AuditEntry { storage[head + position] }
}

/// The audit log in memory: the newest `capacity` entries, oldest dropped first. Appending costs amortised O(1)
/// whatever the capacity: dropped entries are only skipped, and the storage compacted once a capacity's worth
/// was skipped (`Protocols/management.md` §5 sets no cost per entry that grows with `auditMaxEntries`).
package struct ManagementAuditLog: Sendable {
    package private(set) var entries = AuditEntries(storage: [], head: 0)
    package private(set) var nextSequence: UInt64 = 1
    package let capacity: Int

    package init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Appends `entry` as number `nextSequence` and returns it as kept.
    @discardableResult
    package mutating func append(_ entry: AuditEntry) -> AuditEntry {
        var entry = entry
        entry.sequence = nextSequence
        nextSequence += 1
        keep(entry)
        return entry
    }

    /// Keeps an entry read back from disk, with its own sequence number (ascending: the loader checks it).
    package mutating func restore(_ entry: AuditEntry) {
        keep(entry)
        nextSequence = max(nextSequence, entry.sequence &+ 1)
    }

    /// Sequence numbers continue from at least `sequence` (a segment's first sequence, §5).
    package mutating func continueNumbering(from sequence: UInt64) { nextSequence = max(nextSequence, sequence) }

    private mutating func keep(_ entry: AuditEntry) {
        entries.storage.append(entry)
        guard entries.count > capacity else { return }
        entries.head += 1
        if entries.head >= capacity {
            entries.storage.removeFirst(entries.head)
            entries.head = 0
        }
    }

    /// Up to `limit` entries with a sequence number of at least `from` (the numbers ascend: a binary search).
    package func page(from: UInt64, limit: Int) -> [AuditEntry] {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].sequence < from { low = middle + 1 } else { high = middle }
        }
        return Array(entries[low..<min(entries.count, low + max(0, limit))])
    }

    /// The version-1 form (one file rewritten whole), read only to migrate it (§5).
    package var json: JSON {
        ["version": 1, "nextSequence": .uint(nextSequence), "entries": .array(entries.map(\.json))]
    }

    /// Reads the version-1 on-disk form, keeping the newest `capacity` entries; nil when it is not one.
    package init?(json: JSON, capacity: Int) {
        guard json["version"]?.intValue == 1, let next = json["nextSequence"]?.uint64Value,
            let list = json["entries"]?.arrayValue
        else { return nil }
        self.capacity = max(1, capacity)
        for item in list {
            guard let entry = AuditEntry(json: item) else { return nil }
            keep(entry)
        }
        self.nextSequence = next
    }
}

extension ManagementAuditLog: Equatable {
    package static func == (left: ManagementAuditLog, right: ManagementAuditLog) -> Bool {
        left.capacity == right.capacity && left.nextSequence == right.nextSequence
            && left.entries.elementsEqual(right.entries)
    }
}
