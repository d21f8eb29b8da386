/// A bounded FIFO: appends and removals at the front are O(1), and the storage never grows
/// past the capacity given at creation, so a queue cannot eat memory. Storage starts small
/// and doubles on demand, so a thousand idle links with deep queues cost little.
struct RingBuffer<Element> {
    private var storage: [Element?]
    private var head = 0
    private(set) var count = 0
    /// The most elements the buffer will ever hold.
    let capacity: Int

    init(capacity: Int, initialStorage: Int = 8) {
        self.capacity = max(1, capacity)
        storage = Array(repeating: nil, count: min(self.capacity, max(1, initialStorage)))
    }

    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == capacity }

    /// Appends; returns false when full.
    mutating func append(_ element: Element) -> Bool {
        guard !isFull else { return false }
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = element
        count += 1
        return true
    }

    private mutating func grow() {
        let newSize = min(capacity, storage.count * 2)
        var newStorage = [Element?](repeating: nil, count: newSize)
        for offset in 0..<count { newStorage[offset] = storage[(head + offset) % storage.count] }
        storage = newStorage
        head = 0
    }

    @discardableResult
    mutating func removeFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return element
    }

    /// Removes the first `n` elements (at most `count`).
    mutating func removeFirst(_ n: Int) {
        for _ in 0..<min(n, count) {
            storage[head] = nil
            head = (head + 1) % storage.count
        }
        count = max(0, count - n)
    }

    /// The element `offset` places from the front.
    subscript(offset: Int) -> Element {
        // A borrow, not a copy: reading one field of a queued message must not retain and release the rest.
        _read {
            precondition(offset >= 0 && offset < count, "ring buffer index out of range")
            yield storage[(head + offset) % storage.count]!
        }
        set {
            precondition(offset >= 0 && offset < count, "ring buffer index out of range")
            storage[(head + offset) % storage.count] = newValue
        }
    }

    var first: Element? { count > 0 ? storage[head] : nil }
}
