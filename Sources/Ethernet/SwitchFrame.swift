/// A frame inside the switch: the bytes as they arrived plus the VLAN it was classified into.
package struct SwitchFrame: Sendable {
    /// Frame bytes as received (with or without an 802.1Q tag).
    package var bytes: ArraySlice<UInt8>
    /// The VLAN the ingress port put it in.
    package var vid: UInt16
    /// Whether `bytes` carry an 802.1Q tag.
    package var tagged: Bool

    package init(bytes: ArraySlice<UInt8>, vid: UInt16, tagged: Bool) {
        self.bytes = bytes
        self.vid = vid
        self.tagged = tagged
    }
}
