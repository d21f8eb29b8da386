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
        /// Delivered to some earlier session already (a later delivery is a redelivery).
        var delivered: Bool
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
    var counters = LinkDirectionCounters()

    init(depth: Int, window: Int) {
        entries = RingBuffer(capacity: depth)
        self.window = window
    }

    var depth: Int { entries.capacity }
    var count: Int { entries.count }
    var freeSlots: Int { entries.capacity - entries.count }

    /// Queues a message; returns its id, or nil if the queue is full.
    mutating func enqueue(sender: Originator, correlation: UInt64?, payload: [UInt8]) -> UInt64? {
        let id = nextID
        guard
            entries.append(Entry(id: id, sender: sender, correlation: correlation, payload: payload, delivered: false))
        else { return nil }
        nextID += 1
        counters.queued &+= 1
        counters.bytesQueued &+= UInt64(payload.count)
        return id
    }

    /// Whether the current receiver session may be given another message.
    var canDeliver: Bool { cursor < entries.count && cursor < window }

    /// Takes the next message for the receiver session; returns it with whether it is a redelivery.
    mutating func takeNext() -> (entry: Entry, redelivery: Bool)? {
        guard canDeliver else { return nil }
        var entry = entries[cursor]
        let redelivery = entry.delivered
        entry.delivered = true
        entries[cursor] = entry
        cursor += 1
        highestDelivered = max(highestDelivered, entry.id)
        counters.delivered &+= 1
        counters.bytesDelivered &+= UInt64(entry.payload.count)
        if redelivery { counters.redelivered &+= 1 }
        return (entry, redelivery)
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
        var freed = 0
        while let first = entries.first, first.id <= upTo {
            entries.removeFirst()
            freed += 1
        }
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
public struct LinkDirectionCounters: Sendable, Equatable {
    public var queued: UInt64 = 0
    public var delivered: UInt64 = 0
    public var redelivered: UInt64 = 0
    public var acknowledged: UInt64 = 0
    public var refusedFull: UInt64 = 0
    public var refusedTooLarge: UInt64 = 0
    public var bytesQueued: UInt64 = 0
    public var bytesDelivered: UInt64 = 0
    public init() {}
}
