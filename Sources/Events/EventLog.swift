import JSON

/// The hub-wide event sequence and its bounded replay ring.
///
/// `append` assigns the next sequence number (starting at 1) and keeps the newest events within two bounds: at
/// most `capacity` events and at most `byteLimit` bytes (each event counted by ``HubEvent/heldBytes``), so a
/// subscriber that arrives late can ask for what happened `since` a sequence number it knows. The byte bound
/// matters for large events: an `eth.frame` of a live capture carries up to 18 KB of hex (`Protocols/control.md`
/// §5.5, §13.7), and 4096 of them would hold about 72 MiB. The newest event is always held, however large.
/// Nothing here reads a clock: the caller passes each event's time.
package struct EventLog: Sendable {
    package let capacity: Int
    /// The most bytes the held events may count together (`hub.limits.eventReplayBytes`).
    package let byteLimit: Int
    /// The slots, grown by doubling up to `capacity`; the `held` from `head` on (wrapping) hold events, the others
    /// `HubEvent.vacant`, so an event dropped for the byte bound releases its data at once.
    private var ring: [HubEvent] = []
    /// `heldBytes` of the event in the same slot of `ring`.
    private var sizes: [Int] = []
    /// Index in `ring` of the oldest held event.
    private var head = 0
    /// How many events are held.
    private var held = 0
    /// What the held events count together (at most `byteLimit`, unless the newest alone counts more).
    package private(set) var heldBytes = 0
    /// The sequence number of the newest event (0 before the first).
    package private(set) var lastSeq: UInt64 = 0
    /// The newest event's time.
    private var lastTime = EventTime(unixNs: 0, monoNs: 0)

    /// - Parameters:
    ///   - capacity: how many events are kept for replay (at least 1).
    ///   - byteLimit: how many bytes they may count together (``HubEvent/heldBytes``).
    package init(capacity: Int, byteLimit: Int = .max) {
        precondition(capacity >= 1, "the replay ring holds at least one event")
        self.capacity = capacity
        self.byteLimit = byteLimit
    }

    /// How many events are held.
    package var count: Int { held }

    /// The sequence number of the oldest held event, nil when empty.
    package var oldestSeq: UInt64? { held == 0 ? nil : lastSeq - UInt64(held) + 1 }

    /// Records an event and returns it with its sequence number.
    @discardableResult
    package mutating func append(
        kind: String, partition: String? = nil, device: String? = nil, data: JSON = [:], time: EventTime
    ) -> HubEvent {
        lastSeq += 1
        // A time read before an event published in between (one occurrence's events share a time taken first)
        // becomes that event's: monotonic times never decrease with the sequence (`Protocols/control.md` §5.1).
        let time = time.monoNs < lastTime.monoNs ? lastTime : time
        lastTime = time
        let event = HubEvent(seq: lastSeq, time: time, kind: kind, partition: partition, device: device, data: data)
        let bytes = event.heldBytes
        if held == capacity {
            // Full by count (the slots are all grown): the newest takes the oldest's slot in place, one store
            // instead of a vacant event stored and replaced (the commonest case once the hub has run a while).
            heldBytes += bytes - sizes[head]
            ring[head] = event
            sizes[head] = bytes
            head += 1
            if head == ring.count { head = 0 }
        } else {
            if held == ring.count { grow() }
            var slot = head + held
            if slot >= ring.count { slot -= ring.count }
            ring[slot] = event
            sizes[slot] = bytes
            held += 1
            heldBytes += bytes
        }
        // The byte bound: the oldest go first, the newest stays (`Protocols/control.md` §5.5).
        while heldBytes > byteLimit && held > 1 { dropOldest() }
        return event
    }

    /// Releases the oldest held event (its slot keeps a vacant event, which holds no storage).
    private mutating func dropOldest() {
        ring[head] = HubEvent.vacant
        heldBytes -= sizes[head]
        sizes[head] = 0
        head += 1
        if head == ring.count { head = 0 }
        held -= 1
    }

    /// Doubles the slots (up to `capacity`), the held events moved to the front: each growth costs the events it
    /// moves, and the slots double, so appends stay O(1) amortized.
    private mutating func grow() {
        let slots = min(capacity, max(16, ring.count * 2))
        var newRing: [HubEvent] = []
        var newSizes: [Int] = []
        newRing.reserveCapacity(slots)
        newSizes.reserveCapacity(slots)
        for offset in 0..<held {
            newRing.append(ring[(head + offset) % ring.count])
            newSizes.append(sizes[(head + offset) % ring.count])
        }
        while newRing.count < slots {
            newRing.append(HubEvent.vacant)
            newSizes.append(0)
        }
        ring = newRing
        sizes = newSizes
        head = 0
    }

    /// The held events, oldest first.
    package var events: [HubEvent] { (0..<held).map { ring[(head + $0) % ring.count] } }

    /// What the ring still holds after `seq` (events with a greater sequence number), filtered, oldest
    /// first, and the gap if events after `seq` have already been dropped from the ring.
    package func since(_ seq: UInt64, matching filter: EventFilter = .all) -> EventReplay {
        since(seq, matching: filter, limit: Int.max).replay
    }

    /// Like ``since(_:matching:)`` but at most `limit` events, for replays that go out as the client reads
    /// (`Protocols/control.md` §5.5). `through` is the sequence number up to which the ring was examined:
    /// the next batch continues from there; it is ``lastSeq`` once everything held was examined.
    package func since(_ seq: UInt64, matching filter: EventFilter = .all, limit: Int)
        -> (replay: EventReplay, through: UInt64)
    {
        guard let oldest = oldestSeq, seq < lastSeq else {
            return (EventReplay(events: [], missed: nil), max(seq, lastSeq))
        }
        var missed: MissedEvents? = nil
        if seq + 1 < oldest {
            missed = MissedEvents(
                count: oldest - seq - 1, firstSeq: seq + 1, lastSeq: oldest - 1, reason: .replayExpired)
        }
        // Skip the events at or before `seq` without copying them.
        let skip = seq >= oldest ? Int(seq - oldest + 1) : 0
        var out: [HubEvent] = []
        var through = lastSeq
        for offset in skip..<held {
            guard out.count < limit else {
                through = oldest + UInt64(offset) - 1
                break
            }
            let event = ring[(head + offset) % ring.count]
            if filter.matches(event) { out.append(event) }
        }
        return (EventReplay(events: out, missed: missed), through)
    }

    /// The sequence number of the first held event after `seq` that matches `filter`, nil when none (what
    /// `since(seq, matching: filter).events.first?.seq` says, without copying the events it passes).
    package func firstSeq(after seq: UInt64, matching filter: EventFilter) -> UInt64? {
        first(after: seq, matching: filter).event?.seq
    }

    /// The first held event after `seq` that matches `filter` (what `since(seq, matching: filter).events.first`
    /// says), and how many held events were examined to find it: the scan stops at the match, and examines every
    /// held event after `seq` when none matches (`events.wait`, charged for those it examined).
    package func first(after seq: UInt64, matching filter: EventFilter) -> (event: HubEvent?, examined: Int) {
        first(after: seq) { filter.matches($0) }
    }

    /// The sequence number of the first held event after `seq` whose kind is `kind`, nil when none: what
    /// ``firstSeq(after:matching:)`` says for a filter on that kind alone, reading each event's kind where it is
    /// held instead of copying the event (every `irq.raise` answer looks its event up this way).
    package func firstSeq(after seq: UInt64, kind: String) -> UInt64? {
        guard let oldest = oldestSeq, seq < lastSeq else { return nil }
        let skip = seq >= oldest ? Int(seq - oldest + 1) : 0
        return ring.withUnsafeBufferPointer { slots -> UInt64? in
            var position = (head + skip) % slots.count
            for _ in skip..<held {
                if slots[position].kind == kind { return slots[position].seq }
                position += 1
                if position == slots.count { position = 0 }
            }
            return nil
        }
    }

    /// Like ``first(after:matching:)`` with any test, called once for each event examined, oldest first.
    package func first(after seq: UInt64, where matches: (HubEvent) -> Bool) -> (event: HubEvent?, examined: Int) {
        guard let oldest = oldestSeq, seq < lastSeq else { return (nil, 0) }
        let skip = seq >= oldest ? Int(seq - oldest + 1) : 0
        for offset in skip..<held {
            let event = ring[(head + offset) % ring.count]
            if matches(event) { return (event, offset - skip + 1) }
        }
        return (nil, held - skip)
    }

    /// How many held events after `seq` match `filter` (what a replay from `seq` delivers).
    package func count(since seq: UInt64, matching filter: EventFilter = .all) -> Int {
        guard let oldest = oldestSeq, seq < lastSeq else { return 0 }
        let skip = seq >= oldest ? Int(seq - oldest + 1) : 0
        var count = 0
        for offset in skip..<held where filter.matches(ring[(head + offset) % ring.count]) { count += 1 }
        return count
    }

    /// The most recent `limit` held events matching `filter`, oldest first (`events.recent`).
    package func recent(_ limit: Int, matching filter: EventFilter = .all) -> [HubEvent] {
        var out: [HubEvent] = []
        var offset = held - 1
        while offset >= 0 && out.count < limit {
            let event = ring[(head + offset) % ring.count]
            if filter.matches(event) { out.append(event) }
            offset -= 1
        }
        return out.reversed()
    }
}

/// The answer to ``EventLog/since(_:matching:)``.
package struct EventReplay: Sendable, Hashable {
    /// The held events after the requested sequence number that match the filter, oldest first.
    package var events: [HubEvent]
    /// Set when the ring had already dropped events after the requested sequence number.
    package var missed: MissedEvents?
}
