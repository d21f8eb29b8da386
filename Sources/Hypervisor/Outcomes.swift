/// The answer to a cross-interrupt: nothing is dropped silently (`Protocols/guest.md` §6.2).
package enum RaiseOutcome: Equatable, Sendable {
    /// The target is attached; its controller has the line pending (or it coalesced).
    case delivered
    /// The target is detached or suspended; the line stays pending until it attaches or resumes.
    case latched
    case notPermitted
    case noSuchPartition
    case noSuchLine
}

/// Why an attach was refused.
package enum AttachRefusal: String, Equatable, Sendable {
    case noSuchPartition = "no-such-partition"
    /// A session is live and the partition does not allow take-over.
    case alreadyAttached = "already-attached"
    case invalidResumeToken = "invalid-resume-token"
}

/// The answer to an attach.
package enum AttachOutcome: Equatable, Sendable {
    case attached(AttachInfo)
    case refused(AttachRefusal)
}

/// What a newly attached session is told (the welcome).
package struct AttachInfo: Equatable, Sendable {
    package var session: SessionID
    package var partition: String
    /// Present it on the next attach to resume: controller state is kept and messages
    /// continue from the last acknowledgement.
    package var resumeToken: [UInt8]
    package var resumed: Bool
    package var interruptLines: Int
    package var links: [LinkView]
    package var regions: [RegionView]
    /// Partitions it may raise interrupts on.
    package var mayInterrupt: [String]
    /// Partitions it may message.
    package var mayMessage: [String]
}

/// One link as seen from an attached end.
package struct LinkView: Equatable, Sendable {
    package var name: String
    package var peer: String
    package var maxMessageBytes: Int
    package var depth: Int
    /// Whether the policy lets this end send (receiving is always allowed).
    package var maySend: Bool
    /// Messages the session may send before it needs more credit.
    package var sendCredit: Int
    /// Unacknowledged messages the hub hands this session at most.
    package var receiveWindow: Int
    /// The guest-protocol link id (configuration position, or assigned when opened at run time).
    package var id: UInt32
    /// Opened at run time rather than configured.
    package var runtime: Bool
    /// Closing: no new messages; it goes once every queued one is acknowledged.
    package var closing: Bool

    package init(
        name: String, peer: String, maxMessageBytes: Int, depth: Int, maySend: Bool, sendCredit: Int,
        receiveWindow: Int, id: UInt32 = 0, runtime: Bool = false, closing: Bool = false
    ) {
        self.id = id
        self.runtime = runtime
        self.closing = closing
        self.name = name
        self.peer = peer
        self.maxMessageBytes = maxMessageBytes
        self.depth = depth
        self.maySend = maySend
        self.sendCredit = sendCredit
        self.receiveWindow = receiveWindow
    }
}

/// One region as seen from a granted partition.
package struct RegionView: Equatable, Sendable {
    package var name: String
    package var sizeBytes: UInt64
    package var access: RegionAccessMode
    package var doorbellLine: Int?

    package init(name: String, sizeBytes: UInt64, access: RegionAccessMode, doorbellLine: Int?) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.access = access
        self.doorbellLine = doorbellLine
    }
}

/// Access to a region (mirrors the configuration's grant).
package enum RegionAccessMode: String, Equatable, Sendable {
    case readOnly = "ro"
    case readWrite = "rw"
}

/// The answer to a send.
package enum SendOutcome: Equatable, Sendable {
    /// Queued in the hub with this id; it will not be lost while the hub runs.
    case queued(UInt64)
    case queueFull
    case tooLarge
    case noSuchLink
    case notPermitted
    /// The link (opened at run time) is closing: it takes no new messages.
    case linkClosing
    /// The sending end is over its rate budget (`Protocols/guest.md` §7.12): nothing queued, no credit used.
    case rateLimited
}

/// The answer to an acknowledgement.
package enum AckOutcome: Equatable, Sendable {
    /// This many messages were freed.
    case acknowledged(freed: Int)
    /// The id was never delivered.
    case beyondDelivered
    case noSuchLink
    case notPermitted
}

/// The answer to a line operation (EOI, mask, priority) or a timer request.
package enum LineOutcome: Equatable, Sendable {
    case ok
    case noSuchLine
    /// EOI of a line that is not in service, a priority above 15, a timer period below the minimum.
    case invalid
    case notAttached
}

/// The answer to a region read.
package enum RegionReadOutcome: Equatable, Sendable {
    case ok([UInt8])
    case outOfGrant
    case outOfBounds
    case tooLarge
    case noSuchRegion
}

/// The answer to a region write or a doorbell.
package enum RegionWriteOutcome: Equatable, Sendable {
    case ok
    case outOfGrant
    case outOfBounds
    case tooLarge
    case noSuchRegion
    /// The region has no doorbell line.
    case noDoorbell
}

/// The answer to a management operation.
package enum ManageOutcome: Equatable, Sendable {
    case ok
    /// The partition was already in the requested state.
    case unchanged
    case noSuchPartition
}
