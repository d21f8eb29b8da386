/// What the model asks the server to do. The server turns each action into bytes for the
/// named session, or into a control event; the model never touches a socket.
package enum Action: Equatable, Sendable {
    /// Tell the session's guest that a line fired. The line stays in service until the
    /// guest calls `endOfInterrupt`.
    case deliverInterrupt(session: SessionID, line: Int, priority: UInt8, coalesced: UInt32)
    /// Hand these messages to the receiving session; they stay queued in the hub until acknowledged. The
    /// server reads them from the queue with `Platform.forEachMessage(in:)` (nothing is copied per message).
    case deliverMessages(MessageBatch)
    /// The sending session may send `credit` more messages on `link` (incremental, like a
    /// window update).
    case grantCredit(session: SessionID, link: String, credit: Int)
    /// Close this session (after sending it a reason), e.g. because another connection took
    /// the partition over. The model has already detached it.
    case closeSession(SessionID, reason: DetachReason)
    /// Publish this event to control subscribers.
    case event(HypervisorEvent)
    /// A link was opened at run time with this session's partition as an end: the session may use it
    /// now (`view` is its side, credit included). Only for sessions that enabled runtime links.
    case linkOpened(session: SessionID, link: LinkView, openedBy: Originator)
    /// A runtime link with this session's partition as an end began closing (no new sends).
    case linkClosing(session: SessionID, link: String, id: UInt32, closedBy: Originator)
    /// A runtime link with this session's partition as an end is gone; its id is no longer valid. Sent to
    /// every live session of an end, so the server forgets the id even for sessions that never asked.
    case linkClosed(session: SessionID, link: String, id: UInt32)
}

/// Consecutive messages of one link direction handed to a receiver session in one go.
package struct MessageBatch: Equatable, Sendable {
    package var session: SessionID
    /// The link's guest-protocol id.
    package var linkID: UInt32
    /// The first message's id; the others follow it (ids on a link direction are consecutive).
    package var firstID: UInt64
    package var count: Int
    /// How many of them, from the first, an earlier session of the receiver was handed already.
    package var redelivered: Int
    /// Where the messages sit in the model when the batch was taken.
    let position: Int
    let direction: Int
}

/// One message handed to a receiver (`Platform.messages(in:)` lists a batch's).
package struct MessageDelivery: Equatable, Sendable {
    package var session: SessionID
    package var link: String
    /// The link's guest-protocol id.
    package var linkID: UInt32
    /// Increasing per link direction, starting at 1; the guest deduplicates by it.
    package var messageID: UInt64
    /// Stamped by the hub; a guest cannot forge it.
    package var sender: Originator
    package var correlation: UInt64?
    package var payload: [UInt8]
    /// The message was handed to an earlier session of the receiver already.
    package var redelivery: Bool
    /// The identity the sender asserted (`MSG_SEND_AS`, `Protocols/guest.md` §7.12); nil: none.
    package var identity: String? = nil

    package init(
        session: SessionID, link: String, linkID: UInt32, messageID: UInt64, sender: Originator, correlation: UInt64?,
        payload: [UInt8], redelivery: Bool
    ) {
        self.session = session
        self.link = link
        self.linkID = linkID
        self.messageID = messageID
        self.sender = sender
        self.correlation = correlation
        self.payload = payload
        self.redelivery = redelivery
    }
}

/// Why a session ended.
package enum DetachReason: String, Equatable, Sendable {
    /// The guest said goodbye.
    case guestRequested = "guest-requested"
    /// The connection broke.
    case connectionLost = "connection-lost"
    /// Another connection attached to the same partition (allowed by `allowTakeover`).
    case takenOver = "taken-over"
    /// The guest sent something the protocol forbids.
    case protocolError = "protocol-error"
    /// The health monitor declared the guest failed.
    case heartbeatMissed = "heartbeat-missed"
    /// Management stopped the partition.
    case stopped
    /// The hub is shutting down.
    case shutdown
    /// A management command deprovisioned the partition (`Protocols/management.md` §9).
    case deprovisioned
}
