/// A link as the control API and the server see it, configured or opened at run time.
package struct LinkDescription: Equatable, Sendable {
    /// The guest-protocol link id: stable while the hub runs, never reused.
    package var id: UInt32
    package var name: String
    package var a: String
    package var b: String
    package var maxMessageBytes: Int
    package var depth: Int
    /// Opened at run time rather than configured.
    package var runtime: Bool
    /// Closing: sends are refused; the link is removed once every held message is acknowledged.
    package var closing: Bool
    /// Who opened it (nil for configured links).
    package var openedBy: Originator?

    /// Whether the link joins `x` and `y` (in either order).
    package func joins(_ x: String, _ y: String) -> Bool { (a == x && b == y) || (a == y && b == x) }
}

/// A link that an open request created or found.
package struct OpenedLink: Equatable, Sendable {
    package var link: LinkDescription
    /// The requesting session's side of the link, with the credit granted now; nil for injectors.
    package var view: LinkView?
}

/// What is wrong with the parameters of an open request.
package enum LinkRequestProblem: String, Equatable, Sendable {
    /// The name breaks the configuration's naming rule.
    case name
    /// Both ends are the same partition.
    case samePartition = "same-partition"
    /// `depth` is 0 or above `hub.limits.runtimeLinkMaxDepth`.
    case depth
    /// `maxMessageBytes` is 0 or above `hub.limits.runtimeLinkMaxMessageBytes`.
    case maxMessageBytes = "max-message-bytes"
}

/// The answer to `Platform.openLink` (`Protocols/guest.md` §7.6).
package enum LinkOpenOutcome: Equatable, Sendable {
    /// A new runtime link; its ends' attached sessions were told.
    case created(OpenedLink)
    /// A link (configured, or opened earlier) with this name already joins the same two partitions and
    /// is not closing: opening is idempotent, so a guest that retries after a reconnect gets it back.
    case exists(OpenedLink)
    /// The opener may not open links, or may not message the peer.
    case notPermitted
    case noSuchPartition
    /// `hub.limits.runtimeLinksMax` runtime links exist already.
    case limitReached
    /// The name belongs to a link between other partitions, or to a link that is closing.
    case nameInUse
    case invalid(LinkRequestProblem)
}

/// The answer to `Platform.closeLink`.
///
/// Closing keeps the promise that nothing acknowledged to a sender as queued is lost: the link stops
/// taking messages at once (sends are answered `linkClosing`), keeps delivering what it holds
/// (redelivery to a re-attaching receiver included), and is removed only when both directions hold
/// nothing unacknowledged.
package enum LinkCloseOutcome: Equatable, Sendable {
    /// Nothing was held: the link is gone and its id invalid.
    case closed
    /// The link takes no new messages; it goes once these `held` messages are acknowledged.
    case closing(held: Int)
    /// Configured links live as long as the hub.
    case configured
    /// No link by that name (for a session: none of which its partition is an end).
    case noSuchLink
}
