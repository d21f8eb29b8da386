/// A cursor over received bytes that never reads past the end.
///
/// Codecs use it to parse one frame's body; every accessor returns `nil` or throws
/// `DecodeError.truncated` instead of trapping, so hostile input cannot crash the hub.
@frozen
public struct ByteReader {
    public let bytes: ArraySlice<UInt8>
    // Settable so the inlinable readers can advance it from other modules; callers only read it.
    public var index: Int

    @inlinable
    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    @inlinable
    public init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    @inlinable
    public var remaining: Int { bytes.endIndex - index }
    @inlinable
    public var isAtEnd: Bool { index >= bytes.endIndex }

    @inlinable
    public mutating func readU8() throws(DecodeError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(needed: 1, available: remaining) }
        defer { index += 1 }
        return bytes[index]
    }

    @inlinable
    public mutating func readU16BE() throws(DecodeError) -> UInt16 {
        guard remaining >= 2 else { throw .truncated(needed: 2, available: remaining) }
        defer { index += 2 }
        return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
    }

    @inlinable
    public mutating func readU32BE() throws(DecodeError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(needed: 4, available: remaining) }
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 8 | UInt32(bytes[index + offset]) }
        index += 4
        return value
    }

    @inlinable
    public mutating func readU64BE() throws(DecodeError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(needed: 8, available: remaining) }
        var value: UInt64 = 0
        for offset in 0..<8 { value = value << 8 | UInt64(bytes[index + offset]) }
        index += 8
        return value
    }

    /// Reads `count` bytes as a slice of the underlying buffer (no copy).
    @inlinable
    public mutating func readBytes(_ count: Int) throws(DecodeError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else { throw .truncated(needed: count, available: remaining) }
        defer { index += count }
        return bytes[index..<index + count]
    }

    /// Reads everything that is left.
    @inlinable
    public mutating func readRest() -> ArraySlice<UInt8> {
        defer { index = bytes.endIndex }
        return bytes[index...]
    }

    /// Reads a UTF-8 string of `count` bytes, rejecting invalid UTF-8.
    @inlinable
    public mutating func readUTF8(_ count: Int) throws(DecodeError) -> String {
        let raw = try readBytes(count)
        guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8 }
        return text
    }
}
