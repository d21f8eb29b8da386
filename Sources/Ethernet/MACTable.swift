/// A switch's learned addresses (`Protocols/ethernet.md` §1.2): a hash from key (VLAN << 48 | MAC) to a slot, and
/// the slots threaded on a doubly-linked list in the order they were last seen, least recently seen first.
///
/// Every operation a frame can cause is O(1): refreshing an entry moves it to the tail, learning into a full table
/// evicts the head, and expiry walks from the head only as far as entries have aged. (A full table used to be
/// rebuilt on every frame from a new address, which a MAC flood turned into a tripled cost per frame.)
struct MACTable {
    struct Slot {
        /// `MACTable.freeKey` while the slot is unused.
        var key: UInt64
        var port: PortID
        var seen: UInt64
        var previous: Int32
        var next: Int32
    }

    /// No learned key has it: VLAN ids are 12 bits, so bits 60...63 of a real key are always zero.
    static let freeKey = UInt64.max
    static let none: Int32 = -1

    private(set) var slots: [Slot] = []
    private var index: SlotIndex
    private var freeSlots: [Int32] = []
    /// Least recently seen entry.
    private(set) var head: Int32 = MACTable.none
    /// Most recently seen entry.
    private(set) var tail: Int32 = MACTable.none

    var count: Int { index.count }

    /// `seed` keys the hash, so a peer choosing source addresses cannot predict which collide.
    init(seed: UInt64) { index = SlotIndex(seed: seed) }

    func slot(for key: UInt64) -> Int32? { index.find(key) }

    /// Marks the entry as seen at `now` (and on `port`): it becomes the most recently seen.
    mutating func touch(_ slot: Int32, port: PortID, now: UInt64) {
        slots[Int(slot)].seen = now
        slots[Int(slot)].port = port
        guard slot != tail else { return }
        unlink(slot)
        append(slot)
    }

    /// Adds a key that is not in the table; returns its slot.
    @discardableResult
    mutating func insert(_ key: UInt64, port: PortID, now: UInt64) -> Int32 {
        let slot: Int32
        let entry = Slot(key: key, port: port, seen: now, previous: MACTable.none, next: MACTable.none)
        if let free = freeSlots.popLast() {
            slot = free
            slots[Int(slot)] = entry
        } else {
            slot = Int32(slots.count)
            slots.append(entry)
        }
        index.insert(key, slot)
        append(slot)
        return slot
    }

    /// Forgets one entry; returns what it held.
    @discardableResult
    mutating func remove(_ slot: Int32) -> Slot {
        let entry = slots[Int(slot)]
        unlink(slot)
        index.remove(entry.key)
        slots[Int(slot)].key = MACTable.freeKey
        freeSlots.append(slot)
        return entry
    }

    /// Forgets every entry matching `predicate` (a port going away): O(table), never on the forwarding path.
    mutating func removeAll(where predicate: (Slot) -> Bool) {
        var slot = head
        while slot != MACTable.none {
            let next = slots[Int(slot)].next
            if predicate(slots[Int(slot)]) { remove(slot) }
            slot = next
        }
    }

    mutating func removeAll() {
        slots.removeAll()
        index.removeAll()
        freeSlots.removeAll()
        head = MACTable.none
        tail = MACTable.none
    }

    /// Every entry in use, least recently seen first.
    var entries: [Slot] {
        var out: [Slot] = []
        out.reserveCapacity(count)
        var slot = head
        while slot != MACTable.none {
            out.append(slots[Int(slot)])
            slot = slots[Int(slot)].next
        }
        return out
    }

    private mutating func unlink(_ slot: Int32) {
        let previous = slots[Int(slot)].previous
        let next = slots[Int(slot)].next
        if previous != MACTable.none { slots[Int(previous)].next = next } else { head = next }
        if next != MACTable.none { slots[Int(next)].previous = previous } else { tail = previous }
        slots[Int(slot)].previous = MACTable.none
        slots[Int(slot)].next = MACTable.none
    }

    private mutating func append(_ slot: Int32) {
        slots[Int(slot)].previous = tail
        slots[Int(slot)].next = MACTable.none
        if tail != MACTable.none { slots[Int(tail)].next = slot } else { head = slot }
        tail = slot
    }
}

/// Key → slot, open addressing with linear probing and backward-shift deletion: a lookup is one multiply and
/// usually one probe (Swift's `Dictionary` hashes with SipHash, several times the cost, and a MAC flood pays it
/// three times per frame). The multiply-shift hash takes a random odd multiplier and mask per table, so the
/// addresses a peer sends cannot be chosen to collide; the table stays at most half full.
struct SlotIndex {
    /// Key and slot side by side: a probe touches one cache line (a full table of random addresses misses the
    /// cache on nearly every lookup, so a second array would double that cost).
    private struct Entry {
        var key: UInt64
        var slot: Int32
    }

    private var entries: [Entry]
    private var shift: UInt64
    private let multiplier: UInt64
    private let mask: UInt64
    private(set) var count = 0
    private static let empty = Entry(key: UInt64.max, slot: -1)

    init(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        multiplier = random.next() | 1
        mask = random.next()
        entries = [Entry](repeating: SlotIndex.empty, count: 16)
        shift = 64 - 4
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: ((key ^ mask) &* multiplier) >> shift) }

    func find(_ key: UInt64) -> Int32? {
        let last = entries.count - 1
        var position = home(key)
        while true {
            let found = entries[position]
            if found.key == key { return found.slot }
            if found.key == UInt64.max { return nil }
            position = (position + 1) & last
        }
    }

    /// Adds a key that is not present.
    mutating func insert(_ key: UInt64, _ value: Int32) {
        if (count + 1) * 2 > entries.count { grow() }
        let last = entries.count - 1
        var position = home(key)
        while entries[position].key != UInt64.max { position = (position + 1) & last }
        entries[position] = Entry(key: key, slot: value)
        count += 1
    }

    mutating func remove(_ key: UInt64) {
        let last = entries.count - 1
        var position = home(key)
        while entries[position].key != key {
            if entries[position].key == UInt64.max { return }
            position = (position + 1) & last
        }
        // Backward shift: move up every later entry of the run whose home is not between the hole and it.
        var hole = position
        var next = (hole + 1) & last
        while entries[next].key != UInt64.max {
            let wanted = home(entries[next].key)
            if (hole - wanted) & last <= (next - wanted) & last {
                entries[hole] = entries[next]
                hole = next
            }
            next = (next + 1) & last
        }
        entries[hole] = SlotIndex.empty
        count -= 1
    }

    mutating func removeAll() {
        entries = [Entry](repeating: SlotIndex.empty, count: 16)
        shift = 64 - 4
        count = 0
    }

    private mutating func grow() {
        let old = entries
        entries = [Entry](repeating: SlotIndex.empty, count: old.count * 2)
        shift -= 1
        count = 0
        for entry in old where entry.key != UInt64.max { insert(entry.key, entry.slot) }
    }
}
