import GuestWire

/// A frame the hub sent on its own (not an answer), in typed form.
public enum GuestEvent: Sendable, Equatable {
    case irq(line: UInt16, priority: UInt8, coalesced: UInt32)
    case message(GuestDelivery)
    /// A message with the identity its sender acts for (`MSG_DELIVER_AS`, §7.12; feature `identity`).
    case identifiedMessage(GuestDelivery, identity: String)
    case credit(link: UInt32, credit: UInt32)
    case suspend(reason: String)
    case resume
    /// A region's memfd arrived over SCM_RIGHTS; `descriptor` is nil on TCP or if none came with it.
    /// The caller owns the descriptor and closes it.
    case regionFD(region: UInt32, access: GuestRegionAccess, size: UInt64, descriptor: Int32?)
    case detach(reason: String)
    case channelData(channel: UInt16, data: [UInt8])
    case channelClose(channel: UInt16, code: UInt16, reason: String)
    /// A peer or a control client opened a link with this partition as an end (§7.7); usable at once.
    case linkOpened(GuestLinkOpened)
    /// A runtime link is closing (no new messages) or gone (its id is invalid) (§7.9).
    case linkClosed(link: UInt32, state: GuestLinkState, held: UInt32)
    /// The hub switched policy profile (§9.6, feature `policy-profiles`): `profile` is the one now in force (empty:
    /// the base policy), `summary` what changed for this partition.
    case policyChanged(generation: UInt64, profile: String, summary: String)
    /// The hub woke this partition (`Protocols/power.md` §4.3, feature `power`) because of `source` (`irq`), before
    /// delivering `line` (nil: none); `from` is the state the guest had declared.
    case wake(source: String, line: UInt16?, from: GuestPowerState)
    /// An `ERROR` that answers no outstanding request.
    case error(code: GuestErrorCode, reason: String, requestId: UInt32)
    /// Anything else (a hub heartbeat is answered automatically and also surfaces here).
    case other(GuestFrame)
}

/// The answer to `GuestClient.send`.
public struct SendOutcome: Sendable, Equatable {
    public var status: GuestSendStatus
    /// Assigned by the hub when `status` is `.queued`.
    public var messageId: UInt64

    public init(status: GuestSendStatus, messageId: UInt64) {
        self.status = status
        self.messageId = messageId
    }
}

/// The answer to `GuestClient.raise`.
public typealias RaiseOutcome = GuestRaiseOutcome
