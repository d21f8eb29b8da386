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
    public mutating func writeU16BE(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    @inlinable
    public mutating func writeU32BE(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    @inlinable
    public mutating func writeU64BE(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
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
