/// A bounded FIFO: appends and removals at the front are O(1), and the storage never grows
/// past the capacity given at creation, so a queue cannot eat memory. Storage starts small
/// and doubles on demand, so a thousand idle links with deep queues cost little.
///
/// Elements live in manually managed slots (`RingStorage`), not in an array of optionals: every queued message
/// passes through here, and an optional slot made each append copy the message, each read copy it out of the
/// optional, and each removal destroy it through the optional's generic witnesses — about a tenth of a
/// delivered message's instructions. Value semantics are kept by copying the storage before a mutation when
/// it is shared.
struct RingBuffer<Element> {
    private var storage: RingStorage<Element>
    /// The most elements the buffer will ever hold.
    let capacity: Int

    init(capacity: Int, initialStorage: Int = 8) {
        self.capacity = max(1, capacity)
        storage = RingStorage(
            slotCount: RingStorage<Element>.slotCount(for: min(self.capacity, max(1, initialStorage))))
    }

    var count: Int { storage.count }
    var isEmpty: Bool { storage.count == 0 }
    var isFull: Bool { storage.count == capacity }

    /// Appends; returns false when full.
    mutating func append(_ element: consuming Element) -> Bool {
        guard !isFull else { return false }
        makeUnique()
        if storage.count == storage.slotCount { grow() }
        storage.append(element)
        return true
    }

    private mutating func grow() {
        let slots = min(RingStorage<Element>.slotCount(for: capacity), storage.slotCount * 2)
        storage = storage.moved(toSlotCount: slots)
    }

    @discardableResult
    mutating func removeFirst() -> Element? {
        guard storage.count > 0 else { return nil }
        makeUnique()
        return storage.takeFirst()
    }

    /// Removes the first `n` elements (at most `count`).
    mutating func removeFirst(_ n: Int) {
        guard n > 0, storage.count > 0 else { return }
        makeUnique()
        storage.dropFirst(min(n, storage.count))
    }

    /// The element `offset` places from the front.
    subscript(offset: Int) -> Element {
        // A borrow, not a copy: reading one field of a queued message must not retain and release the rest.
        _read {
            precondition(offset >= 0 && offset < storage.count, "ring buffer index out of range")
            yield storage.slot(offset).pointee
        }
        _modify {
            precondition(offset >= 0 && offset < storage.count, "ring buffer index out of range")
            makeUnique()
            yield &storage.slot(offset).pointee
        }
    }

    var first: Element? { storage.count > 0 ? self[0] : nil }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.moved(toSlotCount: storage.slotCount, copying: true)
        }
    }
}

/// The slots of a `RingBuffer`: `slotCount` (a power of two, so positions wrap with a mask) slots of which the
/// `count` from `head` on (wrapping) are initialised. Only `RingBuffer` touches it.
final class RingStorage<Element> {
    let slots: UnsafeMutablePointer<Element>
    let slotCount: Int
    private(set) var head = 0
    private(set) var count = 0

    /// The power of two at or above `elements` (at least 1).
    static func slotCount(for elements: Int) -> Int {
        var slots = 1
        while slots < elements { slots <<= 1 }
        return slots
    }

    init(slotCount: Int) {
        precondition(slotCount > 0 && slotCount & (slotCount - 1) == 0, "ring slots must be a power of two")
        self.slotCount = slotCount
        slots = UnsafeMutablePointer<Element>.allocate(capacity: slotCount)
    }

    deinit {
        dropFirst(count)
        slots.deallocate()
    }

    /// The slot `offset` places from the head; the caller keeps `offset < count` (or `== count` to append).
    @inline(__always)
    func slot(_ offset: Int) -> UnsafeMutablePointer<Element> {
        // SAFETY: `slotCount` is a power of two, so the masked position is inside the allocation; callers only
        // read or write initialised slots (offset < count), except `append`, which initialises the next free one.
        slots + ((head &+ offset) & (slotCount - 1))
    }

    func append(_ element: consuming Element) {
        precondition(count < slotCount, "ring storage full")
        // SAFETY: the slot after the last element is free (count < slotCount) and uninitialised.
        slot(count).initialize(to: element)
        count += 1
    }

    func takeFirst() -> Element {
        precondition(count > 0, "ring storage empty")
        // SAFETY: the head slot is initialised (count > 0); moving out leaves it uninitialised, and the head
        // moves past it.
        let element = slots.advanced(by: head).move()
        head = (head + 1) & (slotCount - 1)
        count -= 1
        return element
    }

    func dropFirst(_ n: Int) {
        precondition(n >= 0 && n <= count, "ring storage has fewer elements")
        // At most two runs: up to the end of the allocation, then from its start.
        let firstRun = min(n, slotCount - head)
        // SAFETY: both runs are initialised slots (the first `n` from the head, wrapping once at most).
        slots.advanced(by: head).deinitialize(count: firstRun)
        if n > firstRun { slots.deinitialize(count: n - firstRun) }
        head = (head + n) & (slotCount - 1)
        count -= n
    }

    /// A new storage of `slots` slots holding the same elements from its slot 0: moved out of this one (which is
    /// left empty) for growth, or copied when this storage is shared with another buffer.
    func moved(toSlotCount slots: Int, copying: Bool = false) -> RingStorage<Element> {
        precondition(slots >= count, "ring storage too small for its elements")
        let target = RingStorage(slotCount: slots)
        for offset in 0..<count {
            // SAFETY: the source slots are initialised (offset < count); the target's first `count` slots are
            // fresh and each is initialised once.
            if copying {
                (target.slots + offset).initialize(to: slot(offset).pointee)
            } else {
                (target.slots + offset).moveInitialize(from: slot(offset), count: 1)
            }
        }
        target.count = count
        if !copying {
            // Everything was moved out: nothing is left to deinitialise here.
            head = 0
            count = 0
        }
        return target
    }
}
