/// Items collected during a loop pass and handled together at its end (sessions to write out, readers to resume).
/// `take` hands over everything collected and goes on collecting into the storage of the list taken the time
/// before, which the caller gives back with `recycle` once it has handled it: a busy loop allocates nothing per
/// pass once both lists have grown. (Copying the list and emptying it kept the storage with the copy, so the list
/// that went on collecting allocated anew every pass.) What handling collects goes to the next list.
public struct PassList<Element> {
    private var collecting: [Element] = []
    private var spare: [Element] = []

    public init() {}

    public var isEmpty: Bool { collecting.isEmpty }

    public mutating func append(_ element: Element) { collecting.append(element) }

    /// Everything collected since the last `take`, in order.
    public mutating func take() -> [Element] {
        var taken = spare
        spare = []
        swap(&taken, &collecting)
        return taken
    }

    /// Gives back a list `take` returned, handled: it is emptied, and its storage collects after the next `take`.
    public mutating func recycle(_ list: inout [Element]) {
        list.removeAll(keepingCapacity: true)
        if list.capacity > spare.capacity { swap(&list, &spare) }
    }

    /// Forgets everything collected (a stop), spare storage included.
    public mutating func removeAll() {
        collecting = []
        spare = []
    }
}
