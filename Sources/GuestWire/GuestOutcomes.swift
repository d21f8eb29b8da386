/// The answer to a `RAISE` (§6.2). Nothing is dropped silently: a raise is either delivered,
/// latched for a detached target, or refused with the reason.
public enum GuestRaiseOutcome: UInt8, Sendable, CaseIterable {
    case delivered = 0
    case latched = 1
    case notPermitted = 2
    case noSuchPartition = 3
    case noSuchLine = 4
}

/// The answer to a `MSG_SEND` (§7.2).
public enum GuestSendStatus: UInt8, Sendable, CaseIterable {
    case queued = 0
    case queueFull = 1
    case tooLarge = 2
    case noSuchLink = 3
    case notPermitted = 4
    /// The link is closing (§7.8); only sent to sessions that negotiated `runtime-links`.
    case linkClosing = 5
    /// `MSG_SEND_SEQ` (§7.10) with a sequence the hub already accepted: the message was queued by that earlier
    /// send and is not queued again. Only sent to sessions that negotiated `send-sequence`.
    case duplicate = 6
    /// `MSG_SEND_SEQ` with a sequence beyond the next expected one (an earlier send was refused or never
    /// arrived): not queued. Only sent to sessions that negotiated `send-sequence`.
    case sequenceGap = 7
    /// The sending end is over the link's rate budget (§7.12): not queued, no credit used. Only sent to sessions
    /// that negotiated `rate-limit`; others get `queue_full`.
    case rateLimited = 8

    /// Whether the message is (now or from an earlier send) in the hub: nothing to report when the sender
    /// asked for no answer (§3.3).
    public var isAccepted: Bool { self == .queued || self == .duplicate }
}

/// The state a `LINK_CLOSED` reports (§7.9).
public enum GuestLinkState: UInt8, Sendable, CaseIterable {
    /// No new messages are accepted; held ones are still delivered and must be acknowledged.
    case closing = 0
    /// The link is gone; its id is no longer valid.
    case closed = 1
}

/// The answer to a `REGION_WRITE` (§8.4).
public enum GuestRegionStatus: UInt8, Sendable, CaseIterable {
    case ok = 0
    case outOfGrant = 1
    case outOfBounds = 2
    case noSuchRegion = 3
}

/// What a partition may do with a shared region (§5.4).
public enum GuestRegionAccess: UInt8, Sendable, CaseIterable {
    case readOnly = 1
    case readWrite = 2
}

/// `ERROR_REPORT.severity` (§9.5).
public enum GuestErrorSeverity: UInt8, Sendable, CaseIterable {
    case info = 1
    case warning = 2
    case error = 3
    case critical = 4

    /// The name the control API and the error log's JSON use (`Protocols/errorlog.md` §2).
    public var name: String {
        switch self {
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }
}
