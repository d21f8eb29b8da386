/// A FIFO of frames with a head index, so popping from the front costs nothing and the storage is reused.
struct FrameQueue<Element> {
    private var items: [Element] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head >= items.count }
    var first: Element? { isEmpty ? nil : items[head] }

    mutating func append(_ item: Element) { items.append(item) }

    mutating func removeFirst() -> Element {
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    /// Everything queued, in order; the queue is left empty.
    mutating func drain() -> ArraySlice<Element> {
        let out = items[head...]
        let capacity = items.count - head
        items = []
        // One allocation for the next pass instead of a doubling series (the previous storage goes with `out`).
        items.reserveCapacity(capacity)
        head = 0
        return out
    }

    mutating func removeAll() {
        items.removeAll(keepingCapacity: false)
        head = 0
    }
}
