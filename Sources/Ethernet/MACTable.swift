/// A switch's learned addresses (`Protocols/ethernet.md` §1.2): a hash from key (VLAN << 48 | MAC) to a slot, and
/// the slots threaded on a doubly-linked list in the order they were last seen, least recently seen first.
///
/// Every operation a frame can cause is O(1): refreshing an entry moves it to the tail, learning into a full table
/// reuses the head's slot for the new key, and expiry walks from the head only as far as entries have aged. (A full
/// table used to be rebuilt on every frame from a new address, which a MAC flood turned into a tripled cost per
/// frame.)
///
/// Storage is allocated once, at the table's limit, and never grows: a MAC flood then costs no reallocation, and
/// the forwarding path reads and writes slots through plain pointers (an array in a struct held by the switch paid
/// a uniqueness check, a retain and a release per access, a third of a flooded frame's cost). It is written only
/// as it is used (slots as they are handed out, the index at the first address learned), so a segment that has
/// learned little keeps little of it resident: the allocator maps large blocks lazily, and at the default limit
/// the slots and index are half a megabyte per segment.
final class MACTable {
    struct Slot {
        /// `MACTable.freeKey` while the slot is unused.
        var key: UInt64
        var port: PortID
        var seen: UInt64
        /// While the slot is unused: the next free slot.
        var previous: Int32
        var next: Int32
    }

    /// No learned key has it: VLAN ids are 12 bits, so bits 60...63 of a real key are always zero.
    static let freeKey = UInt64.max
    static let none: Int32 = -1

    /// Most entries the table holds.
    let capacity: Int
    /// `capacity` slots (at least one); those below `initialized` are initialized, and a slot number a caller
    /// cached was handed out, so is below it: a stale one reads a defined (if unrelated) entry.
    private let slots: UnsafeMutablePointer<Slot>
    /// Slots handed out at least once since the table was made (never decreases).
    private var initialized: Int32 = 0
    private let index: SlotIndex
    /// Slots below it have been handed out at least once; those not in use are on the free list.
    private var used: Int32 = 0
    /// Freed slots, threaded through `Slot.next`.
    private var freeHead: Int32 = MACTable.none
    /// Least recently seen entry.
    private(set) var head: Int32 = MACTable.none
    /// Most recently seen entry.
    private(set) var tail: Int32 = MACTable.none

    var count: Int { index.count }

    /// `seed` keys the hash, so a peer choosing source addresses cannot predict which collide.
    init(seed: UInt64, capacity: Int) {
        self.capacity = max(0, min(capacity, Int(Int32.max) / 4))
        let allocated = max(1, self.capacity)
        // Initialized slot by slot as `insert` hands them out (`initialized`).
        slots = .allocate(capacity: allocated)
        index = SlotIndex(seed: seed, capacity: self.capacity)
    }

    deinit {
        // SAFETY: allocated in init; Slot is trivial, nothing to deinitialize.
        slots.deallocate()
    }

    /// The entry in `slot` (any number handed out since the table was made: a stale cached slot reads whatever it
    /// holds now).
    @inline(__always)
    subscript(_ slot: Int32) -> Slot {
        precondition(slot >= 0 && slot < initialized)
        // SAFETY: in range and initialized (checked above).
        return slots[Int(slot)]
    }

    @inline(__always)
    func slot(for key: UInt64) -> Int32? {
        // SAFETY: `slots` holds `capacity` initialized entries; the index stores only slot numbers below it.
        index.find(key, in: UnsafePointer(slots))
    }

    /// Marks the entry as seen at `now` (and on `port`): it becomes the most recently seen.
    @inline(__always)
    func touch(_ slot: Int32, port: PortID, now: UInt64) {
        precondition(slot >= 0 && slot < initialized)
        // SAFETY: in range and initialized (checked above).
        slots[Int(slot)].seen = now
        slots[Int(slot)].port = port
        guard slot != tail else { return }
        unlink(slot)
        append(slot)
    }

    /// Adds a key that is not in the table, which has room; returns its slot.
    @discardableResult
    func insert(_ key: UInt64, port: PortID, now: UInt64) -> Int32 {
        precondition(count < capacity, "MACTable.insert into a full table")
        let slot: Int32
        if freeHead != MACTable.none {
            slot = freeHead
            // SAFETY: free slots are below `used` <= capacity.
            freeHead = slots[Int(slot)].next
        } else {
            slot = used
            used += 1
        }
        // SAFETY: `slot` < capacity: either a freed slot or `used` < capacity (count < capacity, and every slot
        // below `used` is in use or free). Slot is trivial, so assigning initializes a slot not initialized yet.
        slots[Int(slot)] = Slot(key: key, port: port, seen: now, previous: MACTable.none, next: MACTable.none)
        if slot >= initialized { initialized = slot + 1 }
        index.insert(key, slot)
        append(slot)
        return slot
    }

    /// The entry a full table evicts next and its place in the index; valid until the table changes.
    struct Victim {
        let slot: Int32
        let key: UInt64
        let position: Int
    }

    /// Reads the entry a new key would evict and finds it in the index. The switch asks before it looks a new
    /// source up in a full table: under a flood both reads miss the cache, and issued one after the other (lookup,
    /// then eviction) they were a third of a flooded frame's cost; read first, they overlap with the lookup.
    @inline(__always)
    func nextVictim() -> Victim? {
        let slot = head
        guard slot != MACTable.none else { return nil }
        // SAFETY: list members are in-use slots below capacity.
        let key = slots[Int(slot)].key
        return Victim(slot: slot, key: key, position: index.position(of: key, slot))
    }

    /// Evicts `victim` (from `nextVictim`, the table unchanged since) and gives its slot to `key` (not in the
    /// table) as the most recently seen: one operation, so a full table under a flood does no free-list work.
    /// Returns the evicted entry.
    @inline(__always)
    func replace(_ victim: Victim, with key: UInt64, port: PortID, now: UInt64) -> Slot {
        let slot = victim.slot
        // SAFETY: the victim is the head, an in-use slot below capacity.
        let evicted = slots[Int(slot)]
        index.remove(at: victim.position)
        if slot != tail {
            unlink(slot)
            append(slot)
        }
        // SAFETY: as above.
        slots[Int(slot)].key = key
        slots[Int(slot)].port = port
        slots[Int(slot)].seen = now
        index.insert(key, slot)
        return evicted
    }

    /// `nextVictim` and `replace` together; nil when the table is empty.
    func replaceHead(with key: UInt64, port: PortID, now: UInt64) -> (evicted: Slot, slot: Int32)? {
        guard let victim = nextVictim() else { return nil }
        return (replace(victim, with: key, port: port, now: now), victim.slot)
    }

    /// Forgets one entry; returns what it held.
    @discardableResult
    func remove(_ slot: Int32) -> Slot {
        precondition(slot >= 0 && slot < used)
        // SAFETY: in range (checked above).
        let entry = slots[Int(slot)]
        precondition(entry.key != MACTable.freeKey, "MACTable.remove of a free slot")
        unlink(slot)
        index.remove(entry.key, slot)
        // SAFETY: as above.
        slots[Int(slot)].key = MACTable.freeKey
        slots[Int(slot)].next = freeHead
        freeHead = slot
        return entry
    }

    /// Forgets every entry matching `predicate` (a port going away): O(table), never on the forwarding path.
    func removeAll(where predicate: (Slot) -> Bool) {
        var slot = head
        while slot != MACTable.none {
            // SAFETY: list members are in-use slots below capacity.
            let entry = slots[Int(slot)]
            if predicate(entry) { remove(slot) }
            slot = entry.next
        }
    }

    func removeAll() {
        var slot: Int32 = 0
        while slot < used {
            // SAFETY: below `used` <= capacity.
            slots[Int(slot)].key = MACTable.freeKey
            slot += 1
        }
        index.removeAll()
        used = 0
        freeHead = MACTable.none
        head = MACTable.none
        tail = MACTable.none
    }

    /// Every entry in use, least recently seen first.
    var entries: [Slot] {
        var out: [Slot] = []
        out.reserveCapacity(count)
        var slot = head
        while slot != MACTable.none {
            // SAFETY: list members are in-use slots below capacity.
            out.append(slots[Int(slot)])
            slot = slots[Int(slot)].next
        }
        return out
    }

    // The list operations below take slots that are in use (on the list), so below capacity.

    @inline(__always)
    private func unlink(_ slot: Int32) {
        // SAFETY: `slot` and its neighbours are list members.
        let previous = slots[Int(slot)].previous
        let next = slots[Int(slot)].next
        if previous != MACTable.none { slots[Int(previous)].next = next } else { head = next }
        if next != MACTable.none { slots[Int(next)].previous = previous } else { tail = previous }
    }

    @inline(__always)
    private func append(_ slot: Int32) {
        // SAFETY: `slot` and the tail are in use.
        slots[Int(slot)].previous = tail
        slots[Int(slot)].next = MACTable.none
        if tail != MACTable.none { slots[Int(tail)].next = slot } else { head = slot }
        tail = slot
    }
}

/// Key → slot, open addressing with linear probing and backward-shift deletion, sized once for the table's limit
/// (at most a quarter full, so it never grows and runs stay short: a full table's every eviction shifts a run): a lookup is one multiply and usually one probe (Swift's `Dictionary`
/// hashes with SipHash, several times the cost, and a MAC flood pays it three times per frame). The multiply-shift
/// hash takes a random odd multiplier and mask per table, so the addresses a peer sends cannot be chosen to
/// collide.
///
/// An entry is the hash's top 32 bits and the slot, 8 bytes, eight to a cache line (a full table of random
/// addresses misses the cache on nearly every lookup, so the index is kept small). The stored hash gives an entry's
/// home bucket without re-hashing (backward shift reads it for every entry it passes) and filters probes: the key
/// itself, in the slot, is read only when the hashes agree.
final class SlotIndex {
    private struct Entry {
        var hash: UInt32
        /// -1: empty.
        var slot: Int32
    }

    /// `size` entries, initialized (all empty) at the first insert: until then the table is empty, and nothing
    /// reads them.
    private let entries: UnsafeMutablePointer<Entry>
    private var entriesInitialized = false
    private let size: Int
    /// 32 - log2(size): a hash's home bucket is its top bits.
    private let shift: UInt32
    private let multiplier: UInt64
    private let mask: UInt64
    private(set) var count = 0
    private static let empty = Entry(hash: 0, slot: -1)

    /// Room for `capacity` keys.
    init(seed: UInt64, capacity: Int) {
        var random = SplitMix64(seed: seed)
        multiplier = random.next() | 1
        mask = random.next()
        var bits = 4
        while 1 << bits < capacity * 4 { bits += 1 }
        size = 1 << bits
        shift = UInt32(32 - bits)
        entries = .allocate(capacity: size)
    }

    deinit {
        // SAFETY: allocated in init; Entry is trivial.
        entries.deallocate()
    }

    @inline(__always)
    private func hash(_ key: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: ((key ^ mask) &* multiplier) >> 32) }

    @inline(__always)
    private func home(_ hash: UInt32) -> Int { Int(truncatingIfNeeded: hash &>> shift) }

    /// `slots` are the table's slots, where a candidate's key is compared.
    @inline(__always)
    func find(_ key: UInt64, in slots: UnsafePointer<MACTable.Slot>) -> Int32? {
        guard count > 0 else { return nil }  // also: the entries are not initialized before the first insert
        let hash = hash(key)
        let last = size &- 1
        var position = home(hash)
        while true {
            // SAFETY: `position` is masked to the table size.
            let found = entries[position]
            if found.slot < 0 { return nil }
            // SAFETY: stored slots are below the table's capacity (`MACTable.insert`).
            if found.hash == hash && slots[Int(found.slot)].key == key { return found.slot }
            position = (position &+ 1) & last
        }
    }

    /// Adds a key that is not present (the table never holds more than `capacity`).
    @inline(__always)
    func insert(_ key: UInt64, _ slot: Int32) {
        if !entriesInitialized {
            // SAFETY: allocated in init for `size` trivial entries, none initialized yet.
            entries.initialize(repeating: SlotIndex.empty, count: size)
            entriesInitialized = true
        }
        let hash = hash(key)
        let last = size &- 1
        var position = home(hash)
        // SAFETY: positions are masked to the table size; it is at most a quarter full, so an empty entry exists.
        while entries[position].slot >= 0 { position = (position &+ 1) & last }
        entries[position] = Entry(hash: hash, slot: slot)
        count &+= 1
    }

    /// Where the entry for `key`, which maps to `slot`, is; -1 when absent.
    @inline(__always)
    func position(of key: UInt64, _ slot: Int32) -> Int {
        guard count > 0 else { return -1 }  // also: the entries are not initialized before the first insert
        let last = size &- 1
        var position = home(hash(key))
        // SAFETY: positions are masked to the table size.
        while entries[position].slot != slot {
            if entries[position].slot < 0 { return -1 }
            position = (position &+ 1) & last
        }
        return position
    }

    /// Removes `key`, which maps to `slot`.
    func remove(_ key: UInt64, _ slot: Int32) {
        let position = position(of: key, slot)
        if position >= 0 { remove(at: position) }
    }

    /// Removes the entry at `position` (from `position(of:_:)`, the index unchanged since).
    func remove(at position: Int) {
        precondition(entriesInitialized && position >= 0 && position < size)
        let last = size &- 1
        // Backward shift: move up every later entry of the run whose home is not between the hole and it.
        var hole = position
        var next = (hole &+ 1) & last
        // SAFETY: positions are masked to the table size.
        while entries[next].slot >= 0 {
            let wanted = home(entries[next].hash)
            if (hole &- wanted) & last <= (next &- wanted) & last {
                entries[hole] = entries[next]
                hole = next
            }
            next = (next &+ 1) & last
        }
        entries[hole] = SlotIndex.empty
        count &-= 1
    }

    func removeAll() {
        guard entriesInitialized else { return }
        // SAFETY: `size` initialized trivial entries.
        entries.update(repeating: SlotIndex.empty, count: size)
        count = 0
    }
}
