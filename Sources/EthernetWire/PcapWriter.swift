/// The classic libpcap file format (tcpdump.org, "pcap file format"; draft-ietf-opsawg-pcap):
/// a 24-byte global header then one 16-byte record header per frame. Microsecond timestamps,
/// little-endian (magic 0xa1b2c3d4 written LE), link type 1 (Ethernet). No I/O here: the
/// caller writes the bytes wherever it likes.
public enum PcapWriter {
    public static let linkTypeEthernet: UInt32 = 1
    public static let globalHeaderLength = 24
    public static let recordHeaderLength = 16

    public static func globalHeader(snapLength: UInt32 = 65535) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(globalHeaderLength)
        le32(0xA1B2_C3D4, &out)
        le16(2, &out)  // version major
        le16(4, &out)  // version minor
        le32(0, &out)  // thiszone
        le32(0, &out)  // sigfigs
        le32(snapLength, &out)
        le32(linkTypeEthernet, &out)
        return out
    }

    /// The record header and (up to `snapLength` bytes of) the frame, appended to `out`.
    public static func appendRecord(
        _ frame: some Collection<UInt8>, unixNanoseconds: UInt64, snapLength: Int = 65535, to out: inout [UInt8]
    ) {
        let captured = min(frame.count, snapLength)
        le32(UInt32(truncatingIfNeeded: unixNanoseconds / 1_000_000_000), &out)
        le32(UInt32(truncatingIfNeeded: (unixNanoseconds % 1_000_000_000) / 1000), &out)
        le32(UInt32(captured), &out)
        le32(UInt32(truncatingIfNeeded: frame.count), &out)
        out.append(contentsOf: frame.prefix(captured))
    }

    private static func le32(_ value: UInt32, _ out: inout [UInt8]) {
        for shift in stride(from: 0, through: 24, by: 8) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    private static func le16(_ value: UInt16, _ out: inout [UInt8]) {
        out.append(UInt8(value & 0xFF))
        out.append(UInt8(value >> 8))
    }
}
