/// Every bound the hub enforces (DESIGN.md §7: no unbounded queue, every limit configurable).
///
/// Each field has a default and an allowed range, listed in `Limits.fields`, which the decoder,
/// the encoder and the configuration reference all use.
public struct Limits: Sendable, Equatable {
    /// Longest control request line, newline excluded.
    public var controlMaxLineBytes: Int
    /// Control connections accepted at once; more are refused.
    public var controlMaxClients: Int
    /// Events queued for one slow control subscriber before it is dropped.
    public var controlOutboxEvents: Int
    /// Events the hub keeps so a reconnecting subscriber can replay from a sequence number.
    public var eventReplayEvents: Int
    /// Pending `events.wait` calls, hub-wide.
    public var controlMaxWaiters: Int
    /// Longest `timeoutMs` an `events.wait` may ask for.
    public var controlMaxWaitMs: Int
    /// Largest guest protocol frame (payload plus header).
    public var guestMaxFrameBytes: Int
    /// Guest connections accepted at once.
    public var guestMaxSessions: Int
    /// A connection's write queue above this pauses its producer.
    public var writeHighWatermarkBytes: Int
    /// ... and below this resumes it. Must be less than `writeHighWatermarkBytes`.
    public var writeLowWatermarkBytes: Int
    /// Bytes the hub reads from one fair-share guest per loop pass: a flooding partition's input is handled in
    /// slices, so a real-time partition's frame waits at most one slice per flooder (issue 3 §7).
    public var fairShareReadBytesPerPass: Int
    /// Deliveries to fair-share partitions per loop pass (real-time partitions are served first and are not
    /// bounded by this).
    public var fairShareDeliveriesPerPass: Int
    /// Messaging links opened at run time that may exist at once, hub-wide (closing ones included).
    public var runtimeLinksMax: Int
    /// Largest `depth` a link opened at run time may ask for.
    public var runtimeLinkMaxDepth: Int
    /// Largest `maxMessageBytes` a link opened at run time may ask for (in effect never more than fits in a
    /// guest frame: see `effectiveRuntimeLinkMaxMessageBytes`).
    public var runtimeLinkMaxMessageBytes: Int
    /// Frames the hub switches from one Ethernet attachment (stream, VDE, tap, dgram, VXLAN) per loop pass: a
    /// flooding peer is read in slices, so everything else waits behind at most one slice (`ethernet.md` §4.8).
    public var ethernetReadFramesPerPass: Int
    /// Bytes the hub reads from one Ethernet attachment per loop pass (the same slice, counted in bytes).
    public var ethernetReadBytesPerPass: Int
    /// A stream/VDE port's unsent bytes above this make it congested: its frames wait in the switch queue and
    /// lossless senders towards it pause (`ethernet.md` §4.5), so the delay towards a slow peer stays bounded.
    public var ethernetStreamHighWatermarkBytes: Int
    /// Addresses one port may have learned at once (`ethernet.md` §1.3).
    public var ethernetMACLimitPerPort: Int

    /// `runtimeLinkMaxMessageBytes`, cut to what fits in a guest frame (`guestMaxFrameBytes` minus 64), so
    /// that lowering the frame size never needs this limit lowered too.
    public var effectiveRuntimeLinkMaxMessageBytes: Int {
        max(1, min(runtimeLinkMaxMessageBytes, guestMaxFrameBytes - 64))
    }

    public init(
        controlMaxLineBytes: Int = 1 << 20,
        controlMaxClients: Int = 256,
        controlOutboxEvents: Int = 1024,
        eventReplayEvents: Int = 4096,
        controlMaxWaiters: Int = 256,
        controlMaxWaitMs: Int = 600_000,
        guestMaxFrameBytes: Int = (1 << 20) + 64,
        guestMaxSessions: Int = 4096,
        writeHighWatermarkBytes: Int = 4 << 20,
        writeLowWatermarkBytes: Int = 1 << 20,
        fairShareReadBytesPerPass: Int = 2 << 10,
        fairShareDeliveriesPerPass: Int = 256,
        runtimeLinksMax: Int = 64,
        runtimeLinkMaxDepth: Int = 256,
        runtimeLinkMaxMessageBytes: Int = 64 << 10,
        ethernetReadFramesPerPass: Int = 32,
        ethernetReadBytesPerPass: Int = 32 << 10,
        ethernetStreamHighWatermarkBytes: Int = 64 << 10,
        ethernetMACLimitPerPort: Int = 4096
    ) {
        self.controlMaxLineBytes = controlMaxLineBytes
        self.controlMaxClients = controlMaxClients
        self.controlOutboxEvents = controlOutboxEvents
        self.eventReplayEvents = eventReplayEvents
        self.controlMaxWaiters = controlMaxWaiters
        self.controlMaxWaitMs = controlMaxWaitMs
        self.guestMaxFrameBytes = guestMaxFrameBytes
        self.guestMaxSessions = guestMaxSessions
        self.writeHighWatermarkBytes = writeHighWatermarkBytes
        self.writeLowWatermarkBytes = writeLowWatermarkBytes
        self.fairShareReadBytesPerPass = fairShareReadBytesPerPass
        self.fairShareDeliveriesPerPass = fairShareDeliveriesPerPass
        self.runtimeLinksMax = runtimeLinksMax
        self.runtimeLinkMaxDepth = runtimeLinkMaxDepth
        self.runtimeLinkMaxMessageBytes = runtimeLinkMaxMessageBytes
        self.ethernetReadFramesPerPass = ethernetReadFramesPerPass
        self.ethernetReadBytesPerPass = ethernetReadBytesPerPass
        self.ethernetStreamHighWatermarkBytes = ethernetStreamHighWatermarkBytes
        self.ethernetMACLimitPerPort = ethernetMACLimitPerPort
    }

    /// One configurable limit: its YAML key, allowed range and accessors.
    public struct Field: Sendable {
        public let key: String
        public let range: ClosedRange<Int>
        public let summary: String
        let get: @Sendable (Limits) -> Int
        let set: @Sendable (inout Limits, Int) -> Void

        /// This limit's value in `limits` (for listing limits, e.g. through the control API).
        public func value(in limits: Limits) -> Int { get(limits) }
    }

    /// All limits, in the order they are encoded and documented.
    public static let fields: [Field] = [
        Field(
            key: "controlMaxLineBytes", range: 1024...(64 << 20), summary: "longest control request line",
            get: { $0.controlMaxLineBytes }, set: { $0.controlMaxLineBytes = $1 }),
        Field(
            key: "controlMaxClients", range: 1...65536, summary: "control connections at once",
            get: { $0.controlMaxClients }, set: { $0.controlMaxClients = $1 }),
        Field(
            key: "controlOutboxEvents", range: 16...(1 << 20), summary: "events queued per control subscriber",
            get: { $0.controlOutboxEvents }, set: { $0.controlOutboxEvents = $1 }),
        Field(
            key: "eventReplayEvents", range: 0...(1 << 20), summary: "events kept for replay",
            get: { $0.eventReplayEvents }, set: { $0.eventReplayEvents = $1 }),
        Field(
            key: "controlMaxWaiters", range: 1...65536, summary: "pending events.wait calls, hub-wide",
            get: { $0.controlMaxWaiters }, set: { $0.controlMaxWaiters = $1 }),
        Field(
            key: "controlMaxWaitMs", range: 1...86_400_000, summary: "longest events.wait timeout",
            get: { $0.controlMaxWaitMs }, set: { $0.controlMaxWaitMs = $1 }),
        Field(
            key: "guestMaxFrameBytes", range: 128...(64 << 20), summary: "largest guest protocol frame",
            get: { $0.guestMaxFrameBytes }, set: { $0.guestMaxFrameBytes = $1 }),
        Field(
            key: "guestMaxSessions", range: 1...65536, summary: "guest connections at once",
            get: { $0.guestMaxSessions }, set: { $0.guestMaxSessions = $1 }),
        Field(
            key: "writeHighWatermarkBytes", range: 4096...(1 << 30), summary: "write queue size that pauses a producer",
            get: { $0.writeHighWatermarkBytes }, set: { $0.writeHighWatermarkBytes = $1 }),
        Field(
            key: "writeLowWatermarkBytes", range: 0...(1 << 30), summary: "write queue size that resumes it",
            get: { $0.writeLowWatermarkBytes }, set: { $0.writeLowWatermarkBytes = $1 }),
        Field(
            key: "fairShareReadBytesPerPass", range: 1024...(4 << 20),
            summary: "bytes read from one fair-share guest per loop pass",
            get: { $0.fairShareReadBytesPerPass }, set: { $0.fairShareReadBytesPerPass = $1 }),
        Field(
            key: "fairShareDeliveriesPerPass", range: 1...65536,
            summary: "deliveries to fair-share partitions per loop pass",
            get: { $0.fairShareDeliveriesPerPass }, set: { $0.fairShareDeliveriesPerPass = $1 }),
        Field(
            key: "runtimeLinksMax", range: 0...4096, summary: "links opened at run time that may exist at once",
            get: { $0.runtimeLinksMax }, set: { $0.runtimeLinksMax = $1 }),
        Field(
            key: "runtimeLinkMaxDepth", range: 1...65536, summary: "largest depth of a link opened at run time",
            get: { $0.runtimeLinkMaxDepth }, set: { $0.runtimeLinkMaxDepth = $1 }),
        Field(
            key: "runtimeLinkMaxMessageBytes", range: 1...(1 << 20),
            summary: "largest message size of a link opened at run time",
            get: { $0.runtimeLinkMaxMessageBytes }, set: { $0.runtimeLinkMaxMessageBytes = $1 }),
        Field(
            key: "ethernetReadFramesPerPass", range: 1...65536,
            summary: "frames switched from one Ethernet attachment per loop pass",
            get: { $0.ethernetReadFramesPerPass }, set: { $0.ethernetReadFramesPerPass = $1 }),
        Field(
            key: "ethernetReadBytesPerPass", range: 2048...(4 << 20),
            summary: "bytes read from one Ethernet attachment per loop pass",
            get: { $0.ethernetReadBytesPerPass }, set: { $0.ethernetReadBytesPerPass = $1 }),
        Field(
            key: "ethernetStreamHighWatermarkBytes", range: 4096...(64 << 20),
            summary: "unsent bytes that make a stream/VDE port congested",
            get: { $0.ethernetStreamHighWatermarkBytes }, set: { $0.ethernetStreamHighWatermarkBytes = $1 }),
        Field(
            key: "ethernetMACLimitPerPort", range: 1...65536, summary: "addresses one Ethernet port may have learned",
            get: { $0.ethernetMACLimitPerPort }, set: { $0.ethernetMACLimitPerPort = $1 }),
    ]
}
