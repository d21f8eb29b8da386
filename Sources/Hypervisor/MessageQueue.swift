/// One direction of a messaging link: the hub's queue of messages from one end to the other.
///
/// Messages stay here from the moment the sender is told `queued(id)` until the receiver
/// acknowledges them, so nothing acknowledged as queued is lost while the hub runs. The
/// queue never holds more than `depth` messages; a full queue refuses the sender.
///
/// `cursor` counts the messages at the front that were delivered to the current receiver
/// session and not yet acknowledged. When the receiver detaches the cursor returns to 0, so
/// the next session gets every unacknowledged message again, in id order, once.
struct MessageQueue {
    struct Entry {
        var id: UInt64
        var sender: Originator
        var correlation: UInt64?
        var payload: [UInt8]
        /// The identity the sending partition acts for (`MSG_SEND_AS`, `Protocols/guest.md` §7.12); nil: none.
        var identity: String? = nil
    }

    private(set) var entries: RingBuffer<Entry>
    /// Id the next queued message gets; ids start at 1 and only grow.
    private(set) var nextID: UInt64 = 1
    /// Messages at the front delivered to the current receiver session.
    private(set) var cursor = 0
    /// The largest id ever handed to a receiver session (0: none yet).
    private(set) var highestDelivered: UInt64 = 0
    /// The receiver session's window: at most this many delivered-but-unacknowledged messages.
    var window: Int
    /// Credit the current sender session holds (granted, not yet used).
    var senderCredit = 0
    /// The last sender sequence accepted in this direction (`Protocols/guest.md` §7.10; 0 = none). It belongs to
    /// the direction, not to a session: it outlives detach, resume and take-over, for the link's life.
    var lastSenderSequence: UInt64 = 0
    /// The sending end's rate budget (`Protocols/guest.md` §7.12); nil: unlimited.
    var budget: SendBudget? = nil
    /// Whether a rate refusal was already reported as an event in the current episode (reset by a send that passes).
    var rateLimitReported = false
    var counters = LinkDirectionCounters()

    init(depth: Int, window: Int) {
        entries = RingBuffer(capacity: depth)
        self.window = window
    }

    var depth: Int { entries.capacity }
    /// The id of the oldest queued message, read in place (not by copying the message out).
    private var frontID: UInt64? { entries.isEmpty ? nil : entries[0].id }
    var count: Int { entries.count }
    var freeSlots: Int { entries.capacity - entries.count }

    /// Queues a message; returns its id, or nil if the queue is full.
    mutating func enqueue(sender: Originator, correlation: UInt64?, payload: [UInt8], identity: String? = nil)
        -> UInt64?
    {
        let id = nextID
        guard
            entries.append(
                Entry(id: id, sender: sender, correlation: correlation, payload: payload, identity: identity))
        else { return nil }
        if identity != nil { counters.identitySends &+= 1 }
        nextID += 1
        counters.queued &+= 1
        counters.bytesQueued &+= UInt64(payload.count)
        return id
    }

    /// Whether the current receiver session may be given another message.
    var canDeliver: Bool { cursor < entries.count && cursor < window }

    /// What `takeBatch` handed out.
    struct Batch {
        /// Offset of the first message from the front of the queue, and the id it has.
        var offset: Int
        var firstID: UInt64
        var count: Int
        /// How many of them an earlier session was handed already.
        var redelivered: Int
        var bytes: UInt64
    }

    /// Hands up to `limit` messages (the receiver window permitting) to the receiver session, in id order.
    /// The messages stay queued until acknowledged; read them with `entries`.
    mutating func takeBatch(limit: Int) -> Batch? {
        let count = min(limit, min(entries.count, window) - cursor)
        guard count > 0 else { return nil }
        let offset = cursor
        let firstID = entries[offset].id
        let lastID = firstID + UInt64(count) - 1
        // Ids are consecutive in the queue, and every id up to `highestDelivered` went to some session already.
        let redelivered = highestDelivered >= firstID ? Int(min(lastID, highestDelivered) - firstID + 1) : 0
        var bytes: UInt64 = 0
        for index in offset..<offset + count { bytes &+= UInt64(entries[index].payload.count) }
        cursor += count
        highestDelivered = max(highestDelivered, lastID)
        counters.delivered &+= UInt64(count)
        counters.bytesDelivered &+= bytes
        counters.redelivered &+= UInt64(redelivered)
        return Batch(offset: offset, firstID: firstID, count: count, redelivered: redelivered, bytes: bytes)
    }

    /// Calls `body` with the queued messages from id `firstID` on, at most `count` of them, in order, without
    /// copying the queue.
    func forEach(from firstID: UInt64, count: Int, _ body: (Entry) -> Void) {
        guard let front = frontID, firstID >= front else { return }
        let start = Int(firstID - front)
        for offset in start..<min(start + count, entries.count) { body(entries[offset]) }
    }

    enum AckResult: Equatable {
        case freed(Int)
        /// The id was never delivered to this session.
        case beyondDelivered
    }

    /// Cumulative acknowledgement: frees every message with id ≤ `upTo`. Any id delivered to
    /// this or an earlier session may be acknowledged (a resumed guest that already processed
    /// messages can skip their redelivery); acknowledging an id already freed frees nothing.
    mutating func acknowledge(upTo: UInt64) -> AckResult {
        guard upTo <= highestDelivered else { return .beyondDelivered }
        // Ids in the queue are consecutive from the front's.
        guard let front = frontID, upTo >= front else { return .freed(0) }
        let freed = min(Int(upTo - front + 1), entries.count)
        entries.removeFirst(freed)
        cursor = max(0, cursor - freed)
        counters.acknowledged &+= UInt64(freed)
        return .freed(freed)
    }

    /// The receiver session ended: everything not acknowledged will be delivered again.
    mutating func rewind() { cursor = 0 }

    /// Credit to hand the sender so that its credit equals the free slots; the caller sends it.
    mutating func topUpCredit() -> Int {
        let grant = freeSlots - senderCredit
        guard grant > 0 else { return 0 }
        senderCredit += grant
        return grant
    }

    var inFlight: Int { cursor }
}

/// Totals for one direction of a link.
package struct LinkDirectionCounters: Sendable, Equatable {
    package var queued: UInt64 = 0
    package var delivered: UInt64 = 0
    package var redelivered: UInt64 = 0
    package var acknowledged: UInt64 = 0
    package var refusedFull: UInt64 = 0
    package var refusedTooLarge: UInt64 = 0
    /// `MSG_SEND_SEQ` repeats of an accepted sequence, answered `duplicate` and not queued again (§7.10).
    package var duplicateSends: UInt64 = 0
    /// `MSG_SEND_SEQ` refused because its sequence skipped ahead (§7.10).
    package var sequenceGaps: UInt64 = 0
    /// Sends refused because the sending end was over its rate budget (`Protocols/guest.md` §7.12).
    package var rateLimited: UInt64 = 0
    /// Payload bytes of those refused sends.
    package var bytesRateLimited: UInt64 = 0
    /// Messages queued with an identity (`MSG_SEND_AS`, §7.12).
    package var identitySends: UInt64 = 0
    package var bytesQueued: UInt64 = 0
    package var bytesDelivered: UInt64 = 0
    package init() {}
}
