import Wire

/// The fields of an Ethernet II header the switch looks at (`Protocols/ethernet.md` §2).
///
/// Frames carry no preamble and no FCS: what QEMU, VDE, TAP and VXLAN exchange starts at the
/// destination MAC. An IEEE 802.1Q tag (TPID 0x8100) sits between the source MAC and the EtherType.
public struct EthernetHeader: Equatable, Sendable {
    public var destination: MACAddress
    public var source: MACAddress
    /// The 802.1Q tag when present.
    public var tag: VLANTag?
    /// The EtherType after any tag (or the 802.3 length, which the switch treats alike).
    public var etherType: UInt16

    /// Destination + source + EtherType.
    public static let length = 14
    /// The 802.1Q tag: TPID + TCI.
    public static let tagLength = 4
    public static let tpid8021Q: UInt16 = 0x8100
    /// IEEE 802.1ad service tag (QinQ outer tag).
    public static let tpid8021AD: UInt16 = 0x88A8

    /// Whether an EtherType is a VLAN tag's TPID (802.1Q or 802.1ad): such a frame carries another tag there.
    @inline(__always)
    public static func isTagType(_ type: UInt16) -> Bool { type == tpid8021Q || type == tpid8021AD }

    public init(destination: MACAddress, source: MACAddress, tag: VLANTag? = nil, etherType: UInt16) {
        self.destination = destination
        self.source = source
        self.tag = tag
        self.etherType = etherType
    }

    /// Parses the header at the start of `frame`.
    public init(parsing frame: some Collection<UInt8>) throws(DecodeError) {
        guard frame.count >= EthernetHeader.length else {
            throw .truncated(needed: EthernetHeader.length, available: frame.count)
        }
        destination = MACAddress(frame, at: 0)
        source = MACAddress(frame, at: 6)
        let type = EthernetHeader.u16(frame, at: 12)
        if type == EthernetHeader.tpid8021Q {
            guard frame.count >= EthernetHeader.length + EthernetHeader.tagLength else {
                throw .truncated(needed: EthernetHeader.length + EthernetHeader.tagLength, available: frame.count)
            }
            tag = VLANTag(tci: EthernetHeader.u16(frame, at: 14))
            etherType = EthernetHeader.u16(frame, at: 16)
        } else {
            tag = nil
            etherType = type
        }
    }

    /// Bytes the header occupies in the frame.
    public var encodedLength: Int {
        tag == nil ? EthernetHeader.length : EthernetHeader.length + EthernetHeader.tagLength
    }

    public func encode() -> [UInt8] {
        var out = destination.bytes + source.bytes
        if let tag {
            out += [0x81, 0x00, UInt8(tag.tci >> 8), UInt8(tag.tci & 0xFF)]
        }
        out += [UInt8(etherType >> 8), UInt8(etherType & 0xFF)]
        return out
    }

    /// The big-endian 16-bit value at `offset` (the caller checked the length).
    @inlinable
    public static func u16(_ frame: some Collection<UInt8>, at offset: Int) -> UInt16 {
        let index = frame.index(frame.startIndex, offsetBy: offset)
        return UInt16(frame[index]) << 8 | UInt16(frame[frame.index(after: index)])
    }
}

/// An IEEE 802.1Q tag control field: priority (PCP), drop eligible (DEI), VLAN id (VID).
public struct VLANTag: Equatable, Sendable {
    public var priority: UInt8
    public var dropEligible: Bool
    /// 0 means "priority tag only" (the frame belongs to the port's VLAN); 4095 is reserved.
    public var vid: UInt16

    public static let vidRange: ClosedRange<UInt16> = 1...4094

    public init(vid: UInt16, priority: UInt8 = 0, dropEligible: Bool = false) {
        self.vid = vid & 0x0FFF
        self.priority = priority & 0x07
        self.dropEligible = dropEligible
    }

    public init(tci: UInt16) {
        self.init(vid: tci & 0x0FFF, priority: UInt8(tci >> 13), dropEligible: tci & 0x1000 != 0)
    }

    public var tci: UInt16 { UInt16(priority) << 13 | (dropEligible ? 0x1000 : 0) | vid }
}

/// Adding and removing 802.1Q tags, as trunk and access ports need.
public enum VLANTagging {
    /// A copy of `frame` with a tag for `vid` inserted after the source MAC. The frame must hold a header.
    public static func push(_ frame: ArraySlice<UInt8>, vid: UInt16, priority: UInt8 = 0) -> [UInt8] {
        let tci = VLANTag(vid: vid, priority: priority).tci
        var out: [UInt8] = []
        out.reserveCapacity(frame.count + EthernetHeader.tagLength)
        out.append(contentsOf: frame.prefix(12))
        out.append(contentsOf: [0x81, 0x00, UInt8(tci >> 8), UInt8(tci & 0xFF)])
        out.append(contentsOf: frame.dropFirst(12))
        return out
    }

    /// A copy of `frame` without its 802.1Q tag (the frame must carry one).
    public static func pop(_ frame: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(frame.count - EthernetHeader.tagLength)
        out.append(contentsOf: frame.prefix(12))
        out.append(contentsOf: frame.dropFirst(16))
        return out
    }
}
