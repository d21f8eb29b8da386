import EthernetWire

/// A port's queued frames, in order, in one contiguous buffer: each frame behind its length as a
/// `prefixWidth`-byte big-endian number (the stream framings of `Protocols/ethernet.md` §3; no prefix when 0).
///
/// Queuing a frame copies its bytes once, so a queued frame holds no reference to the read it came from, and a
/// stream port writes a whole pass's frames as `bytes`, one buffer, with no per-frame copy or reference count.
/// Other transports read the frames one by one (it is a collection of frames, prefixes left out).
public struct EgressQueue: RandomAccessCollection {
    /// 0 (no prefix), 2 (VDE) or 4 (QEMU stream).
    public let prefixWidth: Int
    /// The records back to back in `storage[..<used]`: each frame's prefix, then the frame. What lies past `used`
    /// is room already allocated for more (zeroed when it was added, or bytes of records already taken): a
    /// frame is queued by copying it into that room, with no per-append capacity and count bookkeeping of
    /// `Array` (two `append(contentsOf:)` calls cost more than the 64-byte frame's copy itself).
    private var storage: [UInt8] = []
    private var used = 0
    /// Where each record ends in `storage`: `endOffsets[..<count]`, the rest room as above.
    private var endOffsets: [Int] = []
    private var recordCount = 0

    /// Storage above this is released once written, so a port that took one burst does not keep its memory. A
    /// full read slice of the largest frames (256 × 1522 bytes) fits, so a busy stream port's buffer is neither
    /// reallocated nor regrown every pass (regrowing copies it again at each doubling).
    static let keptCapacity = 512 * 1024

    public init(prefixWidth: Int = 0) {
        precondition(prefixWidth == 0 || prefixWidth == 2 || prefixWidth == 4, "prefix width 0, 2 or 4")
        self.prefixWidth = prefixWidth
    }

    /// The records back to back: each frame's prefix, then the frame (what a stream port writes in one go).
    public var bytes: ArraySlice<UInt8> { storage[..<used] }

    public var startIndex: Int { 0 }
    public var endIndex: Int { recordCount }

    /// Frame `index` without its prefix.
    public subscript(index: Int) -> ArraySlice<UInt8> {
        precondition(index >= 0 && index < recordCount, "frame index out of range")
        let start = (index == 0 ? 0 : endOffsets[index - 1]) + prefixWidth
        return storage[start..<endOffsets[index]]
    }

    /// Bytes of the frames queued, prefixes not counted.
    public var frameBytes: Int { used - recordCount * prefixWidth }

    /// Queues a copy of `frame` behind its prefix. A frame longer than the prefix can say is the caller's
    /// error: the switch never queues one (the stream ports' maximum frame fits their prefix).
    mutating func append(_ frame: ArraySlice<UInt8>) {
        frame.withUnsafeBytes { append($0) }
    }

    /// Queues a copy of lent bytes (read during the call only) behind their prefix.
    mutating func append(_ frame: UnsafeRawBufferPointer) {
        let length = frame.count
        let start = used
        let end = start + prefixWidth + length
        if end > storage.count { EgressQueue.makeRoom(&storage, for: end) }
        if recordCount == endOffsets.count { EgressQueue.makeRoom(&endOffsets, for: recordCount + 1) }
        let width = prefixWidth
        storage.withUnsafeMutableBytes { room in
            // SAFETY: `end <= room.count` (made so above), so the prefix and the frame fit at `start`; the frame's
            // bytes are the caller's, read during this call only, and never overlap the queue's own storage.
            if width == 4 {
                room.storeBytes(of: UInt32(truncatingIfNeeded: length).bigEndian, toByteOffset: start, as: UInt32.self)
            } else if width == 2 {
                room.storeBytes(of: UInt16(truncatingIfNeeded: length).bigEndian, toByteOffset: start, as: UInt16.self)
            }
            if length > 0 {
                UnsafeMutableRawBufferPointer(rebasing: room[(start + width)..<end]).copyMemory(from: frame)
            }
        }
        endOffsets[recordCount] = end
        recordCount += 1
        used = end
    }

    /// Queues `count` records laid out as this queue lays them out (each frame behind its `prefixWidth`-byte
    /// length), lent for the call, with one copy: a run of a stream read's frames to one port. The caller has
    /// checked that the records are whole and each frame fits.
    mutating func appendRecords(_ records: UnsafeRawBufferPointer, count: Int) {
        let width = prefixWidth
        precondition(width == 2 || width == 4, "records need a prefix")
        let start = used
        let end = start + records.count
        if end > storage.count { EgressQueue.makeRoom(&storage, for: end) }
        if recordCount + count > endOffsets.count { EgressQueue.makeRoom(&endOffsets, for: recordCount + count) }
        storage.withUnsafeMutableBytes { room in
            // SAFETY: `end <= room.count` (made so above); the records are the caller's, read during this call
            // only, and never overlap the queue's own storage.
            UnsafeMutableRawBufferPointer(rebasing: room[start..<end]).copyMemory(from: records)
        }
        var offset = 0
        var index = recordCount
        endOffsets.withUnsafeMutableBufferPointer { ends in
            for _ in 0..<count {
                precondition(records.count - offset >= width, "records are not \(count) whole records")
                // SAFETY: `width` bytes are left at `offset` (checked above); `index` < recordCount + count <=
                // ends.count (made so above).
                offset += width + StreamFraming.prefixedLength(in: records, at: offset, width: width)
                ends[index] = start + offset
                index += 1
            }
        }
        precondition(offset == records.count, "records are not \(count) whole records")
        recordCount = index
        used = end
    }

    /// Grows `array` (zero-filled) to at least `count` elements, at least doubling it: amortised, not per append.
    private static func makeRoom<T: FixedWidthInteger>(_ array: inout [T], for count: Int) {
        let target = Swift.max(count, array.count * 2, 64)
        array.append(contentsOf: repeatElement(0, count: target - array.count))
    }

    /// Forgets every frame; with `keepingCapacity`, keeps the storage (and its room) for the next pass.
    mutating func removeAll(keepingCapacity: Bool = false) {
        used = 0
        recordCount = 0
        if !keepingCapacity {
            storage = []
            endOffsets = []
        }
    }

    var isWorthKeeping: Bool { storage.count <= EgressQueue.keptCapacity }
}
