/// Bounds checked before anything is allocated while decoding (`Protocols/guest.md` §3.4).
///
/// The defaults are the protocol's; a hub may lower them (never raise the name limit: peers
/// written against the spec reject longer names).
public struct GuestLimits: Sendable, Equatable {
    /// Largest frame body (header + payload) accepted behind the length prefix.
    public var maxFrameLength: Int
    /// Largest UTF-8 name (partition, link, region, feature, device).
    public var maxNameBytes: Int
    /// Largest reason text in `ERROR`, `SUSPEND`, `DETACH`, `CHANNEL_CLOSE`.
    public var maxReasonBytes: Int
    public var maxFeatures: Int
    public var maxLines: Int
    public var maxLinks: Int
    public var maxRegions: Int
    public var maxPeers: Int
    /// Largest `length` a `REGION_READ` may ask for.
    public var maxRegionRead: Int

    public static let defaultMaxFrameLength = 1_048_576 + 64

    public init(
        maxFrameLength: Int = GuestLimits.defaultMaxFrameLength, maxNameBytes: Int = 64,
        maxReasonBytes: Int = 1024, maxFeatures: Int = 32, maxLines: Int = 1024, maxLinks: Int = 1024,
        maxRegions: Int = 256, maxPeers: Int = 256, maxRegionRead: Int = 1_048_576
    ) {
        self.maxFrameLength = maxFrameLength
        self.maxNameBytes = maxNameBytes
        self.maxReasonBytes = maxReasonBytes
        self.maxFeatures = maxFeatures
        self.maxLines = maxLines
        self.maxLinks = maxLinks
        self.maxRegions = maxRegions
        self.maxPeers = maxPeers
        self.maxRegionRead = maxRegionRead
    }

    public static let `default` = GuestLimits()
}
