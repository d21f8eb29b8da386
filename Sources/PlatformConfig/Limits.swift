/// Every bound the hub enforces (`Deploy/config-reference.md`, hub.limits: no unbounded queue, every limit
/// configurable).
///
/// Each field has a default and an allowed range, listed in `Limits.fields`, which the decoder,
/// the encoder and the configuration reference all use.
package struct Limits: Sendable, Equatable {
    /// Longest control request line, newline excluded.
    package var controlMaxLineBytes: Int
    /// Control connections accepted at once; more are refused.
    package var controlMaxClients: Int
    /// Events queued for one slow control subscriber before it is dropped.
    package var controlOutboxEvents: Int
    /// Events the hub keeps so a reconnecting subscriber can replay from a sequence number.
    package var eventReplayEvents: Int
    /// Bytes the replay ring's events may count together (`Protocols/control.md` §5.5): the oldest are dropped past
    /// it as past `eventReplayEvents`, so large events (a live capture's `eth.frame`s) cannot make it hold
    /// `eventReplayEvents` times their size.
    package var eventReplayBytes: Int = 8 << 20
    /// Pending `events.wait` calls, hub-wide.
    package var controlMaxWaiters: Int
    /// Longest `timeoutMs` an `events.wait` may ask for.
    package var controlMaxWaitMs: Int
    /// Largest guest protocol frame (payload plus header).
    package var guestMaxFrameBytes: Int
    /// Guest connections accepted at once.
    package var guestMaxSessions: Int
    /// A connection's write queue above this pauses its producer.
    package var writeHighWatermarkBytes: Int
    /// ... and below this resumes it. Must be less than `writeHighWatermarkBytes`.
    package var writeLowWatermarkBytes: Int
    /// How long a closing guest connection's last frames are waited for (`Protocols/guest.md` §9.3); then it is
    /// closed, what it did not read dropped.
    package var guestCloseDrainMs: Int = 5000
    /// Bytes the hub reads from one fair-share guest per loop pass: a flooding partition's input is handled in slices,
    /// so a real-time partition's frame waits at most one slice per flooder (`Deploy/config-reference.md`, partitions).
    package var fairShareReadBytesPerPass: Int
    /// Deliveries to fair-share partitions per loop pass (real-time partitions are served first and are not
    /// bounded by this).
    package var fairShareDeliveriesPerPass: Int
    /// Messaging links opened at run time that may exist at once, hub-wide (closing ones included).
    package var runtimeLinksMax: Int
    /// Largest `depth` a link opened at run time may ask for.
    package var runtimeLinkMaxDepth: Int
    /// Largest `maxMessageBytes` a link opened at run time may ask for (in effect never more than fits in a
    /// guest frame: see `effectiveRuntimeLinkMaxMessageBytes`).
    package var runtimeLinkMaxMessageBytes: Int
    /// Policy profiles a configuration may define (`Protocols/policy.md`).
    package var policyMaxProfiles: Int = 16
    // Admission (every listener: `Protocols/control.md` §5 `hub.admission`): connections still in their
    // handshake have a budget of their own, apart from the authenticated ones, and a deadline.
    /// Control connections in their handshake (not yet authenticated, or no request yet) at once.
    package var controlMaxPending: Int
    /// Slots of `controlMaxClients` and of `controlMaxPending` only Unix-socket clients may take (at most half).
    package var controlUnixReserved: Int
    /// Time a control client has to authenticate (or, with no token required, to send its first request).
    package var controlHandshakeMs: Int
    /// A control client that sends nothing for this long is closed; 0: never.
    package var controlIdleMs: Int
    /// Guest connections in their handshake at once (apart from `guestMaxSessions`).
    package var guestMaxPending: Int
    /// Slots of `guestMaxSessions` and of `guestMaxPending` only Unix-socket guests may take (at most half).
    package var guestUnixReserved: Int
    /// Largest guest frame before WELCOME (the handshake frames are small).
    package var guestPreAuthFrameBytes: Int
    /// RFB connections in their handshake at once, per framebuffer (apart from `maxViewers`).
    package var rfbMaxPending: Int
    /// Time an RFB client has to finish its handshake (through ClientInit).
    package var rfbHandshakeMs: Int
    /// An RFB viewer that sends nothing for this long is closed; 0: never.
    package var rfbIdleMs: Int
    /// Bytes read from one RFB viewer per loop pass (`Protocols/framebuffer.md` §2.5): its input (keys, pointer,
    /// update requests) is taken in slices, so a viewer that floods cannot hold the loop.
    package var rfbReadBytesPerPass: Int = 4096
    /// Milliseconds of update encoding per loop pass for all viewers of a framebuffer together
    /// (`Protocols/framebuffer.md` §2.5): past it, the viewers not yet served this pass are served from the
    /// next one, in turn, so many viewers of a busy screen cannot hold the loop. At least one update a pass.
    package var rfbEncodeMsPerPass: Int = 8
    /// Raw AT socket clients at once, per modem (with `shared: true`; otherwise one).
    package var modemMaxRawClients: Int
    /// A raw AT socket client that sends nothing for this long is closed; 0: never.
    package var modemRawIdleMs: Int
    /// Commands taken from one raw AT socket client, or from the PTY, per loop pass: whole lines (ended by CR,
    /// Ctrl-Z or ESC), each counting one command plus one per `;` in it; the rest of what it sent waits, and the
    /// client is not read until it has been taken. (The name predates counting the commands of a line.)
    package var modemRawLinesPerPass: Int
    /// A raw AT socket client with more of the modem's output unsent than this is closed (it does not read); the
    /// host PTY drops what would go past it, as a serial line nobody listens on does.
    package var modemOpenerMaxUnsentBytes: Int
    /// Bytes of expected images (`rgb`, `png`, 4 per pixel) all pending `fb.wait` calls together may hold.
    package var fbWaitImageBytes: Int
    /// Time an Ethernet stream/VDE peer has to send its first frame; 0: no deadline.
    package var ethernetStreamHandshakeMs: Int
    /// At most one log line per listener per this interval about failed accepts (the rest are counted).
    package var acceptErrorLogIntervalMs: Int
    /// A loop pass busy for longer than this is logged; 0: never.
    package var loopStallWarnMs: Int
    /// With `hub.realTimePriority`: the share of one CPU (percent) the loop thread may want (run plus wait runnable)
    /// over a window of `realTimeBudgetWindowMs` at `SCHED_FIFO`; a window that reaches it puts the thread at normal
    /// scheduling until a window wants less than half of it. 100: never (Deploy/config-reference.md, "Real-time budget").
    package var realTimeBudgetPercent: Int
    /// The window `realTimeBudgetPercent` is measured over.
    package var realTimeBudgetWindowMs: Int
    /// Longest control line before the client has authenticated (`Protocols/control.md` §2.3, §4.3): an
    /// unauthenticated peer cannot make the hub buffer or parse more than this.
    package var controlMaxUnauthenticatedLineBytes: Int
    /// Wrong tokens one control connection may present; the last one closes it (`Protocols/control.md` §4.3).
    package var controlMaxAuthFailures: Int
    /// Lines one control connection may send before it has authenticated, answered or not; the last one closes it
    /// (`Protocols/control.md` §4.3): with the line limit, what an unknown peer makes the hub parse and answer.
    package var controlMaxUnauthenticatedLines: Int
    /// A control client whose unsent answers make no progress for this long is disconnected, also while the
    /// hub is closing it after a final answer (`Protocols/control.md` §2.7).
    package var controlWriteStallTimeoutMs: Int
    /// Entries in one event filter member (`partitions`, `devices`, `kinds`) (`Protocols/control.md` §5.3).
    package var controlMaxFilterEntries: Int
    /// Longest name or kind pattern in an event filter, in bytes.
    package var controlMaxFilterEntryBytes: Int
    /// Frames the hub switches from one Ethernet attachment (stream, VDE, tap, dgram, VXLAN) per loop pass: a
    /// flooding peer is read in slices, so everything else waits behind at most one slice (`ethernet.md` §4.8).
    package var ethernetReadFramesPerPass: Int
    /// Bytes the hub reads from one Ethernet attachment per loop pass (the same slice, counted in bytes).
    package var ethernetReadBytesPerPass: Int
    /// A stream/VDE peer's read of at least this many bytes makes it *busy*: read directly once per pass, outside
    /// the poll, until a read finds nothing (`ethernet.md` §4.8). 0: never.
    package var ethernetStreamBusyReadBytes: Int
    /// Receive coalescing (`ethernet.md` §4.8): a stream peer's read shorter than `ethernetStreamCoalesceBelowBytes`
    /// that carried at least `ethernetStreamCoalesceFrames` frames holds its next read for this many microseconds,
    /// so a peer writing one frame per write faster than it is read is read in batches. 0: never.
    package var ethernetStreamCoalesceMicros: Int
    /// Frames one read of a stream peer must carry to hold the next one (`ethernetStreamCoalesceMicros`): a peer
    /// whose frames arrive one per read is not under load and is never held.
    package var ethernetStreamCoalesceFrames: Int
    /// A stream peer's read at least this long never holds the next one: the peer is filling its socket faster
    /// than it is read, and holding would only make it wait on a full socket (it is read each pass instead).
    package var ethernetStreamCoalesceBelowBytes: Int
    /// A stream/VDE port's unsent bytes above this make it congested: its frames wait in the switch queue and
    /// lossless senders towards it pause (`ethernet.md` §4.5), so the delay towards a slow peer stays bounded.
    package var ethernetStreamHighWatermarkBytes: Int
    /// Addresses one port may have learned at once (`ethernet.md` §1.3).
    package var ethernetMACLimitPerPort: Int
    /// Bytes of frames one port's impairment may hold in one direction (delay, jitter, shaper backlog); more are
    /// dropped as `impairmentFull` (`ethernet.md` §5.1), so a delayed flood cannot grow the hub without bound.
    package var ethernetImpairmentHeldBytes: Int
    /// Bytes of datagrams a `dgram` or `vxlan` port's socket may hold waiting while the kernel's buffer is full;
    /// frames past it are dropped as `sendQueueFull` (`ethernet.md` §4.5): libuv's own queue has no bound.
    package var ethernetUDPSendQueueBytes: Int = 1 << 20

    /// Connections one listener accepts per loop pass; the rest wait in the kernel's backlog for the next pass
    /// (`Protocols/control.md` §2.6); 0: no bound.
    package var listenerAcceptsPerPass: Int

    /// Answer bytes one control session produces per loop pass before its remaining requests wait for the next
    /// pass (`Protocols/control.md` §2.7): one client's large answers cannot hold the loop for everyone else.
    package var controlAnswerBytesPerPass: Int
    /// Most bytes one read of a control connection takes (`Protocols/control.md` §2.7): what it reads is charged to
    /// the control budget as it is read and scanned, and a client that finds the budget spent reads no more until
    /// its turn, so a pass reads at most about one such slice per client beyond the budget.
    package var controlReadBytesPerRead: Int

    // The HTTP listener (`Protocols/http.md` §2, §3): one request per connection, behind its own admission gate.
    /// Bytes of one request head, request line and final empty line included (431 beyond).
    package var httpMaxRequestHeadBytes: Int = 8192
    /// Bytes of the request line (414 beyond).
    package var httpMaxRequestLineBytes: Int = 2048
    /// Header fields in one request (431 beyond).
    package var httpMaxHeaders: Int = 32
    /// HTTP connections that have not sent a whole request head yet, at once.
    package var httpMaxPending: Int = 64
    /// HTTP connections being answered at once.
    package var httpMaxClients: Int = 16
    /// Time a client has from connecting to the end of its request head (then 408 and closed).
    package var httpHandshakeMs: Int = 5000
    /// Time a client has to read its whole answer once it is queued (then closed).
    package var httpResponseMs: Int = 10_000
    /// Largest `/metrics` answer (500 beyond, counted).
    package var httpMaxResponseBytes: Int = 4 << 20
    /// How long a built `/metrics` text is served again instead of built anew (`Protocols/http.md` §4); 0: built
    /// for every request.
    package var httpMetricsReuseMs: Int = 1000
    /// How often the host names of VXLAN remotes are resolved again (`Protocols/ethernet.md`, VXLAN); 0: only
    /// at start.
    package var vxlanResolveIntervalMs: Int = 30_000
    /// VXLAN host-name lookups running at once, hub-wide: each holds a thread of libuv's pool, which image file
    /// work shares (`Protocols/ethernet.md`, VXLAN).
    package var vxlanLookupsInFlight: Int = 1
    /// Hosts a VXLAN port learns from the datagrams it hears, besides its configured remotes (`Protocols/ethernet.md`,
    /// VXLAN): each gets every frame the port sends; a newcomer while the table is full is not learned.
    package var vxlanLearnedHosts: Int = 64
    /// A learned VXLAN host silent this long is forgotten, as a MAC table forgets a station.
    package var vxlanLearnedIdleMs: Int = 300_000
    /// Messages one end of a link may send per second, for links without their own `rateLimit`
    /// (`Protocols/guest.md` §7.12); 0: unlimited.
    package var linkMessagesPerSecond: Int = 0
    /// Payload bytes one end of a link may send per second, for links without their own `rateLimit`; 0: unlimited.
    package var linkBytesPerSecond: Int = 0
    /// Wake locks one partition may hold at once (`Protocols/power.md` §4); one more is refused `limit_reached`.
    package var powerMaxWakeLocks: Int = 16
    // Persistent error logs (`Protocols/errorlog.md` §3), per partition.
    /// Entries one partition's error log keeps; the oldest are dropped (and counted) beyond.
    package var errorLogMaxEntries: Int = 256
    /// Bytes of records one partition's error log keeps; the oldest are dropped (and counted) beyond.
    package var errorLogMaxBytes: Int = 256 << 10
    /// `ERROR_REPORT`s one guest may send per second (a burst of as many); beyond, `rate_limited`.
    package var errorLogReportsPerSecond: Int = 20
    /// Appends reach the disk (`fsync`) at most this long after they were written, one `fsync` per file for all
    /// of them; 0: each append is synced before it is answered (an `fsync` costs milliseconds of loop time).
    package var errorLogSyncIntervalMs: Int = 1000
    /// `POLICY_ACTIVATE`s one partition's guest may send per second (a burst of as many); beyond, `rate_limited`.
    /// Each switch recomputes the policy and tells every guest, so a looping agent must not be able to make the
    /// hub do that without bound.
    package var policyActivationsPerSecond: Int = 5

    /// `runtimeLinkMaxMessageBytes`, cut to what fits in a guest frame (`guestMaxFrameBytes` minus 64), so
    /// that lowering the frame size never needs this limit lowered too.
    package var effectiveRuntimeLinkMaxMessageBytes: Int {
        max(1, min(runtimeLinkMaxMessageBytes, guestMaxFrameBytes - 64))
    }

    package init(
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
        controlMaxPending: Int = 64,
        controlUnixReserved: Int = 8,
        controlHandshakeMs: Int = 10_000,
        controlIdleMs: Int = 0,
        guestMaxPending: Int = 256,
        guestUnixReserved: Int = 8,
        guestPreAuthFrameBytes: Int = 4096,
        rfbMaxPending: Int = 16,
        rfbHandshakeMs: Int = 30_000,
        rfbIdleMs: Int = 0,
        modemMaxRawClients: Int = 16,
        modemRawIdleMs: Int = 0,
        modemRawLinesPerPass: Int = 16,
        modemOpenerMaxUnsentBytes: Int = 16 << 20,
        fbWaitImageBytes: Int = 32 << 20,
        ethernetStreamHandshakeMs: Int = 0,
        acceptErrorLogIntervalMs: Int = 1000,
        loopStallWarnMs: Int = 50,
        realTimeBudgetPercent: Int = 90,
        realTimeBudgetWindowMs: Int = 10,
        controlMaxUnauthenticatedLineBytes: Int = 4096,
        controlMaxAuthFailures: Int = 3,
        controlMaxUnauthenticatedLines: Int = 16,
        controlWriteStallTimeoutMs: Int = 30_000,
        controlMaxFilterEntries: Int = 64,
        controlMaxFilterEntryBytes: Int = 128,
        ethernetReadFramesPerPass: Int = 256,
        ethernetReadBytesPerPass: Int = 256 << 10,
        ethernetStreamHighWatermarkBytes: Int = 64 << 10,
        ethernetStreamBusyReadBytes: Int = 4096,
        ethernetStreamCoalesceMicros: Int = 50,
        ethernetStreamCoalesceFrames: Int = 4,
        ethernetStreamCoalesceBelowBytes: Int = 4096,
        ethernetMACLimitPerPort: Int = 4096,
        ethernetImpairmentHeldBytes: Int = 16 << 20,
        listenerAcceptsPerPass: Int = 64,
        controlAnswerBytesPerPass: Int = 256 << 10,
        controlReadBytesPerRead: Int = 16 << 10
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
        self.controlMaxPending = controlMaxPending
        self.controlUnixReserved = controlUnixReserved
        self.controlHandshakeMs = controlHandshakeMs
        self.controlIdleMs = controlIdleMs
        self.guestMaxPending = guestMaxPending
        self.guestUnixReserved = guestUnixReserved
        self.guestPreAuthFrameBytes = guestPreAuthFrameBytes
        self.rfbMaxPending = rfbMaxPending
        self.rfbHandshakeMs = rfbHandshakeMs
        self.rfbIdleMs = rfbIdleMs
        self.modemMaxRawClients = modemMaxRawClients
        self.modemRawIdleMs = modemRawIdleMs
        self.modemRawLinesPerPass = modemRawLinesPerPass
        self.modemOpenerMaxUnsentBytes = modemOpenerMaxUnsentBytes
        self.fbWaitImageBytes = fbWaitImageBytes
        self.ethernetStreamHandshakeMs = ethernetStreamHandshakeMs
        self.acceptErrorLogIntervalMs = acceptErrorLogIntervalMs
        self.loopStallWarnMs = loopStallWarnMs
        self.realTimeBudgetPercent = realTimeBudgetPercent
        self.realTimeBudgetWindowMs = realTimeBudgetWindowMs
        self.controlMaxUnauthenticatedLineBytes = controlMaxUnauthenticatedLineBytes
        self.controlMaxAuthFailures = controlMaxAuthFailures
        self.controlMaxUnauthenticatedLines = controlMaxUnauthenticatedLines
        self.controlWriteStallTimeoutMs = controlWriteStallTimeoutMs
        self.controlMaxFilterEntries = controlMaxFilterEntries
        self.controlMaxFilterEntryBytes = controlMaxFilterEntryBytes
        self.ethernetReadFramesPerPass = ethernetReadFramesPerPass
        self.ethernetReadBytesPerPass = ethernetReadBytesPerPass
        self.ethernetStreamHighWatermarkBytes = ethernetStreamHighWatermarkBytes
        self.ethernetStreamBusyReadBytes = ethernetStreamBusyReadBytes
        self.ethernetStreamCoalesceMicros = ethernetStreamCoalesceMicros
        self.ethernetStreamCoalesceFrames = ethernetStreamCoalesceFrames
        self.ethernetStreamCoalesceBelowBytes = ethernetStreamCoalesceBelowBytes
        self.ethernetMACLimitPerPort = ethernetMACLimitPerPort
        self.ethernetImpairmentHeldBytes = ethernetImpairmentHeldBytes
        self.listenerAcceptsPerPass = listenerAcceptsPerPass
        self.controlAnswerBytesPerPass = controlAnswerBytesPerPass
        self.controlReadBytesPerRead = controlReadBytesPerRead
    }

    /// One configurable limit: its YAML key, allowed range and accessors.
    package struct Field: Sendable {
        package let key: String
        package let range: ClosedRange<Int>
        package let summary: String
        let get: @Sendable (Limits) -> Int
        let set: @Sendable (inout Limits, Int) -> Void

        /// This limit's value in `limits` (for listing limits, e.g. through the control API).
        package func value(in limits: Limits) -> Int { get(limits) }
    }

    /// All limits, in the order they are encoded and documented.
    package static let fields: [Field] = [
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
            // At least a few of the largest events (an `eth.frame` with a 9216-byte snap counts about 18.6 KB).
            key: "eventReplayBytes", range: (64 << 10)...(1 << 30),
            summary: "bytes the events kept for replay may count together (about their JSON text)",
            get: { $0.eventReplayBytes }, set: { $0.eventReplayBytes = $1 }),
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
            key: "guestCloseDrainMs", range: 100...600_000,
            summary: "how long a closing guest connection's last frames are waited for (then dropped)",
            get: { $0.guestCloseDrainMs }, set: { $0.guestCloseDrainMs = $1 }),
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
            key: "controlMaxPending", range: 1...65536, summary: "control connections in their handshake at once",
            get: { $0.controlMaxPending }, set: { $0.controlMaxPending = $1 }),
        Field(
            key: "controlUnixReserved", range: 0...4096,
            summary: "control slots only Unix-socket clients may take (at most half of each budget)",
            get: { $0.controlUnixReserved }, set: { $0.controlUnixReserved = $1 }),
        Field(
            key: "controlHandshakeMs", range: 100...600_000,
            summary: "time a control client has to authenticate or send its first request",
            get: { $0.controlHandshakeMs }, set: { $0.controlHandshakeMs = $1 }),
        Field(
            key: "controlIdleMs", range: 0...86_400_000,
            summary: "silence after which a control client is closed (0: never)",
            get: { $0.controlIdleMs }, set: { $0.controlIdleMs = $1 }),
        Field(
            key: "guestMaxPending", range: 1...65536, summary: "guest connections in their handshake at once",
            get: { $0.guestMaxPending }, set: { $0.guestMaxPending = $1 }),
        Field(
            key: "guestUnixReserved", range: 0...4096,
            summary: "guest slots only Unix-socket guests may take (at most half of each budget)",
            get: { $0.guestUnixReserved }, set: { $0.guestUnixReserved = $1 }),
        Field(
            key: "guestPreAuthFrameBytes", range: 256...65536, summary: "largest guest frame before WELCOME",
            get: { $0.guestPreAuthFrameBytes }, set: { $0.guestPreAuthFrameBytes = $1 }),
        Field(
            key: "rfbMaxPending", range: 1...4096,
            summary: "RFB connections in their handshake at once, per framebuffer",
            get: { $0.rfbMaxPending }, set: { $0.rfbMaxPending = $1 }),
        Field(
            key: "rfbHandshakeMs", range: 100...600_000, summary: "time an RFB client has to finish its handshake",
            get: { $0.rfbHandshakeMs }, set: { $0.rfbHandshakeMs = $1 }),
        Field(
            key: "rfbIdleMs", range: 0...86_400_000, summary: "silence after which an RFB viewer is closed (0: never)",
            get: { $0.rfbIdleMs }, set: { $0.rfbIdleMs = $1 }),
        Field(
            key: "rfbReadBytesPerPass", range: 64...(1 << 20),
            summary: "bytes read from one RFB viewer per loop pass (its keys, pointer and update requests)",
            get: { $0.rfbReadBytesPerPass }, set: { $0.rfbReadBytesPerPass = $1 }),
        Field(
            key: "rfbEncodeMsPerPass", range: 0...1000,
            summary: "ms of RFB update encoding per loop pass for all viewers of a screen (0: one update a pass)",
            get: { $0.rfbEncodeMsPerPass }, set: { $0.rfbEncodeMsPerPass = $1 }),
        Field(
            key: "modemMaxRawClients", range: 1...4096, summary: "raw AT socket clients at once, per shared modem",
            get: { $0.modemMaxRawClients }, set: { $0.modemMaxRawClients = $1 }),
        Field(
            key: "modemRawIdleMs", range: 0...86_400_000,
            summary: "silence after which a raw AT socket client is closed (0: never)",
            get: { $0.modemRawIdleMs }, set: { $0.modemRawIdleMs = $1 }),
        Field(
            key: "modemRawLinesPerPass", range: 1...4096,
            summary: "commands (a line counts 1 + its ';'s) taken from one raw AT client or the PTY per loop pass",
            get: { $0.modemRawLinesPerPass }, set: { $0.modemRawLinesPerPass = $1 }),
        Field(
            key: "modemOpenerMaxUnsentBytes", range: (64 << 10)...(1 << 30),
            summary: "modem output unsent to a raw AT client (closed past it) or the PTY (dropped past it)",
            get: { $0.modemOpenerMaxUnsentBytes }, set: { $0.modemOpenerMaxUnsentBytes = $1 }),
        Field(
            key: "fbWaitImageBytes", range: (64 << 10)...(1 << 30),
            summary: "expected-image bytes (4 per pixel) all pending fb.wait calls together may hold",
            get: { $0.fbWaitImageBytes }, set: { $0.fbWaitImageBytes = $1 }),
        Field(
            key: "ethernetStreamHandshakeMs", range: 0...600_000,
            summary: "time an Ethernet stream/VDE peer has to send its first frame (0: no deadline)",
            get: { $0.ethernetStreamHandshakeMs }, set: { $0.ethernetStreamHandshakeMs = $1 }),
        Field(
            key: "acceptErrorLogIntervalMs", range: 100...3_600_000,
            summary: "at most one log line per listener per interval about failed accepts",
            get: { $0.acceptErrorLogIntervalMs }, set: { $0.acceptErrorLogIntervalMs = $1 }),
        Field(
            key: "loopStallWarnMs", range: 0...60_000,
            summary: "a loop pass busy longer than this is logged (0: never)",
            get: { $0.loopStallWarnMs }, set: { $0.loopStallWarnMs = $1 }),
        Field(
            key: "realTimeBudgetPercent", range: 1...100,
            summary:
                "share of a CPU the hub may use at SCHED_FIFO over a window before it runs at normal scheduling (100: no limit)",
            get: { $0.realTimeBudgetPercent }, set: { $0.realTimeBudgetPercent = $1 }),
        Field(
            key: "realTimeBudgetWindowMs", range: 1...1000,
            summary: "window realTimeBudgetPercent is measured over",
            get: { $0.realTimeBudgetWindowMs }, set: { $0.realTimeBudgetWindowMs = $1 }),
        Field(
            key: "controlMaxUnauthenticatedLineBytes", range: 256...(1 << 20),
            summary: "longest control line before authentication",
            get: { $0.controlMaxUnauthenticatedLineBytes }, set: { $0.controlMaxUnauthenticatedLineBytes = $1 }),
        Field(
            key: "controlMaxAuthFailures", range: 1...1000,
            summary: "wrong tokens a control connection may present before it is closed",
            get: { $0.controlMaxAuthFailures }, set: { $0.controlMaxAuthFailures = $1 }),
        Field(
            key: "controlMaxUnauthenticatedLines", range: 1...1000,
            summary: "lines a control connection may send before it has authenticated; the last one closes it",
            get: { $0.controlMaxUnauthenticatedLines }, set: { $0.controlMaxUnauthenticatedLines = $1 }),
        Field(
            key: "controlWriteStallTimeoutMs", range: 100...3_600_000,
            summary: "time a control client may leave its answers unread before it is disconnected",
            get: { $0.controlWriteStallTimeoutMs }, set: { $0.controlWriteStallTimeoutMs = $1 }),
        Field(
            key: "controlMaxFilterEntries", range: 1...4096, summary: "entries in one event filter member",
            get: { $0.controlMaxFilterEntries }, set: { $0.controlMaxFilterEntries = $1 }),
        Field(
            key: "controlMaxFilterEntryBytes", range: 16...4096,
            summary: "longest name or kind pattern in an event filter",
            get: { $0.controlMaxFilterEntryBytes }, set: { $0.controlMaxFilterEntryBytes = $1 }),
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
            key: "ethernetStreamBusyReadBytes", range: 0...(4 << 20),
            summary: "a stream/VDE read this large makes the peer busy: read each pass, outside the poll (0: never)",
            get: { $0.ethernetStreamBusyReadBytes }, set: { $0.ethernetStreamBusyReadBytes = $1 }),
        Field(
            key: "ethernetStreamCoalesceMicros", range: 0...10_000,
            summary:
                "a short stream read of ethernetStreamCoalesceFrames frames or more holds the next this long (0: never)",
            get: { $0.ethernetStreamCoalesceMicros }, set: { $0.ethernetStreamCoalesceMicros = $1 }),
        Field(
            key: "ethernetStreamCoalesceFrames", range: 2...256,
            summary: "frames one stream read must carry to hold the next (ethernetStreamCoalesceMicros)",
            get: { $0.ethernetStreamCoalesceFrames }, set: { $0.ethernetStreamCoalesceFrames = $1 }),
        Field(
            key: "ethernetStreamCoalesceBelowBytes", range: 128...(4 << 20),
            summary: "a stream read this long or longer never holds the next (the peer fills its socket)",
            get: { $0.ethernetStreamCoalesceBelowBytes }, set: { $0.ethernetStreamCoalesceBelowBytes = $1 }),
        Field(
            key: "ethernetMACLimitPerPort", range: 1...65536, summary: "addresses one Ethernet port may have learned",
            get: { $0.ethernetMACLimitPerPort }, set: { $0.ethernetMACLimitPerPort = $1 }),
        Field(
            // At least two of the largest frames (MTU 65535), so a port holding none can always take one.
            key: "ethernetImpairmentHeldBytes", range: (256 << 10)...(1 << 30),
            summary: "bytes of frames one Ethernet port's impairment may hold in one direction",
            get: { $0.ethernetImpairmentHeldBytes }, set: { $0.ethernetImpairmentHeldBytes = $1 }),
        Field(
            // At least one of the largest datagrams (65535 bytes), so an empty queue always takes one.
            key: "ethernetUDPSendQueueBytes", range: (64 << 10)...(1 << 30),
            summary: "bytes of datagrams a dgram/VXLAN port's busy socket may hold waiting (sendQueueFull beyond)",
            get: { $0.ethernetUDPSendQueueBytes }, set: { $0.ethernetUDPSendQueueBytes = $1 }),
        Field(
            key: "listenerAcceptsPerPass", range: 0...65536,
            summary: "connections one listener accepts per loop pass (0: no bound)",
            get: { $0.listenerAcceptsPerPass }, set: { $0.listenerAcceptsPerPass = $1 }),
        Field(
            key: "controlAnswerBytesPerPass", range: 1024...(64 << 20),
            summary: "answer bytes one control session produces per loop pass before the rest waits",
            get: { $0.controlAnswerBytesPerPass }, set: { $0.controlAnswerBytesPerPass = $1 }),
        Field(
            key: "controlReadBytesPerRead", range: 1024...(256 << 10),
            summary: "bytes one read of a control connection takes, charged to the control budget as read",
            get: { $0.controlReadBytesPerRead }, set: { $0.controlReadBytesPerRead = $1 }),
        Field(
            key: "httpMaxRequestHeadBytes", range: 256...65536, summary: "bytes of one HTTP request head",
            get: { $0.httpMaxRequestHeadBytes }, set: { $0.httpMaxRequestHeadBytes = $1 }),
        Field(
            key: "httpMaxRequestLineBytes", range: 64...65536, summary: "bytes of one HTTP request line",
            get: { $0.httpMaxRequestLineBytes }, set: { $0.httpMaxRequestLineBytes = $1 }),
        Field(
            key: "httpMaxHeaders", range: 1...256, summary: "header fields in one HTTP request",
            get: { $0.httpMaxHeaders }, set: { $0.httpMaxHeaders = $1 }),
        Field(
            key: "httpMaxPending", range: 1...65536, summary: "HTTP connections still sending their request at once",
            get: { $0.httpMaxPending }, set: { $0.httpMaxPending = $1 }),
        Field(
            key: "httpMaxClients", range: 1...4096, summary: "HTTP connections being answered at once",
            get: { $0.httpMaxClients }, set: { $0.httpMaxClients = $1 }),
        Field(
            key: "httpHandshakeMs", range: 100...600_000,
            summary: "time an HTTP client has to send its whole request head (then 408)",
            get: { $0.httpHandshakeMs }, set: { $0.httpHandshakeMs = $1 }),
        Field(
            key: "httpResponseMs", range: 100...600_000, summary: "time an HTTP client has to read its whole answer",
            get: { $0.httpResponseMs }, set: { $0.httpResponseMs = $1 }),
        Field(
            key: "httpMaxResponseBytes", range: (64 << 10)...(256 << 20), summary: "largest /metrics answer",
            get: { $0.httpMaxResponseBytes }, set: { $0.httpMaxResponseBytes = $1 }),
        Field(
            key: "httpMetricsReuseMs", range: 0...60_000,
            summary: "how long a built /metrics text is served again instead of built anew (0: every request)",
            get: { $0.httpMetricsReuseMs }, set: { $0.httpMetricsReuseMs = $1 }),
        Field(
            key: "vxlanResolveIntervalMs", range: 0...86_400_000,
            summary: "how often host names of VXLAN remotes are resolved again (0: only at start)",
            get: { $0.vxlanResolveIntervalMs }, set: { $0.vxlanResolveIntervalMs = $1 }),
        Field(
            key: "vxlanLookupsInFlight", range: 1...64,
            summary: "VXLAN host-name re-resolutions running at once (each holds a thread of libuv's pool)",
            get: { $0.vxlanLookupsInFlight }, set: { $0.vxlanLookupsInFlight = $1 }),
        Field(
            key: "vxlanLearnedHosts", range: 0...4096,
            summary: "hosts a VXLAN port learns from what it hears, besides its remotes (0: none)",
            get: { $0.vxlanLearnedHosts }, set: { $0.vxlanLearnedHosts = $1 }),
        Field(
            key: "vxlanLearnedIdleMs", range: 1000...86_400_000,
            summary: "silence after which a learned VXLAN host is forgotten",
            get: { $0.vxlanLearnedIdleMs }, set: { $0.vxlanLearnedIdleMs = $1 }),
        Field(
            key: "linkMessagesPerSecond", range: LinkRateLimit.messagesPerSecondRange,
            summary: "messages one end of a link may send per second, for links without rateLimit (0: unlimited)",
            get: { $0.linkMessagesPerSecond }, set: { $0.linkMessagesPerSecond = $1 }),
        Field(
            key: "linkBytesPerSecond", range: LinkRateLimit.bytesPerSecondRange,
            summary: "payload bytes one end of a link may send per second, for links without rateLimit (0: unlimited)",
            get: { $0.linkBytesPerSecond }, set: { $0.linkBytesPerSecond = $1 }),
        Field(
            key: "powerMaxWakeLocks", range: 0...1024, summary: "wake locks one partition may hold at once",
            get: { $0.powerMaxWakeLocks }, set: { $0.powerMaxWakeLocks = $1 }),
        Field(
            key: "errorLogMaxEntries", range: 16...100_000, summary: "entries one partition's error log keeps",
            get: { $0.errorLogMaxEntries }, set: { $0.errorLogMaxEntries = $1 }),
        Field(
            key: "errorLogMaxBytes", range: 4096...(16 << 20), summary: "record bytes one partition's error log keeps",
            get: { $0.errorLogMaxBytes }, set: { $0.errorLogMaxBytes = $1 }),
        Field(
            key: "errorLogReportsPerSecond", range: 1...10_000,
            summary: "ERROR_REPORT frames one guest may send per second",
            get: { $0.errorLogReportsPerSecond }, set: { $0.errorLogReportsPerSecond = $1 }),
        Field(
            key: "errorLogSyncIntervalMs", range: 0...60_000,
            summary: "longest delay before appended error-log entries are fsynced (0: each one at once)",
            get: { $0.errorLogSyncIntervalMs }, set: { $0.errorLogSyncIntervalMs = $1 }),
        Field(
            key: "policyActivationsPerSecond", range: 1...1000,
            summary: "POLICY_ACTIVATE frames one partition's guest may send per second",
            get: { $0.policyActivationsPerSecond }, set: { $0.policyActivationsPerSecond = $1 }),
        Field(
            key: "policyMaxProfiles", range: 0...256, summary: "policy profiles the configuration may define",
            get: { $0.policyMaxProfiles }, set: { $0.policyMaxProfiles = $1 }),
    ]
}
