/// A fixed-capacity FIFO: appends and removals at the front are O(1) and the storage never
/// grows past the capacity given at creation, so a queue cannot eat memory.
struct RingBuffer<Element> {
    private var storage: [Element?]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        storage = Array(repeating: nil, count: max(1, capacity))
    }

    var capacity: Int { storage.count }
    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == storage.count }

    /// Appends; returns false when full.
    mutating func append(_ element: Element) -> Bool {
        guard !isFull else { return false }
        storage[(head + count) % storage.count] = element
        count += 1
        return true
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

    /// The element `offset` places from the front.
    subscript(offset: Int) -> Element {
        get {
            precondition(offset >= 0 && offset < count, "ring buffer index out of range")
            return storage[(head + offset) % storage.count]!
        }
        set {
            precondition(offset >= 0 && offset < count, "ring buffer index out of range")
            storage[(head + offset) % storage.count] = newValue
        }
    }

    var first: Element? { count > 0 ? storage[head] : nil }
}
