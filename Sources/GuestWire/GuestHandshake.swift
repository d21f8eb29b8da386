/// `HELLO` (§5.1): the guest names the partition it wants to be and the versions it speaks.
public struct GuestHello: Sendable, Equatable {
    public var minVersion: UInt16
    public var maxVersion: UInt16
    public var partition: String
    public var features: [String]
    /// Present (16 bytes) when the guest resumes an earlier session.
    public var resumeToken: [UInt8]?

    public init(
        minVersion: UInt16 = GuestProtocol.version, maxVersion: UInt16 = GuestProtocol.version, partition: String,
        features: [String] = [], resumeToken: [UInt8]? = nil
    ) {
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.partition = partition
        self.features = features
        self.resumeToken = resumeToken
    }
}

/// `CHALLENGE` (§5.2): the hub's chosen version and a fresh nonce the proof must cover.
public struct GuestChallenge: Sendable, Equatable {
    public var version: UInt16
    /// Exactly `GuestProtocol.nonceLength` bytes.
    public var nonce: [UInt8]
    public var features: [String]

    public init(version: UInt16, nonce: [UInt8], features: [String] = []) {
        self.version = version
        self.nonce = nonce
        self.features = features
    }
}

/// One interrupt line of the partition's virtual controller, as announced in `WELCOME`.
public struct GuestLineInfo: Sendable, Equatable {
    public var line: UInt16
    /// 0 is the highest priority, 15 the lowest.
    public var priority: UInt8

    public init(line: UInt16, priority: UInt8) {
        self.line = line
        self.priority = priority
    }
}

/// One messaging link end, as announced in `WELCOME`.
public struct GuestLinkInfo: Sendable, Equatable {
    public var id: UInt32
    public var name: String
    /// The partition at the other end.
    public var peer: String
    public var maxMessage: UInt32
    public var depth: UInt32
    /// Messages the guest may send before the next `CREDIT`.
    public var initialCredit: UInt32

    public init(id: UInt32, name: String, peer: String, maxMessage: UInt32, depth: UInt32, initialCredit: UInt32) {
        self.id = id
        self.name = name
        self.peer = peer
        self.maxMessage = maxMessage
        self.depth = depth
        self.initialCredit = initialCredit
    }
}

/// `LINK_OPENED` (§7.7): a link opened at run time, as the answer to `LINK_OPEN` or unsolicited (request
/// id 0) to the other end.
public struct GuestLinkOpened: Sendable, Equatable {
    /// The same record as in `WELCOME`; `initialCredit` is what this frame adds to the credit held.
    public var link: GuestLinkInfo
    /// The link existed already (same name, same two partitions): nothing new was created.
    public var existing: Bool
    /// Who opened it: a partition name or `injector:<name>`.
    public var openedBy: String

    public init(link: GuestLinkInfo, existing: Bool, openedBy: String) {
        self.link = link
        self.existing = existing
        self.openedBy = openedBy
    }
}

/// One shared memory region granted to the partition, as announced in `WELCOME`.
public struct GuestRegionInfo: Sendable, Equatable {
    public var id: UInt32
    public var name: String
    public var size: UInt64
    public var access: GuestRegionAccess
    /// The line a peer raises to ring this region's doorbell; `GuestProtocol.noLine` when none.
    public var doorbellLine: UInt16

    public init(id: UInt32, name: String, size: UInt64, access: GuestRegionAccess, doorbellLine: UInt16) {
        self.id = id
        self.name = name
        self.size = size
        self.access = access
        self.doorbellLine = doorbellLine
    }
}

/// `WELCOME` (§5.4): the session is attached; everything the partition owns.
public struct GuestWelcome: Sendable, Equatable {
    public var sessionId: UInt64
    /// Exactly `GuestProtocol.resumeTokenLength` bytes; present it in the next `HELLO` to resume.
    public var resumeToken: [UInt8]
    public var resumed: Bool
    /// The largest frame body the hub accepts from this guest.
    public var maxFrameLength: UInt32
    /// How often the hub expects traffic; 0 disables liveness checks.
    public var heartbeatMillis: UInt32
    public var lines: [GuestLineInfo]
    public var links: [GuestLinkInfo]
    public var regions: [GuestRegionInfo]
    /// Partitions this one may raise lines on.
    public var peers: [String]

    public init(
        sessionId: UInt64, resumeToken: [UInt8], resumed: Bool, maxFrameLength: UInt32, heartbeatMillis: UInt32,
        lines: [GuestLineInfo], links: [GuestLinkInfo], regions: [GuestRegionInfo], peers: [String]
    ) {
        self.sessionId = sessionId
        self.resumeToken = resumeToken
        self.resumed = resumed
        self.maxFrameLength = maxFrameLength
        self.heartbeatMillis = heartbeatMillis
        self.lines = lines
        self.links = links
        self.regions = regions
        self.peers = peers
    }
}

/// `MSG_DELIVER` (§7.3): a message arriving on a link, sender stamped by the hub.
public struct GuestDelivery: Sendable, Equatable {
    public var link: UInt32
    public var messageId: UInt64
    public var sender: String
    public var correlation: UInt64
    public var payload: ArraySlice<UInt8>

    public init(link: UInt32, messageId: UInt64, sender: String, correlation: UInt64, payload: ArraySlice<UInt8>) {
        self.link = link
        self.messageId = messageId
        self.sender = sender
        self.correlation = correlation
        self.payload = payload
    }
}
