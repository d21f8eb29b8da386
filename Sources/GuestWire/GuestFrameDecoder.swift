import Wire

/// Turns a guest-protocol byte stream into frames (`Protocols/guest.md` §3).
///
/// Feed it whatever a read delivered. A frame whose body is bad yields a `.failure` and the
/// stream goes on (the hub answers `ERROR`); only a length prefix over the limit throws, because
/// the stream cannot be resynchronised after it and the connection must close.
public struct GuestFrameDecoder {
    public private(set) var limits: GuestLimits
    private var framer: LengthPrefixedFramer
    /// Bodies fed with `hold`, from `nextHeld` on: not yet taken by `nextHeldBody`.
    private var held: [ArraySlice<UInt8>] = []
    private var nextHeld = 0

    public init(limits: GuestLimits = .default) {
        self.limits = limits
        // Empty bodies are let through so they get a per-frame "truncated header" answer.
        self.framer = LengthPrefixedFramer(prefixWidth: .four, maxFrameLength: limits.maxFrameLength, allowEmpty: true)
    }

    /// Changes the largest frame accepted from the next length prefix on: the hub takes small frames until
    /// WELCOME and its configured limit after (`Protocols/guest.md` §3.1).
    public mutating func setMaxFrameLength(_ length: Int) {
        limits.maxFrameLength = length
        framer.maxFrameLength = length
    }

    /// Bytes held back waiting for the rest of a frame.
    public var bufferedByteCount: Int { framer.bufferedByteCount }

    /// Appends `chunk` and decodes every frame it completed, in order.
    public mutating func feed(_ chunk: some Collection<UInt8>) throws(DecodeError) -> [Result<
        GuestFrame, GuestDecodeError
    >] {
        let bodies = try framer.feed(chunk)
        var frames: [Result<GuestFrame, GuestDecodeError>] = []
        frames.reserveCapacity(bodies.count)
        for body in bodies { frames.append(GuestFrame.decode(body: body, limits: limits)) }
        return frames
    }

    /// Appends `chunk` and returns the raw frame bodies it completed, for callers that need the
    /// exact bytes (the handshake transcript) before decoding with `GuestFrame.decode(body:limits:)`.
    public mutating func feedBodies(_ chunk: some Collection<UInt8>) throws(DecodeError) -> [ArraySlice<UInt8>] {
        try framer.feed(chunk)
    }

    /// As `feedBodies` on any collection, but the bodies are slices of `chunk` itself: only a frame that straddles
    /// two reads is copied. (Through the generic overload every read was first copied whole into the framer's
    /// buffer, on the hub's guest sessions and in the guest client alike.)
    public mutating func feedBodies(_ chunk: ArraySlice<UInt8>) throws(DecodeError) -> [ArraySlice<UInt8>] {
        try framer.feed(chunk)
    }

    /// As `feedBodies` on a slice, appending the bodies to `bodies`, so a caller reusing one array across reads
    /// allocates nothing per read. On a throw, `bodies` may hold bodies that preceded the bad length.
    public mutating func feedBodies(_ chunk: ArraySlice<UInt8>, into bodies: inout [ArraySlice<UInt8>])
        throws(DecodeError)
    {
        try framer.feed(chunk, into: &bodies)
    }

    /// As `feedBodies(_:into:)`, but the bodies stay here until `nextHeldBody` takes them, behind those fed before:
    /// a reader that stops handling part way through a read (the hub, while a guest's answers wait unread,
    /// `Protocols/guest.md` §3.3) keeps the rest in order without copying it.
    public mutating func hold(_ chunk: ArraySlice<UInt8>) throws(DecodeError) {
        try framer.feed(chunk, into: &held)
    }

    /// Whether bodies fed with `hold` wait to be taken.
    public var holdsBodies: Bool { nextHeld < held.count }

    /// The oldest body fed with `hold` and not taken yet, or nil.
    public mutating func nextHeldBody() -> ArraySlice<UInt8>? {
        guard nextHeld < held.count else { return nil }
        let body = held[nextHeld]
        nextHeld += 1
        if nextHeld == held.count {
            // One array for all reads: emptied, not freed, once every body was taken.
            held.removeAll(keepingCapacity: true)
            nextHeld = 0
        }
        return body
    }
}
