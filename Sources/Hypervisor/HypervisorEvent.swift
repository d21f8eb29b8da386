/// Things worth telling control subscribers about. The server converts them to its event
/// model; this module does not depend on it.
package enum HypervisorEvent: Equatable, Sendable {
    case attached(partition: String, session: SessionID, resumed: Bool)
    case detached(partition: String, session: SessionID, reason: DetachReason)
    case attachRefused(partition: String, reason: AttachRefusal)
    /// A raise reached an attached partition's controller (coalesced: folded into a pending raise).
    case interruptRaised(source: Originator, target: String, line: Int, coalesced: Bool)
    /// A raise was kept pending because the target is detached or suspended.
    case interruptLatched(source: Originator, target: String, line: Int)
    case interruptRefused(source: Originator, target: String, line: Int, reason: RaiseOutcome)
    /// The queue from `sender` to `receiver` on `link` is full; reported once per episode
    /// (again only after a slot has been freed).
    case linkQueueFull(link: String, sender: Originator, receiver: String)
    case messageRefused(link: String, sender: Originator, reason: SendOutcome)
    case regionAccessRefused(partition: String, region: String, write: Bool)
    /// A link was opened at run time between `a` and `b`.
    case linkOpened(link: String, id: UInt32, a: String, b: String, by: Originator)
    /// A runtime link stopped taking messages; `held` messages still wait for acknowledgement.
    case linkClosing(link: String, id: UInt32, by: Originator, held: Int)
    /// A runtime link was removed (every message it held was acknowledged).
    case linkClosed(link: String, id: UInt32)
    case suspended(partition: String)
    case resumed(partition: String)
}
