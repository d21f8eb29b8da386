/// The most recent output of a guest process, bounded: old bytes fall off the front.
struct LogRing {
    let capacity: Int
    private var bytes: [UInt8] = []
    /// Bytes that fell off the front since the last clear.
    private(set) var dropped: UInt64 = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ chunk: some Collection<UInt8>) {
        bytes.append(contentsOf: chunk)
        if bytes.count > capacity {
            let excess = bytes.count - capacity
            dropped += UInt64(excess)
            bytes.removeFirst(excess)
        }
    }

    var contents: [UInt8] { bytes }

    mutating func clear() {
        bytes.removeAll(keepingCapacity: true)
        dropped = 0
    }
}
