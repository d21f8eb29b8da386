/// A 48-bit IEEE 802 MAC address, held in the low 48 bits of an integer so tables hash it cheaply.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)

    /// Reads six bytes at `offset`; the caller has checked the length.
    @inlinable
    public init(_ bytes: some Collection<UInt8>, at offset: Int) {
        var value: UInt64 = 0
        var index = bytes.index(bytes.startIndex, offsetBy: offset)
        for _ in 0..<6 {
            value = value << 8 | UInt64(bytes[index])
            index = bytes.index(after: index)
        }
        rawValue = value
    }

    /// Reads six bytes at `offset` of raw memory (a frame in a read buffer); the caller has checked the length.
    /// Two unaligned loads instead of six byte reads: the switch reads two addresses per frame.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        let high = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        let low = UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self))
        rawValue = UInt64(high) << 16 | UInt64(low)
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-`); `nil` when malformed.
    public init?(parsing text: String) {
        let parts = text.split(omittingEmptySubsequences: false) { $0 == ":" || $0 == "-" }
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(byte)
        }
        rawValue = value
    }

    /// The group bit (I/G): broadcast and multicast frames are flooded.
    public var isGroup: Bool { rawValue & 0x0100_0000_0000 != 0 }
    public var isBroadcast: Bool { self == .broadcast }

    public var bytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * UInt64($0))) } }

    public var description: String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: ":")
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.rawValue < rhs.rawValue }
}
