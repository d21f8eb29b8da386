/// The most recent bytes of a stream, bounded: old bytes fall off the front (a guest process's output, kept for
/// `partition.log`).
package struct ByteRing {
    package let capacity: Int
    private var bytes: [UInt8] = []
    /// Bytes that fell off the front since the last clear.
    package private(set) var dropped: UInt64 = 0

    package init(capacity: Int) { self.capacity = capacity }

    package mutating func append(_ chunk: some Collection<UInt8>) {
        bytes.append(contentsOf: chunk)
        if bytes.count > capacity {
            let excess = bytes.count - capacity
            dropped += UInt64(excess)
            bytes.removeFirst(excess)
        }
    }

    package var contents: [UInt8] { bytes }

    package mutating func clear() {
        bytes.removeAll(keepingCapacity: true)
        dropped = 0
    }
}
