import JSON

/// A gap in what a subscriber received: `count` events with sequence numbers in `firstSeq...lastSeq`
/// never reached it. Sent as the `events.missed` notification (`Protocols/control.md` §5.4).
package struct MissedEvents: Sendable, Hashable {
    package enum Reason: String, Sendable, Hashable {
        /// The subscriber's outbox was full: it did not read fast enough.
        case outboxFull = "outbox_full"
        /// The replay ring no longer held events that old when the subscriber asked for them.
        case replayExpired = "replay_expired"
    }

    /// How many events were lost. For `outboxFull` these are events that matched the filter; for
    /// `replayExpired` it is every event the ring dropped in the range (the hub no longer knows which matched).
    package var count: UInt64
    package var firstSeq: UInt64
    package var lastSeq: UInt64
    package var reason: Reason

    package init(count: UInt64, firstSeq: UInt64, lastSeq: UInt64, reason: Reason) {
        self.count = count
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.reason = reason
    }

    /// `{"count":…,"firstSeq":…,"lastSeq":…,"reason":…}`
    package var json: JSON {
        [
            "count": .uint(count), "firstSeq": .uint(firstSeq), "lastSeq": .uint(lastSeq),
            "reason": .string(reason.rawValue),
        ]
    }

    package init?(json: JSON) {
        guard let count = json["count"]?.uint64Value, let firstSeq = json["firstSeq"]?.uint64Value,
            let lastSeq = json["lastSeq"]?.uint64Value,
            let reason = json["reason"]?.stringValue.flatMap(Reason.init(rawValue:))
        else { return nil }
        self.init(count: count, firstSeq: firstSeq, lastSeq: lastSeq, reason: reason)
    }

    /// A one-line human description: "missed 3 events (seq 10…12, outbox_full)".
    package var summary: String { "missed \(count) events (seq \(firstSeq)…\(lastSeq), \(reason.rawValue))" }
}
