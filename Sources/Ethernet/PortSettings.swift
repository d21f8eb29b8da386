/// How a switch port treats VLANs and how much it may queue (`Protocols/ethernet.md` §4).
public struct PortSettings: Equatable, Sendable {
    public enum VLANMode: Equatable, Sendable {
        /// Untagged member of one VLAN; tagged frames (other than priority tags) are dropped.
        case access(vid: UInt16)
        /// Carries tagged frames of `allowed` VLANs (all when `nil`); untagged frames belong to `native`
        /// (dropped when `nil`) and frames of `native` leave untagged.
        case trunk(allowed: Set<UInt16>?, native: UInt16?)
    }

    public var name: String
    public var vlan: VLANMode
    /// Isolated ports reach only non-isolated ones (a private VLAN): partitions that policy keeps
    /// apart can share an uplink without seeing each other.
    public var isolated: Bool
    /// Frames waiting to be written to the port before further ones are tail-dropped.
    public var queueFrames: Int
    /// Bytes waiting to be written to the port before further frames are tail-dropped.
    public var queueBytes: Int

    public static let defaultQueueFrames = 1024
    public static let defaultQueueBytes = 1 << 20

    public init(
        name: String, vlan: VLANMode = .access(vid: 1), isolated: Bool = false,
        queueFrames: Int = PortSettings.defaultQueueFrames, queueBytes: Int = PortSettings.defaultQueueBytes
    ) {
        self.name = name
        self.vlan = vlan
        self.isolated = isolated
        self.queueFrames = queueFrames
        self.queueBytes = queueBytes
    }
}

/// Why a frame was dropped; each is counted per port (`eth.counters`).
public enum DropReason: String, Sendable, CaseIterable {
    /// Shorter than an Ethernet header (including zero-length frames).
    case runt
    /// Longer than the segment's MTU allows.
    case oversize
    /// Not valid on the wire it came from (bad length prefix, bad VXLAN header).
    case malformed
    /// The port's link is down.
    case linkDown
    /// Not a member of the frame's VLAN, or a tag the port does not accept.
    case vlan
    /// The port's egress queue was full (it reads too slowly).
    case queueFull
    /// Dropped by the loss impairment.
    case impairmentLoss
    /// The rate limiter's backlog was full.
    case rateLimit
    /// The port's impairment in that direction already held `Switch.impairmentHeldBytes` (delayed frames).
    case impairmentFull
    /// The MAC table was full: learning the source evicted the least recently seen address that had not aged
    /// out (frame forwarded; counted only).
    case macTableFull
    /// The port already had `macLimitPerPort` addresses learned: the source was not learned (frame still
    /// forwarded; counted only).
    case macLimit
    /// VLAN hopping (`Protocols/ethernet.md` §4.7): a frame on an access port whose payload after its priority tag
    /// (or in place of one) is another 802.1Q/802.1ad tag, or a frame that would leave a port untagged with a tag
    /// at the start of its payload (counted on the port that sent it).
    case nestedTag
    /// A `dgram` or `vxlan` port's socket was busy and the datagrams already waiting to be sent held
    /// `ethernetUDPSendQueueBytes`: the transport refused the frame after the switch had queued it
    /// (`Protocols/ethernet.md` §4.5).
    case sendQueueFull
}

extension DropReason {
    /// Position in `PortCounters`' fixed table.
    @inline(__always) var index: Int {
        switch self {
        case .runt: 0
        case .oversize: 1
        case .malformed: 2
        case .linkDown: 3
        case .vlan: 4
        case .queueFull: 5
        case .impairmentLoss: 6
        case .rateLimit: 7
        case .macTableFull: 8
        case .macLimit: 9
        case .nestedTag: 10
        case .impairmentFull: 11
        case .sendQueueFull: 12
        }
    }
}

/// A port's counters.
public struct PortCounters: Equatable, Sendable {
    public var rxFrames: UInt64 = 0
    public var rxBytes: UInt64 = 0
    public var txFrames: UInt64 = 0
    public var txBytes: UInt64 = 0
    /// One slot per `DropReason`, indexed by `DropReason.index`. A generic argument must be a literal, so a test
    /// checks it against the reasons (`dropReasonSlots`).
    typealias DropTable = InlineArray<13, UInt64>
    static var dropReasonSlots: Int { DropTable.count }
    /// Drops by reason in a fixed table held inline: counting one is an indexed add, with no hash (a MAC flood
    /// counts one per frame) and no copy-on-write check of an array's buffer.
    private var dropCounts = DropTable(repeating: 0)

    public init() {}

    public static func == (left: PortCounters, right: PortCounters) -> Bool {
        guard
            left.rxFrames == right.rxFrames && left.rxBytes == right.rxBytes && left.txFrames == right.txFrames
                && left.txBytes == right.txBytes
        else { return false }
        for index in left.dropCounts.indices where left.dropCounts[index] != right.dropCounts[index] { return false }
        return true
    }

    /// The drops by reason, reasons that never happened left out.
    public var drops: [DropReason: UInt64] {
        var result: [DropReason: UInt64] = [:]
        for reason in DropReason.allCases where dropCounts[reason.index] > 0 {
            result[reason] = dropCounts[reason.index]
        }
        return result
    }

    public func drops(_ reason: DropReason) -> UInt64 { dropCounts[reason.index] }

    public var totalDrops: UInt64 {
        var total: UInt64 = 0
        for index in dropCounts.indices { total += dropCounts[index] }
        return total
    }

    @inline(__always)
    mutating func drop(_ reason: DropReason, count: UInt64 = 1) { dropCounts[reason.index] += count }
}
