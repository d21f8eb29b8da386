/// One entry of `SEND_SEQUENCES` (`Protocols/guest.md` §7.11): the last sequence number the hub accepted from
/// this partition on `link` (0 = none yet). The sender continues with `lastAccepted + 1`.
public struct GuestSendSequence: Sendable, Equatable {
    public var link: UInt32
    public var lastAccepted: UInt64

    public init(link: UInt32, lastAccepted: UInt64) {
        self.link = link
        self.lastAccepted = lastAccepted
    }
}
