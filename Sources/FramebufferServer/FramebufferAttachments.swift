import DeviceKit
import EventLoop
import Framebuffer
import FramebufferWire
import GuestWire
import RFBWire

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

    static func randomBytes(_ count: Int) -> [UInt8] {
        // The system generator is the kernel's CSPRNG (getrandom) on Linux.
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    // MARK: Guest channels

    func openChannel(endpoint: any GuestChannelEndpoint) -> Result<any GuestChannel, GuestChannelRefusal> {
        let partition = endpoint.partition
        guard host.configuration.partition(named: partition)?.grant(for: name) != nil else {
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
            return refuse(
                error.kind == .outOfBounds ? .outOfBounds : .notPermitted, command: data.first ?? 0, error.reason)
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
