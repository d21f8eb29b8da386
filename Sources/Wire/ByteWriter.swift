/// Appends big-endian integers and byte runs to a growable buffer.
///
/// Encoders reserve capacity up front where the size is known so a frame costs one allocation.
@frozen
public struct ByteWriter {
    // Inlinable so codecs in other modules get specialised, inlined appends (no call per field).
    public var bytes: [UInt8]

    @inlinable
    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable
    public var count: Int { bytes.count }

    @inlinable
    public mutating func writeU8(_ value: UInt8) { bytes.append(value) }

    @inlinable
    public mutating func writeU16BE(_ value: UInt16) { appendRawBytes(of: value.bigEndian) }

    @inlinable
    public mutating func writeU32BE(_ value: UInt32) { appendRawBytes(of: value.bigEndian) }

    @inlinable
    public mutating func writeU64BE(_ value: UInt64) { appendRawBytes(of: value.bigEndian) }

    /// One bulk append of an integer's in-memory bytes (already byte-swapped by the caller): a byte-at-a-time
    /// append checks capacity per byte, which showed in the message-throughput profile.
    @inlinable
    mutating func appendRawBytes<T: FixedWidthInteger>(of value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    /// Appends `data`. Contiguous storage (an array, a slice) is copied from in place, so the data is borrowed,
    /// not retained for the append and released after it as a generic append of the collection does (two atomic
    /// operations per message on the messaging path).
    @inlinable
    public mutating func writeBytes<S: Sequence>(_ data: S) where S.Element == UInt8 {
        let copied: Void? = data.withContiguousStorageIfAvailable { bytes.append(contentsOf: $0) }
        if copied == nil { bytes.append(contentsOf: data) }
    }

    @inlinable
    public mutating func writeUTF8(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// Appends a run of `count` bytes (a frame's header and fixed fields) that `body` stores through a
    /// `FieldStore` on the stack, then copies in with one append: one capacity and uniqueness check for the run
    /// instead of one per field, which was a tenth of a delivered 64-byte message's instructions. `body` must
    /// store exactly `count` bytes; `count` is at most `FieldStore.maxBytes`.
    @inlinable
    public mutating func appendFields(count: Int, _ body: (inout FieldStore) -> Void) {
        precondition(count >= 0 && count <= FieldStore.maxBytes, "field run of \(count) bytes")
        withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { scratch in
            var store = FieldStore(scratch)
            body(&store)
            precondition(store.offset == count, "field run stored \(store.offset) of \(count) bytes")
            bytes.append(contentsOf: UnsafeRawBufferPointer(scratch))
        }
    }

    /// Overwrites a big-endian u32 at `offset`, used to patch a length prefix after the body is written.
    @inlinable
    public mutating func patchU32BE(_ value: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= bytes.count, "patch outside written bytes")
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * index)) }
    }
}

/// Stores big-endian fields into a fixed scratch buffer for `ByteWriter.appendFields`. Every store is range-checked
/// against the buffer, so a miscounted run traps instead of writing past it.
@frozen
public struct FieldStore {
    /// The largest run `appendFields` takes: a header with two 255-byte names fits, and the scratch stays on the
    /// stack.
    public static let maxBytes = 1024

    @usableFromInline let buffer: UnsafeMutableRawBufferPointer
    /// Bytes stored so far.
    @usableFromInline var stored = 0
    /// Bytes stored so far.
    @inlinable public var offset: Int { stored }

    @inlinable
    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    @inlinable
    mutating func store<T: FixedWidthInteger>(bigEndian value: T) {
        let width = MemoryLayout<T>.size
        precondition(offset + width <= buffer.count, "field store past its run")
        // SAFETY: the range [offset, offset + width) was checked to lie inside `buffer` just above; the store is
        // unaligned-safe (`storeBytes(of:toByteOffset:as:)` accepts any offset for trivial types).
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
        stored += width
    }

    @inlinable public mutating func u8(_ value: UInt8) { store(bigEndian: value) }
    @inlinable public mutating func u16(_ value: UInt16) { store(bigEndian: value) }
    @inlinable public mutating func u32(_ value: UInt32) { store(bigEndian: value) }
    @inlinable public mutating func u64(_ value: UInt64) { store(bigEndian: value) }

    @inlinable
    public mutating func bytes(_ source: UnsafeBufferPointer<UInt8>) {
        precondition(offset + source.count <= buffer.count, "field store past its run")
        guard let base = source.baseAddress, source.count > 0 else { return }
        // SAFETY: the destination range was checked to lie inside `buffer` just above; source and destination are
        // distinct allocations (the scratch is this run's own).
        (buffer.baseAddress! + offset).copyMemory(from: base, byteCount: source.count)
        stored += source.count
    }
}
