import DeviceKit
import EventLoop
import Framebuffer
import FramebufferWire
import GuestWire
import HubSystem
import RFBWire
import Zlib

// How peers attach to a framebuffer: VNC viewers on its RFB listeners, each a `ByteStream` behind the
// screen's admission gate (`Protocols/framebuffer.md` §2), and partitions' drawing channels (§3).

extension FramebufferScreen {
    // MARK: RFB listeners and viewers

    func openListeners(entry: String) throws(HubStartError) {
        let limits = host.limits
        gate = host.admissionGate(
            "rfb:\(name)",
            AdmissionPolicy(
                maxPending: limits.rfbMaxPending, maxAuthenticated: config.maxViewers,
                handshakeMs: limits.rfbHandshakeMs, idleMs: limits.rfbIdleMs, pendingLimit: "rfbMaxPending",
                authenticatedLimit: "maxViewers"))
        for (index, endpoint) in config.rfbEndpoints.enumerated() {
            do {
                let listener = try host.listen(on: endpoint, gate: gate) { [unowned self] in self.accept($0) }
                listeners.append(listener)
                boundEndpoints.append(listener.boundEndpoint)
            } catch {
                throw .listen(entry: "\(entry).rfbEndpoints[\(index)]", endpoint: endpoint, error)
            }
        }
        if !boundEndpoints.isEmpty {
            host.logger.info(
                "\(name): RFB 3.8 on \(boundEndpoints.map(\.description).joined(separator: ", ")) (security \(config.password == nil ? "None" : "VNC"))"
            )
        }
    }

    func accept(_ connection: any ByteStream) {
        guard !stopped else { return connection.close() }
        // Connections in their handshake have their own budget (rfbMaxPending) and deadline: they are not
        // viewers until ClientInit, so stalled handshakes cannot lock real viewers out (framebuffer.md).
        let slot: AdmissionSlot
        switch gate.admit(connection.kind) {
        case .success(let admitted): slot = admitted
        case .failure(let refusal):
            counters.viewersRefused += 1
            let reason =
                refusal == .tooManyClients
                ? "too many viewers (maxViewers \(config.maxViewers))"
                : "too many connections in their handshake (rfbMaxPending \(gate.policy.maxPending))"
            // 3.8 clients read the security list after sending their version: an empty list and a reason.
            connection.write(RFBServerSession.serverVersion + RFBServerSession.refusal(reason: reason))
            connection.closeAfterWrites()
            return
        }
        let id = nextViewerID
        nextViewerID += 1
        counters.viewersAccepted += 1
        let security: RFBServerSession.Security =
            config.password.map { .vncPassword(Array($0.utf8)) } ?? .none
        let viewer = RFBViewer(
            id: id, connection: connection, screen: self,
            session: RFBServerSession(
                security: security, challenge: Self.randomBytes(16), width: config.width, height: config.height,
                name: "\(host.configuration.platform.name) \(name)",
                limits: RFBLimits(maxCutTextBytes: config.maxCutTextBytes)))
        viewer.admission = slot
        slot.onDeadline = { [unowned viewer] refusal in viewer.close(reason: refusal.rawValue) }
        viewers[id] = viewer
        viewer.start()
    }

    func viewerClosed(_ viewer: RFBViewer, reason: String) {
        guard viewers.removeValue(forKey: viewer.id) != nil else { return }
        if viewer.initialised {
            host.publish(
                "fb.viewer.disconnected", device: name,
                data: ["viewer": .uint(viewer.id), "endpoint": .string(viewer.remote), "reason": .string(reason)])
        }
    }

    func viewerInitialised(_ viewer: RFBViewer, shared: Bool) {
        // §7.3.1: a non-shared client asks for exclusive access: the others are disconnected.
        if !shared {
            for other in Array(viewers.values) where other !== viewer {
                other.close(reason: "a non-shared viewer connected")
            }
        }
        host.publish(
            "fb.viewer.connected", device: name,
            data: ["viewer": .uint(viewer.id), "endpoint": .string(viewer.remote), "shared": .bool(shared)])
    }

    static func randomBytes(_ count: Int) -> [UInt8] { SecureRandom.bytes(count) }

    // MARK: Guest channels

    func openChannel(endpoint: any GuestChannelEndpoint) -> Result<any GuestChannel, GuestChannelRefusal> {
        let partition = endpoint.partition
        guard host.deviceGrant(partition: partition, device: name) != nil else {
            return .failure(GuestChannelRefusal(code: .notPermitted, reason: "\(partition) has no grant for \(name)"))
        }
        if let existing = channels[partition], existing.endpoint.isOpen {
            return .failure(
                GuestChannelRefusal(code: .channelInUse, reason: "\(partition) already has \(name) open"))
        }
        let channel = FramebufferGuestChannel(screen: self, endpoint: endpoint)
        channels[partition] = channel
        return .success(channel)
    }

    func channelClosed(_ channel: FramebufferGuestChannel) {
        if channels[channel.partition] === channel { channels[channel.partition] = nil }
        pendingFrames[channel.partition] = nil
    }
}

extension ChannelRect {
    /// The same rectangle on the screen; the compositor checks it against the surface and the regions.
    var screenRect: ScreenRect { ScreenRect(x: x, y: y, width: width, height: height) }
}

/// A partition's drawing channel to a framebuffer (`Protocols/framebuffer.md` §3): each `CHANNEL_DATA` is one
/// command, decoded by `FramebufferWire`; a refused one is answered by an `ERROR` frame and the channel stays
/// open.
package final class FramebufferGuestChannel: GuestChannel {
    unowned let screen: FramebufferScreen
    let endpoint: any GuestChannelEndpoint
    var partition: String { endpoint.partition }
    /// The shared-memory surface, once the guest asked for one (SURFACE, §3.5).
    private(set) var sharedSurface: (any SharedMemory)?
    /// Rows gathered from the shared surface for one damage rectangle, reused across FLUSHes.
    private var flushBuffer: [UInt8] = []

    init(screen: FramebufferScreen, endpoint: any GuestChannelEndpoint) {
        self.screen = screen
        self.endpoint = endpoint
    }

    package var maxData: UInt32 { UInt32(FramebufferScreen.maxChannelData) }

    /// u16 width, u16 height, u8 focused, u8 may preempt, u8 region count, then per region u16 x, y, w, h.
    package var openedOptions: [UInt8] {
        let compositor = screen.compositor
        let regions = compositor.regions(of: partition).prefix(255)
        var out: [UInt8] = []
        for value in [compositor.width, compositor.height] { out += [UInt8(value >> 8), UInt8(value & 0xff)] }
        out.append(compositor.focus == partition ? 1 : 0)
        out.append(compositor.preemptors.contains(partition) ? 1 : 0)
        out.append(UInt8(regions.count))
        for region in regions {
            for value in [region.rect.x, region.rect.y, region.rect.width, region.rect.height] {
                out += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
        }
        return out
    }

    func send(_ event: FramebufferHubEvent) {
        endpoint.send(event.encode())
    }

    package func received(_ data: ArraySlice<UInt8>) {
        screen.counters.commands += 1
        let command: FramebufferGuestCommand
        do {
            command = try FramebufferGuestCommand.decode(data)
        } catch {
            return refuse(.malformedFrame, command: data.first ?? 0, error.description)
        }
        do {
            guard try perform(command) else { return }
        } catch {
            let code: GuestErrorCode =
                switch error.kind {
                case .outOfBounds: .outOfBounds
                case .notPermitted: .notPermitted
                case .malformed: .malformedFrame
                }
            return refuse(code, command: data.first ?? 0, error.reason)
        }
        screen.schedulePump()
    }

    /// Applies one command. True when it drew (the screen pumps its changes); false when it was handled
    /// otherwise (pacing, ownership, the surface) or refused with its own ERROR.
    private func perform(_ command: FramebufferGuestCommand) throws(FramebufferRefusal) -> Bool {
        switch command {
        case .put(let rect, let compressed, let payload):
            return try put(rect.screenRect, compressed: compressed, payload)
        case .fill(let rect, let colour):
            try screen.compositor.draw(.fill(rect.screenRect, colour: colour), by: partition)
        case .copy(let sourceX, let sourceY, let destination):
            try screen.compositor.draw(
                .copy(sourceX: sourceX, sourceY: sourceY, destination: destination.screenRect), by: partition)
        case .frame(let number):
            screen.frameFinished(by: partition, number: number)
            return false
        case .preempt:
            screen.apply(try screen.compositor.preempt(by: partition))
            return false
        case .release:
            screen.apply(try screen.compositor.release(by: partition))
            return false
        case .surface:
            mapSurface()
            return false
        case .flush(let rects):
            try flush(rects.map(\.screenRect))
        }
        return true
    }

    /// PUT: raw pixels, or one zlib stream of them inflated to exactly w·h·4 bytes (§3.1).
    private func put(_ rect: ScreenRect, compressed: Bool, _ payload: ArraySlice<UInt8>) throws(FramebufferRefusal)
        -> Bool
    {
        var pixels = payload
        if compressed {
            // The rectangle is checked first, so the inflate limit is bounded by the surface size.
            guard screen.compositor.bounds.contains(rect), !rect.isEmpty else {
                refuse(
                    .outOfBounds, command: FramebufferGuestCommand.Tag.put,
                    "rectangle \(rect.width)x\(rect.height)+\(rect.x)+\(rect.y) is outside the surface")
                return false
            }
            guard let inflated = Zlib.inflate(payload, limit: rect.area * 4), inflated.count == rect.area * 4 else {
                refuse(
                    .malformedFrame, command: FramebufferGuestCommand.Tag.put,
                    "zlib data does not inflate to exactly \(rect.area * 4) bytes")
                return false
            }
            pixels = inflated[...]
        }
        try screen.compositor.draw(.put(rect, pixels: pixels), by: partition)
        return true
    }

    /// A refused command: a guest-protocol ERROR frame on this channel (`Protocols/guest.md` §5.5), whose
    /// reason starts with the command's name. The channel stays open.
    private func refuse(_ code: GuestErrorCode, command: UInt8, _ reason: String) {
        screen.counters.commandErrors += 1
        endpoint.sendError(code, reason: "\(FramebufferGuestCommand.name(ofTag: command)): \(reason)")
    }

    // MARK: Shared-memory surface (§3.5)

    /// Makes the screen-sized shared memory (once; a second SURFACE resends the same memory) and passes it.
    private func mapSurface() {
        let tag = FramebufferGuestCommand.Tag.surface
        guard endpoint.passesDescriptors else {
            return refuse(.notPermitted, command: tag, "shared surfaces need a Unix-socket session (use PUT)")
        }
        let compositor = screen.compositor
        let stride = compositor.width * 4
        if sharedSurface == nil {
            sharedSurface = screen.host.makeSharedMemory(
                name: "\(screen.name):\(partition)", sizeBytes: UInt64(stride * compositor.height))
        }
        guard let surface = sharedSurface else {
            return refuse(.internalError, command: tag, "the kernel refused a memfd for the surface")
        }
        let descriptor = surface.duplicateDescriptor()
        guard descriptor >= 0 else {
            return refuse(.internalError, command: tag, "could not duplicate the surface descriptor")
        }
        screen.counters.surfacesMapped += 1
        endpoint.send(
            FramebufferHubEvent.surface(
                width: compositor.width, height: compositor.height, stride: UInt32(stride), size: surface.sizeBytes
            ).encode(), passingOwned: descriptor)
    }

    /// Composes each damage rectangle from the shared surface, checked like PUT. The rectangles are
    /// applied in order; the first refused one stops the rest (the guest gets one ERROR).
    private func flush(_ rects: [ScreenRect]) throws(FramebufferRefusal) {
        guard let surface = sharedSurface else {
            throw FramebufferRefusal(.notPermitted, "no shared surface: send SURFACE first")
        }
        let width = screen.compositor.width
        let bounds = screen.compositor.bounds
        for rect in rects {
            // Checked here too: the rows are read from the mapping before the compositor sees them.
            guard !rect.isEmpty, bounds.contains(rect) else {
                throw FramebufferRefusal(
                    .outOfBounds,
                    "rectangle \(rect.width)x\(rect.height)+\(rect.x)+\(rect.y) is outside the \(bounds.width)x\(bounds.height) surface"
                )
            }
            let rowBytes = rect.width * 4
            flushBuffer.removeAll(keepingCapacity: true)
            flushBuffer.reserveCapacity(rect.area * 4)
            surface.withUnsafeBytes { mapping in
                for y in rect.y..<rect.maxY {
                    let start = (y * width + rect.x) * 4
                    flushBuffer.append(contentsOf: mapping[start..<(start + rowBytes)])
                }
            }
            screen.counters.flushedRects += 1
            try screen.compositor.draw(.put(rect, pixels: flushBuffer[...]), by: partition)
        }
    }

    package func closed(reason: String) {
        screen.channelClosed(self)
    }
}

/// One VNC viewer: the socket, its RFB session state, its pixel format and encodings, its pending damage.
package final class RFBViewer {
    package let id: UInt64
    let connection: any ByteStream
    unowned let screen: FramebufferScreen
    private var session: RFBServerSession
    private let encoder = RFBUpdateEncoder()
    private var damage = ViewerDamage()
    /// The area of the viewer's outstanding FramebufferUpdateRequest, if any.
    private var requested: ScreenRect?
    private var touch = TouchTracker()
    private var cursorSent = false
    /// A DesktopSize rectangle is owed: the viewer announced the pseudo-encoding and has not had one
    /// for the current size (RFC 6143 §7.8.2 lets the server send it in any update once announced).
    private var desktopSizeDue = false
    private var closed = false
    package private(set) var initialised = false
    package private(set) var updatesSent: UInt64 = 0
    /// The peer's address, or `unix`.
    package let remote: String
    /// This connection's place in the screen's admission budgets: pending until ClientInit.
    var admission: AdmissionSlot?

    init(id: UInt64, connection: any ByteStream, screen: FramebufferScreen, session: RFBServerSession) {
        self.id = id
        self.connection = connection
        self.screen = screen
        self.session = session
        remote = connection.peerDescription ?? "unix"
    }

    package var pixelEncodingName: String {
        switch encoder.preferences.pixels {
        case RFBEncoding.hextile: "hextile"
        case RFBEncoding.zrle: "zrle"
        case RFBEncoding.tight: encoder.preferences.tight.qualityLevel == nil ? "tight" : "tight-jpeg"
        default: "raw"
        }
    }

    var bytesByEncoding: [Int32: UInt64] { encoder.bytesByEncoding }

    func start() {
        // Weak: the connection outlives the viewer while its last writes drain after close.
        connection.onData = { [weak self] bytes in self?.received(bytes) }
        connection.onEnd = { [weak self] _ in self?.close(reason: "viewer disconnected") }
        connection.onWriteError = { [weak self] error in self?.close(reason: "write failed: \(error)") }
        connection.maxReadBytes = screen.host.limits.rfbReadBytesPerPass
        connection.write(session.greeting)
        do {
            try connection.startReading()
        } catch {
            close(reason: "cannot read: \(error)")
        }
    }

    func resumeReading() {
        guard !closed else { return }
        do {
            try connection.startReading()
        } catch {
            close(reason: "cannot read: \(error)")
        }
    }

    func close(reason: String) {
        guard !closed else { return }
        closed = true
        admission?.release()
        connection.onData = nil
        connection.onEnd = nil
        connection.onWriteError = nil
        connection.closeAfterWrites()
        screen.viewerClosed(self, reason: reason)
    }

    /// One read, at most `rfbReadBytesPerPass`: nothing more is read from this viewer until the next pass, so one
    /// that floods keys, pointer moves or update requests gets a slice of the loop, not all of it.
    private func received(_ bytes: ArraySlice<UInt8>) {
        guard !closed else { return }
        connection.stopReading()
        screen.readNextPass(self)
        admission?.noteActivity()
        let output = session.feed(bytes)
        // ClientInit ends the handshake: only now does the connection count as a viewer. Refused before anything
        // of this read is written, so a client turned away never gets a ServerInit that says it was let in.
        if output.initialised != nil, let admission, !admission.authenticate() {
            screen.counters.viewersRefused += 1
            return close(reason: "too many viewers (maxViewers \(screen.config.maxViewers))")
        }
        if !output.send.isEmpty { connection.write(output.send) }
        if let shared = output.initialised {
            initialised = true
            screen.viewerInitialised(self, shared: shared)
        }
        for message in output.messages { handle(message) }
        if let reason = output.close {
            screen.counters.viewerProtocolErrors += 1
            screen.host.logger.info("\(screen.name): viewer \(remote) closed: \(reason)")
            close(reason: reason)
        }
    }

    private func handle(_ message: RFBClientMessage) {
        switch message {
        case .setPixelFormat(let format):
            encoder.format = format
        case .setEncodings(let encodings):
            let announcedBefore = encoder.preferences.desktopSize
            encoder.preferences = RFBEncodingPreferences(encodings)
            damage.supportsCopyRect = encoder.preferences.copyRect
            // First announcement: confirm the size in the next update, so the viewer knows the
            // server honours the pseudo-encoding (and any later change reaches it the same way).
            if encoder.preferences.desktopSize && !announcedBefore { desktopSizeDue = true }
        case .framebufferUpdateRequest(let incremental, let rect):
            let area = rect.intersection(screen.compositor.bounds)
            requested = (requested ?? area).union(area)
            if !incremental { damage.addAll(area) }
            // Answered at the next pump, once however many requests this read held: one update per pass.
            screen.schedulePump()
        case .keyEvent(let down, let keysym):
            if let key = Keypad.key(forKeysym: keysym) {
                screen.deliverKey(key, down: down, keysym: keysym)
            } else {
                screen.counters.keysIgnored += 1
            }
        case .pointerEvent(let mask, let x, let y):
            if let action = touch.pointer(buttonMask: mask, x: x, y: y) {
                screen.deliverTouch(
                    action, x: min(x, screen.config.width - 1), y: min(y, screen.config.height - 1))
            }
        case .clientCutText:
            break  // the handset has no clipboard; the length was bounded by the decoder
        }
    }

    func add(_ changes: [ScreenChange]) {
        for change in changes { damage.add(change) }
    }

    /// Whether the viewer asked for an update and has something to get, with room in its queue.
    var isOwedUpdate: Bool {
        !closed && initialised && requested != nil && (!damage.isEmpty || needsCursor || needsDesktopSize)
            && connection.queuedWriteBytes < FramebufferScreen.viewerQueueLimit
    }

    /// Sends one update when the viewer is owed one (`isOwedUpdate`); whether it did.
    @discardableResult
    func sendUpdateIfReady() -> Bool {
        guard isOwedUpdate, let area = requested else { return false }
        let (move, rects) = damage.take()
        var moves: [RFBUpdateEncoder.Move] = []
        if case .move(let sourceX, let sourceY, let destination)? = move {
            moves.append(RFBUpdateEncoder.Move(sourceX: sourceX, sourceY: sourceY, destination: destination))
        }
        let clipped = rects.map { $0.intersection(area) }.filter { !$0.isEmpty }
        let source = RFBPixelSource(
            pixels: screen.compositor.screen, width: screen.config.width, height: screen.config.height)
        let cursor = needsCursor ? RFBCursor.touchDot : nil
        cursorSent = cursorSent || cursor != nil
        let size = needsDesktopSize ? (width: screen.config.width, height: screen.config.height) : nil
        if size != nil { desktopSizeDue = false }
        screen.rectCache.use(generation: screen.compositor.generation)
        let bytes = encoder.update(
            source: source, rects: clipped, moves: moves, cursor: cursor, desktopSize: size, cache: screen.rectCache)
        requested = nil
        updatesSent += 1
        screen.counters.updatesSent += 1
        screen.counters.updateBytes += UInt64(bytes.count)
        _ = connection.write(bytes) { [weak self] _ in
            // Room again: whatever coalesced meanwhile goes out now if the pass has encoding budget left.
            guard let self, !self.closed else { return }
            self.screen.writeCompleted(for: self)
        }
        return true
    }

    private var needsCursor: Bool { encoder.preferences.cursor && !cursorSent }
    /// The size is fixed by the configuration, so the only DesktopSize owed is the confirmation after
    /// the announcement; a resizable screen would set `desktopSizeDue` on every viewer when it changes.
    private var needsDesktopSize: Bool { encoder.preferences.desktopSize && desktopSizeDue }
}
