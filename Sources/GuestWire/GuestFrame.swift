/// The fixed 8-byte header after the length prefix (`Protocols/guest.md` §3.2).
public struct GuestFrameHeader: Sendable, Equatable {
    /// The raw type number (kept raw so an unknown type can still be answered).
    public var type: UInt16
    /// 0 is the session channel; device channels are opened with `CHANNEL_OPEN`.
    public var channel: UInt16
    /// Echoed in the answer; 0 means no answer is wanted.
    public var requestId: UInt32

    public static let length = 8

    public init(type: UInt16, channel: UInt16 = 0, requestId: UInt32 = 0) {
        self.type = type
        self.channel = channel
        self.requestId = requestId
    }
}

/// One decoded guest frame: where it goes (channel), what it answers (request id), what it says.
public struct GuestFrame: Sendable, Equatable {
    public var channel: UInt16
    public var requestId: UInt32
    public var message: GuestMessage

    public init(_ message: GuestMessage, channel: UInt16 = 0, requestId: UInt32 = 0) {
        self.channel = channel
        self.requestId = requestId
        self.message = message
    }

    public var type: GuestFrameType { message.type }
    public var header: GuestFrameHeader {
        GuestFrameHeader(type: message.type.rawValue, channel: channel, requestId: requestId)
    }
}
