import CCacheHint

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
        var seen: UInt64
        /// The port's number, 4 bytes so that `place` fits in the slot's 32.
        var portNumber: Int32
        /// Where the index holds the key: an index entry never moves while its key is in the table, so an eviction
        /// finds the evicted key's entry without hashing it or comparing lanes.
        var place: Int32
        var port: PortID {
            get { PortID(rawValue: Int(portNumber)) }
            set { portNumber = Int32(newValue.rawValue) }
        }
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
    /// Internal, not private: tests inspect its buckets.
    let index: SlotIndex
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
        slots[Int(slot)] = Slot(
            key: key, seen: now, portNumber: Int32(port.rawValue), place: 0,
            previous: MACTable.none, next: MACTable.none)
        if slot >= initialized { initialized = slot + 1 }
        slots[Int(slot)].place = index.insert(key, slot)
        append(slot)
        return slot
    }

    /// The entry a full table evicts next and its place in the index; valid until the table changes.
    struct Victim {
        let slot: Int32
        let key: UInt64
        let position: Int
    }

    /// Reads the entry a new key would evict and its place in the index (stored in its slot). The switch asks
    /// before it looks a new source up in a full table, so the victim's bucket, which replacing it then writes, is
    /// known early and its read overlaps with the lookup's (under a flood both miss the cache).
    @inline(__always)
    func nextVictim() -> Victim? {
        let slot = head
        guard slot != MACTable.none else { return nil }
        // SAFETY: list members are in-use slots below capacity.
        let key = slots[Int(slot)].key
        return Victim(slot: slot, key: key, position: Int(slots[Int(slot)].place))
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
        slots[Int(slot)].place = index.insert(key, slot)
        prefetchNextVictim()
        return evicted
    }

    /// Starts loading the index bucket the next eviction writes, so that under a flood the frame after this one
    /// does not wait for it: the head's slot is the one after this slot in a flood's order (read without a miss),
    /// but its bucket is anywhere in the index, and waiting for it was about a tenth of learning a flooded frame's
    /// source (`perf record` of the hub under a MAC flood, before this hint).
    @inline(__always)
    private func prefetchNextVictim() {
        let slot = head
        guard slot != MACTable.none else { return }
        // SAFETY: list members are in-use slots below capacity.
        index.prefetch(place: Int(slots[Int(slot)].place))
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
        index.remove(at: Int(entry.place))
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

/// Key → slot: a hash table of 64-byte buckets, one cache line each, sized once for the table's limit (a bucket
/// per two keys, so 7 lanes per bucket leave it under a third full and it never grows). A lookup is one multiply and
/// reads one bucket; a removal clears its lane and moves nothing. (Linear probing over single entries shifted part
/// of a run back on every removal and branched on every entry it passed: under a MAC flood, where every frame
/// looks a new key up, evicts one and inserts one, that was most of the table's cost.) Swift's `Dictionary`
/// hashes with SipHash, several times the cost. The multiply-shift hash takes a random odd multiplier and mask per
/// table, so the addresses a peer sends cannot be chosen to crowd a bucket.
///
/// A bucket holds 7 entries: the hash's top 32 bits and the slot (the key itself, in the slot, is read only when
/// the hashes agree), a bit set of the lanes in use, and an overflow count. A key whose home bucket (the hash's top
/// bits) is full goes to the next bucket with room, and every full bucket it passed counts it as overflowing; its
/// removal counts it off again (it never moves meanwhile). A lookup goes on to the next bucket only while the
/// current one counts an overflow, so an absent key usually costs one bucket, and a bucket that overflowed once
/// does not lengthen lookups after its overflowing keys are gone.
final class SlotIndex {
    /// Words of one bucket: the 7 lanes' hashes, then their slots, then the lanes in use, then the overflow count.
    private static let slotWords = 7
    private static let usedWord = 14
    private static let overflowWord = 15
    private static let lanes = 7
    private static let allLanes: UInt32 = 0x7F

    /// `buckets` buckets of 16 words, each 64-byte aligned, zeroed (all lanes free) at the first insert: until
    /// then the table is empty, and nothing reads them.
    private let words: UnsafeMutablePointer<UInt32>
    private var wordsInitialized = false
    private let buckets: Int
    /// 32 - log2(buckets): a hash's home bucket is its top bits.
    private let shift: UInt32
    private let multiplier: UInt64
    private let mask: UInt64
    private(set) var count = 0

    /// Room for `capacity` keys.
    init(seed: UInt64, capacity: Int) {
        var random = SplitMix64(seed: seed)
        multiplier = random.next() | 1
        mask = random.next()
        var bits = 1
        while 1 << bits < capacity / 2 { bits += 1 }
        buckets = 1 << bits
        shift = UInt32(32 - bits)
        // SAFETY: bound once to UInt32 for its whole life; deallocated in deinit.
        words = UnsafeMutableRawPointer.allocate(byteCount: buckets * 64, alignment: 64)
            .bindMemory(to: UInt32.self, capacity: buckets * 16)
    }

    deinit {
        // SAFETY: allocated in init; UInt32 is trivial.
        words.deallocate()
    }

    @inline(__always)
    private func hash(_ key: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: ((key ^ mask) &* multiplier) >> 32) }

    @inline(__always)
    private func home(_ hash: UInt32) -> Int { Int(truncatingIfNeeded: hash &>> shift) }

    /// The bucket a key is looked up from first (tests use it to crowd buckets).
    func homeBucket(of key: UInt64) -> Int { home(hash(key)) }

    var bucketCount: Int { buckets }

    @inline(__always)
    private func bucket(_ number: Int) -> UnsafeMutablePointer<UInt32> {
        // SAFETY: callers mask bucket numbers to `buckets`; each bucket is 16 words.
        words + (number &<< 4)
    }

    /// The lanes in use whose word at `base` + lane equals `value`, as a bit set. Compares all 7 without
    /// branching: which lane matches, if any, is random.
    @inline(__always)
    private static func lanes(_ bucket: UnsafeMutablePointer<UInt32>, from base: Int, equalTo value: UInt32) -> UInt32 {
        // SAFETY: `base` is 0 or `slotWords`, so every word read is inside the bucket.
        var found: UInt32 = bucket[base] == value ? 1 : 0
        found |= bucket[base &+ 1] == value ? 2 : 0
        found |= bucket[base &+ 2] == value ? 4 : 0
        found |= bucket[base &+ 3] == value ? 8 : 0
        found |= bucket[base &+ 4] == value ? 16 : 0
        found |= bucket[base &+ 5] == value ? 32 : 0
        found |= bucket[base &+ 6] == value ? 64 : 0
        return found & bucket[usedWord]
    }

    /// `slots` are the table's slots, where a candidate's key is compared.
    @inline(__always)
    func find(_ key: UInt64, in slots: UnsafePointer<MACTable.Slot>) -> Int32? {
        guard count > 0 else { return nil }  // also: the buckets are not initialized before the first insert
        let hash = hash(key)
        let last = buckets &- 1
        var number = home(hash)
        // Bounded by the bucket count: overflow counts could in principle cover every bucket.
        for _ in 0..<buckets {
            let bucket = bucket(number)
            var found = SlotIndex.lanes(bucket, from: 0, equalTo: hash)
            while found != 0 {
                // SAFETY: a lane's slot word; stored slots are below the table's capacity (`MACTable.insert`).
                let slot = Int32(bitPattern: bucket[SlotIndex.slotWords &+ found.trailingZeroBitCount])
                if slots[Int(slot)].key == key { return slot }
                found &= found &- 1
            }
            // SAFETY: inside the bucket.
            if bucket[SlotIndex.overflowWord] == 0 { return nil }
            number = (number &+ 1) & last
        }
        return nil
    }

    /// Adds a key that is not present (the table never holds more than `capacity`); returns where it is (bucket
    /// × 8 + lane), which stays its place until it is removed.
    @inline(__always)
    func insert(_ key: UInt64, _ slot: Int32) -> Int32 {
        if !wordsInitialized {
            // SAFETY: allocated in init for this many trivial words, none initialized yet.
            words.initialize(repeating: 0, count: buckets * 16)
            wordsInitialized = true
        }
        let hash = hash(key)
        let last = buckets &- 1
        var number = home(hash)
        // SAFETY: bucket numbers are masked; the buckets hold 3.5 times the capacity, so one has room.
        while true {
            let bucket = bucket(number)
            let free = ~bucket[SlotIndex.usedWord] & SlotIndex.allLanes
            if free != 0 {
                let lane = free.trailingZeroBitCount
                bucket[lane] = hash
                bucket[SlotIndex.slotWords &+ lane] = UInt32(bitPattern: slot)
                bucket[SlotIndex.usedWord] |= 1 &<< UInt32(lane)
                count &+= 1
                return Int32(truncatingIfNeeded: number &<< 3 | lane)
            }
            bucket[SlotIndex.overflowWord] &+= 1
            number = (number &+ 1) & last
        }
    }

    /// The slot the entry at `place` (from `insert`) maps to; nil when that lane is free (tests).
    func slot(at place: Int) -> Int32? {
        guard wordsInitialized, place >= 0, place &>> 3 < buckets, place & 7 < SlotIndex.lanes else { return nil }
        let bucket = bucket(place &>> 3)
        guard bucket[SlotIndex.usedWord] & 1 &<< UInt32(place & 7) != 0 else { return nil }
        return Int32(bitPattern: bucket[SlotIndex.slotWords &+ place & 7])
    }

    /// Hints the processor to load the bucket of `place` (from `insert`): no effect but on timing.
    @inline(__always)
    func prefetch(place: Int) {
        guard wordsInitialized else { return }
        // SAFETY: the bucket number is masked into the index; a prefetch neither faults nor changes memory.
        cache_hint_prefetch_for_write(bucket((place &>> 3) & (buckets &- 1)))
    }

    /// Removes the entry at `position` (its place, from `insert`).
    @inline(__always)
    func remove(at position: Int) {
        let number = position &>> 3
        let lane = position & 7
        precondition(wordsInitialized && position >= 0 && number < buckets && lane < SlotIndex.lanes)
        let bucket = bucket(number)
        let bit: UInt32 = 1 &<< UInt32(lane)
        // SAFETY: inside the bucket.
        precondition(bucket[SlotIndex.usedWord] & bit != 0, "SlotIndex.remove(at:) of a free lane")
        bucket[SlotIndex.usedWord] &= ~bit
        // The full buckets between its home and here counted it as overflowing.
        let last = buckets &- 1
        var passed = home(bucket[lane])
        while passed != number {
            self.bucket(passed)[SlotIndex.overflowWord] &-= 1
            passed = (passed &+ 1) & last
        }
        count &-= 1
    }

    func removeAll() {
        guard wordsInitialized else { return }
        // SAFETY: `buckets * 16` initialized trivial words.
        words.update(repeating: 0, count: buckets * 16)
        count = 0
    }

    /// Whether the lanes in use add up to `count` and every bucket's overflow count is the number of entries
    /// whose way from their home bucket to where they are passes it (tests; O(buckets)).
    var isConsistent: Bool {
        guard wordsInitialized else { return count == 0 }
        var overflows = [UInt32](repeating: 0, count: buckets)
        var used = 0
        for number in 0..<buckets {
            let bucket = bucket(number)
            var lanes = bucket[SlotIndex.usedWord]
            if lanes & ~SlotIndex.allLanes != 0 { return false }
            used += lanes.nonzeroBitCount
            while lanes != 0 {
                var passed = home(bucket[lanes.trailingZeroBitCount])
                while passed != number {
                    overflows[passed] += 1
                    passed = (passed + 1) & (buckets - 1)
                }
                lanes &= lanes - 1
            }
        }
        return used == count && (0..<buckets).allSatisfy { bucket($0)[SlotIndex.overflowWord] == overflows[$0] }
    }

    /// Entries not in their home bucket (tests: whether a test reached the overflow path).
    var overflowingEntries: Int {
        guard wordsInitialized else { return 0 }
        var total = 0
        for number in 0..<buckets {
            let bucket = bucket(number)
            var lanes = bucket[SlotIndex.usedWord]
            while lanes != 0 {
                if home(bucket[lanes.trailingZeroBitCount]) != number { total += 1 }
                lanes &= lanes - 1
            }
        }
        return total
    }
}
