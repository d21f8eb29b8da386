/// A frame inside the switch: the bytes as they arrived plus the VLAN it was classified into.
public struct SwitchFrame: Sendable {
    /// Frame bytes as received (with or without an 802.1Q tag).
    public var bytes: ArraySlice<UInt8>
    /// The VLAN the ingress port put it in.
    public var vid: UInt16
    /// Whether `bytes` carry an 802.1Q tag.
    public var tagged: Bool

    public init(bytes: ArraySlice<UInt8>, vid: UInt16, tagged: Bool) {
        self.bytes = bytes
        self.vid = vid
        self.tagged = tagged
    }
}
