/// The bytes behind a shared memory region as the model sees them (TCP guests read and
/// write through it). The server may substitute a backing over a memfd mapping so that
/// Unix-socket guests and TCP guests share the same bytes.
package protocol RegionBacking: AnyObject {
    var sizeBytes: UInt64 { get }
    /// Callers have checked `offset + count <= sizeBytes`.
    func read(offset: UInt64, count: Int) -> [UInt8]
    /// Callers have checked `offset + bytes.count <= sizeBytes`.
    func write(offset: UInt64, bytes: some Collection<UInt8>)
}

/// Region bytes held in the hub's heap, allocated on first write so that an unused region
/// costs nothing (hubd's memory budget is small); reads before that return zeros.
package final class InMemoryRegionBacking: RegionBacking {
    package let sizeBytes: UInt64
    private var storage: [UInt8]? = nil

    package init(sizeBytes: UInt64) { self.sizeBytes = sizeBytes }

    package func read(offset: UInt64, count: Int) -> [UInt8] {
        guard let storage else { return Array(repeating: 0, count: count) }
        let start = Int(offset)
        return Array(storage[start..<start + count])
    }

    package func write(offset: UInt64, bytes: some Collection<UInt8>) {
        if storage == nil { storage = Array(repeating: 0, count: Int(sizeBytes)) }
        let start = Int(offset)
        storage!.replaceSubrange(start..<start + bytes.count, with: bytes)
    }
}
