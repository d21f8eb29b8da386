import JSON

/// What a subscriber's outbox yields: an event, an event's notification line already serialised (shared by every
/// subscriber it went to, so queueing it copies no event), or the marker for a gap.
///
/// An event and a marker are boxed (`indirect`): a queued item is then two words, not a whole event, and
/// queueing and taking lines (every live event) copies that little.
package enum OutboxItem: Sendable, Hashable {
    indirect case event(HubEvent)
    /// The `event` notification line (newline included) of the event with sequence number `seq`.
    case line(seq: UInt64, [UInt8])
    indirect case missed(MissedEvents)

    /// The notification method for this item (`event` or `events.missed`).
    package var method: String {
        switch self {
        case .event, .line: return "event"
        case .missed: return "events.missed"
        }
    }

    /// The notification params for this item.
    package var params: JSON {
        switch self {
        case .event(let event): return event.json
        case .line(_, let text): return (try? JSON.parse(text.dropLast()))?["params"] ?? .null
        case .missed(let missed): return missed.json
        }
    }
}

/// A bounded queue of events waiting to be written to one client. It never blocks and never grows
/// past its capacity: when full, further events are dropped and counted, and once there is room
/// again (or the queue drains) a single ``MissedEvents`` marker takes their place, so the client
/// learns how many it lost and which sequence numbers they had.
///
/// The marker is the only item allowed past the capacity, so the queue holds at most `capacity + 1` items.
package struct SubscriberOutbox: Sendable {
    package let capacity: Int
    private var items: [OutboxItem] = []
    private var head = 0
    private var pendingMissed: MissedEvents?
    /// Events dropped over the outbox's life (for counters).
    package private(set) var totalMissed: UInt64 = 0

    package init(capacity: Int) {
        precondition(capacity >= 1, "an outbox holds at least one event")
        self.capacity = capacity
    }

    /// Items waiting (a pending gap not yet turned into a marker not included).
    package var count: Int { items.count - head }
    package var isEmpty: Bool { count == 0 && pendingMissed == nil }

    /// Queues `event`, or counts it as missed when the queue is full. Returns false when dropped.
    @discardableResult
    package mutating func push(_ event: HubEvent) -> Bool {
        push(.event(event), seq: event.seq)
    }

    /// Queues the serialised notification line of event `seq` (the bytes are shared, not copied), or counts the
    /// event as missed when the queue is full, as pushing the event itself does. Returns false when dropped.
    @discardableResult
    package mutating func push(line: [UInt8], seq: UInt64) -> Bool {
        push(.line(seq: seq, line), seq: seq)
    }

    private mutating func push(_ item: OutboxItem, seq: UInt64) -> Bool {
        if count >= capacity {
            noteMissed(count: 1, firstSeq: seq, lastSeq: seq, reason: .outboxFull)
            return false
        }
        flushMissed()
        items.append(item)
        return true
    }

    /// Queues a replay answer: its gap marker first (if any), then its events.
    package mutating func push(_ replay: EventReplay) {
        if let missed = replay.missed {
            noteMissed(count: missed.count, firstSeq: missed.firstSeq, lastSeq: missed.lastSeq, reason: missed.reason)
        }
        for event in replay.events { push(event) }
    }

    /// Records a gap; consecutive gaps merge into one marker.
    package mutating func noteMissed(count: UInt64, firstSeq: UInt64, lastSeq: UInt64, reason: MissedEvents.Reason) {
        totalMissed += count
        if var pending = pendingMissed {
            pending.count += count
            pending.firstSeq = min(pending.firstSeq, firstSeq)
            pending.lastSeq = max(pending.lastSeq, lastSeq)
            // A slow reader is the more useful diagnosis than an expired replay when both happened.
            if reason == .outboxFull { pending.reason = .outboxFull }
            pendingMissed = pending
        } else {
            pendingMissed = MissedEvents(count: count, firstSeq: firstSeq, lastSeq: lastSeq, reason: reason)
        }
    }

    private mutating func flushMissed() {
        if let pending = pendingMissed {
            items.append(.missed(pending))
            pendingMissed = nil
        }
    }

    /// Takes the next item: queued items in order, then the marker for a gap that followed them.
    package mutating func pop() -> OutboxItem? {
        var taken: OutboxItem? = nil
        drain(while: { taken == nil }) { taken = $0 }
        return taken
    }

    /// Takes items in the order ``pop()`` gives them, handing each to `take`, while `room()` says there is room for
    /// one more (asked before each) and items are left. One pass over the queue and one removal at the end,
    /// instead of a removal per item (a subscriber's whole backlog goes into one write per loop pass).
    package mutating func drain(while room: () -> Bool, _ take: (OutboxItem) -> Void) {
        while room() {
            if head == items.count { flushMissed() }
            guard head < items.count else { break }
            take(items[head])
            head += 1
        }
        compact()
    }

    /// Appends items to `out` in the order ``pop()`` gives them while `room` (less what each added) is not negative:
    /// an event's line as it is, any other item through `write`. Each item is moved out of the queue, an empty
    /// placeholder left in its consumed place until the queue is compacted: a copy would count a reference to the
    /// line and release it twice (copy and queue), the most frequent work of a busy subscriber's writes.
    package mutating func drain(
        into out: inout [UInt8], room: inout Int, _ write: (OutboxItem, inout [UInt8]) -> Void
    ) {
        while room >= 0 {
            if head == items.count { flushMissed() }
            guard head < items.count else { break }
            var next = head
            let end = items.count
            items.withUnsafeMutableBufferPointer { queued in
                while next < end && room >= 0 {
                    let before = out.count
                    var item = OutboxItem.line(seq: 0, [])
                    swap(&item, &queued[next])
                    if case .line(_, let bytes) = item {
                        out.append(contentsOf: bytes)
                    } else {
                        write(item, &out)
                    }
                    room -= out.count - before
                    next += 1
                }
            }
            head = next
        }
        compact()
    }

    /// Forgets the consumed items: all of them when the queue is empty, else now and then the consumed prefix.
    private mutating func compact() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            // Compact now and then so a queue that never fully drains does not keep its consumed prefix.
            items.removeFirst(head)
            head = 0
        }
    }

    /// Takes up to `limit` items at once (one write per loop pass).
    package mutating func pop(upTo limit: Int) -> [OutboxItem] {
        var out: [OutboxItem] = []
        drain(while: { out.count < limit }) { out.append($0) }
        return out
    }
}
