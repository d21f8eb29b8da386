/// Error codes carried by `ERROR` frames and `CHANNEL_CLOSE` (`Protocols/guest.md` §5.5).
///
/// A hub sends only the codes of the version it negotiated, so a decoder refuses unknown values.
public enum GuestErrorCode: UInt16, Sendable, CaseIterable {
    case badVersion = 1
    case unknownPartition = 2
    case authFailed = 3
    case alreadyAttached = 4
    case notPermitted = 5
    case noSuchPartition = 6
    case noSuchLine = 7
    case malformedFrame = 8
    case unknownFrameType = 9
    case tooLarge = 10
    case queueFull = 11
    case noSuchLink = 12
    case outOfGrant = 13
    case timeout = 14
    case outOfBounds = 15
    case noSuchRegion = 16
    case handshakeRequired = 17
    case unexpectedFrame = 18
    case noSuchDevice = 19
    case channelInUse = 20
    case noSuchChannel = 21
    case badResumeToken = 22
    case rateLimited = 23
    case shuttingDown = 24
    case internalError = 25
    // Sent only to sessions that negotiated the `runtime-links` feature (§7.6).
    case nameInUse = 26
    case limitReached = 27
    case invalidArgument = 28
}
