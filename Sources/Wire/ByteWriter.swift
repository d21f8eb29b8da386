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

    @inlinable
    public mutating func writeBytes<S: Sequence>(_ data: S) where S.Element == UInt8 { bytes.append(contentsOf: data) }

    @inlinable
    public mutating func writeUTF8(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// Overwrites a big-endian u32 at `offset`, used to patch a length prefix after the body is written.
    @inlinable
    public mutating func patchU32BE(_ value: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= bytes.count, "patch outside written bytes")
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * index)) }
    }
}
