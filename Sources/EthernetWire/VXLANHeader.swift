import Wire

/// The 8-byte VXLAN header of RFC 7348 §5: flags (I bit 0x08 set), 24 reserved bits, a 24-bit
/// VXLAN Network Identifier, 8 reserved bits. The inner Ethernet frame follows, without FCS.
public enum VXLANHeader {
    public static let length = 8
    /// The IANA port (RFC 7348 §5); Linux's `vxlan` device needs `dstport 4789` to use it.
    public static let defaultPort: UInt16 = 4789
    public static let vniRange: ClosedRange<UInt32> = 0...0xFF_FFFF

    /// The header for `vni`.
    public static func encode(vni: UInt32) -> [UInt8] {
        [
            0x08, 0, 0, 0, UInt8(truncatingIfNeeded: vni >> 16), UInt8(truncatingIfNeeded: vni >> 8),
            UInt8(truncatingIfNeeded: vni), 0,
        ]
    }

    /// Splits a datagram into its VNI and inner frame. Rejects a missing I flag or a datagram too short to hold
    /// the header; reserved bits are ignored on receipt, as RFC 7348 asks. The inner frame may be short: the
    /// switch judges it as it judges every port's frames (a runt under 14 bytes).
    public static func decode(_ datagram: ArraySlice<UInt8>) throws(DecodeError) -> (
        vni: UInt32, frame: ArraySlice<UInt8>
    ) {
        guard datagram.count >= length else { throw .truncated(needed: length, available: datagram.count) }
        let base = datagram.startIndex
        guard datagram[base] & 0x08 != 0 else {
            throw .invalidValue(field: "vxlan.flags", reason: "the I flag (0x08) is not set")
        }
        let vni = UInt32(datagram[base + 4]) << 16 | UInt32(datagram[base + 5]) << 8 | UInt32(datagram[base + 6])
        return (vni, datagram[(base + length)...])
    }
}
