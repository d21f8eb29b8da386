/// The answer to a cross-interrupt: nothing is dropped silently (`Protocols/guest.md` §6.2).
public enum RaiseOutcome: Equatable, Sendable {
    /// The target is attached; its controller has the line pending (or it coalesced).
    case delivered
    /// The target is detached or suspended; the line stays pending until it attaches or resumes.
    case latched
    case notPermitted
    case noSuchPartition
    case noSuchLine
}

/// Why an attach was refused.
public enum AttachRefusal: String, Equatable, Sendable {
    case noSuchPartition = "no-such-partition"
    /// A session is live and the partition does not allow take-over.
    case alreadyAttached = "already-attached"
    case invalidResumeToken = "invalid-resume-token"
}

/// The answer to an attach.
public enum AttachOutcome: Equatable, Sendable {
    case attached(AttachInfo)
    case refused(AttachRefusal)
}

/// What a newly attached session is told (the welcome).
public struct AttachInfo: Equatable, Sendable {
    public var session: SessionID
    public var partition: String
    /// Present it on the next attach to resume: controller state is kept and messages
    /// continue from the last acknowledgement.
    public var resumeToken: [UInt8]
    public var resumed: Bool
    public var interruptLines: Int
    public var links: [LinkView]
    public var regions: [RegionView]
    /// Partitions it may raise interrupts on.
    public var mayInterrupt: [String]
    /// Partitions it may message.
    public var mayMessage: [String]
}

/// One link as seen from an attached end.
public struct LinkView: Equatable, Sendable {
    public var name: String
    public var peer: String
    public var maxMessageBytes: Int
    public var depth: Int
    /// Whether the policy lets this end send (receiving is always allowed).
    public var maySend: Bool
    /// Messages the session may send before it needs more credit.
    public var sendCredit: Int
    /// Unacknowledged messages the hub hands this session at most.
    public var receiveWindow: Int
    /// The guest-protocol link id (configuration position, or assigned when opened at run time).
    public var id: UInt32
    /// Opened at run time rather than configured.
    public var runtime: Bool
    /// Closing: no new messages; it goes once every queued one is acknowledged.
    public var closing: Bool

    public init(
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
public struct RegionView: Equatable, Sendable {
    public var name: String
    public var sizeBytes: UInt64
    public var access: RegionAccessMode
    public var doorbellLine: Int?

    public init(name: String, sizeBytes: UInt64, access: RegionAccessMode, doorbellLine: Int?) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.access = access
        self.doorbellLine = doorbellLine
    }
}

/// Access to a region (mirrors the configuration's grant).
public enum RegionAccessMode: String, Equatable, Sendable {
    case readOnly = "ro"
    case readWrite = "rw"
}

/// The answer to a send.
public enum SendOutcome: Equatable, Sendable {
    /// Queued in the hub with this id; it will not be lost while the hub runs.
    case queued(UInt64)
    case queueFull
    case tooLarge
    case noSuchLink
    case notPermitted
    /// The link (opened at run time) is closing: it takes no new messages.
    case linkClosing
}

/// The answer to an acknowledgement.
public enum AckOutcome: Equatable, Sendable {
    /// This many messages were freed.
    case acknowledged(freed: Int)
    /// The id was never delivered.
    case beyondDelivered
    case noSuchLink
    case notPermitted
}

/// The answer to a line operation (EOI, mask, priority) or a timer request.
public enum LineOutcome: Equatable, Sendable {
    case ok
    case noSuchLine
    /// EOI of a line that is not in service, a priority above 15, a timer period below the minimum.
    case invalid
    case notAttached
}

/// The answer to a region read.
public enum RegionReadOutcome: Equatable, Sendable {
    case ok([UInt8])
    case outOfGrant
    case outOfBounds
    case tooLarge
    case noSuchRegion
}

/// The answer to a region write or a doorbell.
public enum RegionWriteOutcome: Equatable, Sendable {
    case ok
    case outOfGrant
    case outOfBounds
    case tooLarge
    case noSuchRegion
    /// The region has no doorbell line.
    case noDoorbell
}

/// The answer to a management operation.
public enum ManageOutcome: Equatable, Sendable {
    case ok
    /// The partition was already in the requested state.
    case unchanged
    case noSuchPartition
}
