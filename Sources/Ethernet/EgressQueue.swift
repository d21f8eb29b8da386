/// A port's queued frames, in order, in one contiguous buffer: each frame behind its length as a
/// `prefixWidth`-byte big-endian number (the stream framings of `Protocols/ethernet.md` §3; no prefix when 0).
///
/// Queuing a frame copies its bytes once, so a queued frame holds no reference to the read it came from, and a
/// stream port writes a whole pass's frames as `bytes`, one buffer, with no per-frame copy or reference count.
/// Other transports read the frames one by one (it is a collection of frames, prefixes left out).
public struct EgressQueue: RandomAccessCollection {
    /// 0 (no prefix), 2 (VDE) or 4 (QEMU stream).
    public let prefixWidth: Int
    /// The records back to back: each frame's prefix, then the frame.
    public private(set) var bytes: [UInt8] = []
    /// Where each record ends in `bytes`.
    private var ends: [Int] = []

    /// Storage above this is released once written, so a port that took one burst does not keep its memory. A
    /// full read slice of the largest frames (256 × 1522 bytes) fits, so a busy stream port's buffer is neither
    /// reallocated nor regrown every pass (regrowing copies it again at each doubling).
    static let keptCapacity = 512 * 1024

    public init(prefixWidth: Int = 0) {
        precondition(prefixWidth == 0 || prefixWidth == 2 || prefixWidth == 4, "prefix width 0, 2 or 4")
        self.prefixWidth = prefixWidth
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { ends.count }

    /// Frame `index` without its prefix.
    public subscript(index: Int) -> ArraySlice<UInt8> {
        let start = (index == 0 ? 0 : ends[index - 1]) + prefixWidth
        return bytes[start..<ends[index]]
    }

    /// Bytes of the frames queued, prefixes not counted.
    public var frameBytes: Int { bytes.count - ends.count * prefixWidth }

    /// Queues a copy of `frame` behind its prefix. A frame longer than the prefix can say is the caller's
    /// error: the switch never queues one (the stream ports' maximum frame fits their prefix).
    mutating func append(_ frame: ArraySlice<UInt8>) {
        frame.withUnsafeBytes { append($0) }
    }

    /// As `append(_:)` on a slice, from memory the caller owns (read during the call only).
    mutating func append(_ frame: UnsafeRawBufferPointer) {
        let length = frame.count
        if prefixWidth > 0 {
            // The prefix in one append (its big-endian bytes, the last `prefixWidth` of four), not one per byte.
            var prefix = UInt32(truncatingIfNeeded: length).bigEndian
            withUnsafeBytes(of: &prefix) { word in
                // SAFETY: `word` is the four bytes of `prefix`, read during this call only; prefixWidth is 2 or 4.
                bytes.append(
                    contentsOf: UnsafeBufferPointer(
                        start: word.baseAddress!.assumingMemoryBound(to: UInt8.self) + (4 - prefixWidth),
                        count: prefixWidth))
            }
        }
        // SAFETY: the caller's bytes are read during this call only; UInt8 is a trivial type any bytes may be
        // viewed as.
        bytes.append(
            contentsOf: UnsafeBufferPointer(
                start: frame.baseAddress?.assumingMemoryBound(to: UInt8.self), count: length))
        ends.append(bytes.count)
    }

    mutating func removeAll(keepingCapacity: Bool = false) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
        ends.removeAll(keepingCapacity: keepingCapacity)
    }

    /// Whether keeping this storage for the next pass is worth its memory.
    var isWorthKeeping: Bool { bytes.capacity <= EgressQueue.keptCapacity }
}
