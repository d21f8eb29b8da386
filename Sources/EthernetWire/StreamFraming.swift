import Wire

/// The two length-prefixed framings Ethernet frames travel in over byte streams (`Protocols/ethernet.md` §3).
public enum StreamFraming: String, Sendable, CaseIterable {
    /// QEMU `-netdev stream` (and the older `-netdev socket`): 4-byte big-endian length, then the frame.
    case qemu
    /// VDE stream cables (`vde_plug` over pipes/SSH): 2-byte big-endian length, then the frame.
    case vde

    public var prefixWidth: LengthPrefixedFramer.PrefixWidth { self == .qemu ? .four : .two }

    /// QEMU's receive buffer (`NET_BUFSIZE` = 4096 + 65536): the largest frame a QEMU peer can send.
    public static let qemuMaxFrame = 4096 + 65536

    /// A framer accepting lengths up to `maxFrameLength`. Empty frames are let through so the switch
    /// can count them as runts instead of hanging up on the peer.
    public func makeFramer(maxFrameLength: Int) -> LengthPrefixedFramer {
        let ceiling = self == .vde ? 0xFFFF : maxFrameLength
        return LengthPrefixedFramer(
            prefixWidth: prefixWidth, maxFrameLength: min(maxFrameLength, ceiling), allowEmpty: true)
    }

    /// The length in the `width`-byte (2 or 4) big-endian prefix at `offset` of `bytes`, read in one load (a byte
    /// loop cost a tenth of the hub's user-space work per 64-byte frame). The caller has checked that `width`
    /// bytes are there.
    @inlinable
    public static func prefixedLength(in bytes: UnsafeRawBufferPointer, at offset: Int, width: Int) -> Int {
        width == 4
            ? Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            : Int(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Appends the prefix for a frame of `length` bytes.
    @inline(__always)
    public func appendPrefix(length: Int, to out: inout [UInt8]) {
        if self == .qemu {
            out.append(UInt8(truncatingIfNeeded: length >> 24))
            out.append(UInt8(truncatingIfNeeded: length >> 16))
        }
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
    }
}
