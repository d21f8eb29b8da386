import DeviceKit
import EventLoop
import Framebuffer
import GuestWire
import Hypervisor
import JSON
import PlatformConfig
import RFBWire

/// One framebuffer on the hub: the compositor, the RFB listeners and viewers, the guests' drawing
/// channels, input routing and frame pacing (`Protocols/framebuffer.md`).
///
/// Updates flow by pull: drawing records screen changes; a pump (once per loop pass with changes) fans
/// them out to each viewer's pending damage, and sends an update to each viewer that asked for one and
/// whose write queue has room. A slow viewer's damage keeps coalescing, so it gets fewer, larger
/// updates and never holds the others back.
final class FramebufferScreen {
    static let maxChannelData = 1 << 20
    /// A viewer gets its next update only once its write queue is below this.
    static let viewerQueueLimit = 256 * 1024

    let config: FramebufferConfig
    unowned let hub: Hub
    var compositor: Compositor
    private var listeners: [Listener] = []
    /// Admission of this framebuffer's RFB listeners (`Admission.swift`); set in `start`.
    private(set) var gate: AdmissionGate!
    private(set) var boundEndpoints: [Endpoint] = []
    var viewers: [UInt64: RFBViewer] = [:]
    private var nextViewerID: UInt64 = 1
    /// The open drawing channel of each partition.
    var channels: [String: FramebufferGuestChannel] = [:]
    private var pumpTimer: Timer?
    private var pumpScheduled = false
    private var frameTimer: Timer?
    /// Frames guests finished and still await FRAME_DONE, by partition.
    private var pendingFrames: [String: UInt32] = [:]
    private var lastFrameDone: [String: UInt64] = [:]
    var waits: [FramebufferWait] = []
    private(set) var waitTimerHandle: Timer?
    var counters = Counters()
    /// Raw/Hextile rectangles encoded for one viewer, reused for the others (same picture, same format).
    let rectCache = RFBRectCache()
    private var stopped = false

    struct Counters {
        var viewersAccepted: UInt64 = 0
        var viewersRefused: UInt64 = 0
        var viewerProtocolErrors: UInt64 = 0
        var updatesSent: UInt64 = 0
        var updateBytes: UInt64 = 0
        var keysDelivered: UInt64 = 0
        var keysIgnored: UInt64 = 0
        var inputDropped: UInt64 = 0
        var touchesDelivered: UInt64 = 0
        var commands: UInt64 = 0
        var commandErrors: UInt64 = 0
        var framesDone: UInt64 = 0
        var surfacesMapped: UInt64 = 0
        var flushedRects: UInt64 = 0
    }

    var name: String { config.name }

    init(config: FramebufferConfig, hub: Hub) {
        self.config = config
        self.hub = hub
        compositor = Compositor(
            width: config.width, height: config.height,
            regions: config.layout.map {
                LayoutRegion(
                    name: $0.name, owner: $0.owner,
                    rect: ScreenRect(x: $0.x, y: $0.y, width: $0.width, height: $0.height),
                    z: $0.z)
            },
            preemptors: Set(config.preemptors), defaultFocus: config.defaultFocus)
    }

    func start(entry: String) throws(HubStartError) {
        do {
            pumpTimer = try Timer(loop: hub.loop)
            frameTimer = try Timer(loop: hub.loop)
            waitTimerHandle = try Timer(loop: hub.loop)
        } catch {
            throw .loop(error)
        }
        let limits = hub.configuration.hub.limits
        gate = hub.admission.gate(
            "rfb:\(name)",
            AdmissionPolicy(
                maxPending: limits.rfbMaxPending, maxAuthenticated: config.maxViewers,
                handshakeMs: limits.rfbHandshakeMs, idleMs: limits.rfbIdleMs, pendingLimit: "rfbMaxPending",
                authenticatedLimit: "maxViewers"))
        for (index, endpoint) in config.rfbEndpoints.enumerated() {
            do {
                let listener = try Listener(loop: hub.loop, address: endpoint.socketAddress) { [unowned self] in
                    self.accept($0)
                }
                gate.watch(listener)
                listeners.append(listener)
                boundEndpoints.append(listener.boundAddress.endpoint)
            } catch {
                throw .listen(entry: "\(entry).rfbEndpoints[\(index)]", endpoint: endpoint, error)
            }
        }
        if !boundEndpoints.isEmpty {
            hub.logger.info(
                "\(name): RFB 3.8 on \(boundEndpoints.map(\.description).joined(separator: ", ")) (security \(config.password == nil ? "None" : "VNC"))"
            )
        }
    }

    func stop() {
        stopped = true
        for listener in listeners { listener.close() }
        for viewer in Array(viewers.values) { viewer.close(reason: "hub shutting down") }
        pumpTimer?.close()
        frameTimer?.close()
        waitTimerHandle?.close()
        for wait in waits { wait.call.reply(.error(.unavailable("the hub is shutting down"))) }
        waits.removeAll()
    }

    // MARK: Viewers

    private func accept(_ connection: Connection) {
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
                name: "\(hub.configuration.platform.name) \(name)",
                limits: RFBLimits(maxCutTextBytes: config.maxCutTextBytes)))
        viewer.admission = slot
        slot.onDeadline = { [unowned viewer] refusal in viewer.close(reason: refusal.rawValue) }
        viewers[id] = viewer
        viewer.start()
    }

    func viewerClosed(_ viewer: RFBViewer, reason: String) {
        guard viewers.removeValue(forKey: viewer.id) != nil else { return }
        if viewer.initialised {
            hub.publish(
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
        hub.publish(
            "fb.viewer.connected", device: name,
            data: ["viewer": .uint(viewer.id), "endpoint": .string(viewer.remote), "shared": .bool(shared)])
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        // The system generator is the kernel's CSPRNG (getrandom) on Linux.
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    // MARK: Pump

    /// Arranges one pump at the next loop pass (many drawing commands in one read share it).
    func schedulePump() {
        guard !pumpScheduled, !stopped else { return }
        pumpScheduled = true
        pumpTimer?.start(afterMilliseconds: 0) { [unowned self] in
            self.pumpScheduled = false
            self.pump()
        }
    }

    func pump() {
        let changes = compositor.takeChanges()
        if !changes.isEmpty {
            for viewer in viewers.values { viewer.add(changes) }
            checkWaits(changes)
        }
        for viewer in viewers.values { viewer.sendUpdateIfReady() }
        answerFrames()
    }

    // MARK: Frames

    func frameFinished(by partition: String, number: UInt32) {
        pendingFrames[partition] = number
        schedulePump()
    }

    /// FRAME_DONE once the frame is composed and offered, at most `refreshHz` times a second per guest.
    private func answerFrames() {
        guard !pendingFrames.isEmpty else { return }
        let now = MonotonicClock.nanoseconds()
        let interval: UInt64 = config.refreshHz > 0 ? 1_000_000_000 / UInt64(config.refreshHz) : 0
        var earliest: UInt64?
        for (partition, number) in pendingFrames {
            let last = lastFrameDone[partition] ?? 0
            if interval == 0 || now >= last + interval {
                pendingFrames[partition] = nil
                lastFrameDone[partition] = now
                counters.framesDone += 1
                channels[partition]?.send(.frameDone(number))
                if let line = config.frameDoneLine { raise(line, on: partition) }
            } else {
                let due = last + interval - now
                earliest = min(earliest ?? due, due)
            }
        }
        if let earliest {
            frameTimer?.start(afterMilliseconds: max(1, earliest / 1_000_000)) { [unowned self] in self.answerFrames() }
        }
    }

    func raise(_ line: Int, on partition: String) {
        var actions: [Action] = []
        _ = hub.platform.raise(from: .device(name), to: partition, line: line, actions: &actions)
        hub.perform(&actions)
    }

    // MARK: Guest channels

    func openChannel(endpoint: GuestChannelEndpoint) -> Result<GuestChannel, GuestChannelRefusal> {
        let partition = endpoint.partition
        guard hub.configuration.partition(named: partition)?.grant(for: name) != nil else {
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

    func partitionDetached(_ partition: String) {
        apply(compositor.partitionDetached(partition))
    }

    /// Publishes ownership changes and tells the guests concerned.
    func apply(_ changes: [OwnershipChange]) {
        for change in changes {
            switch change {
            case .focus(let from, let to):
                hub.publish(
                    "fb.focus", partition: to, device: name,
                    data: ["from": from.map(JSON.string) ?? .null, "to": to.map(JSON.string) ?? .null])
                if let from { channels[from]?.send(.focus(false)) }
                if let to { channels[to]?.send(.focus(true)) }
            case .preempted(let by):
                hub.publish("fb.preempted", partition: by, device: name, data: [:])
                for channel in channels.values { channel.send(.preemption(by: by)) }
            case .released(let by):
                hub.publish("fb.released", partition: by, device: name, data: [:])
                for channel in channels.values { channel.send(.preemption(by: "")) }
            }
        }
        schedulePump()
    }

    // MARK: Input

    /// Sends a key to the partition with focus (channel event, then its input line).
    @discardableResult
    func deliverKey(_ key: KeypadKey, down: Bool, keysym: UInt32) -> String? {
        deliverInput(.key(key, down: down, keysym: keysym)) { $0.keysDelivered += 1 }
    }

    @discardableResult
    func deliverTouch(_ action: TouchAction, x: Int, y: Int) -> String? {
        deliverInput(.touch(action, x: x, y: y)) { $0.touchesDelivered += 1 }
    }

    private func deliverInput(_ event: FramebufferHubEvent, count: (inout Counters) -> Void) -> String? {
        guard let focus = compositor.focus, let channel = channels[focus], channel.endpoint.isOpen else {
            counters.inputDropped += 1
            return nil
        }
        channel.send(event)
        count(&counters)
        if let line = config.inputLine { raise(line, on: focus) }
        return focus
    }
}
