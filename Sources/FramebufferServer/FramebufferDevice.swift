import ControlWire
import DeviceKit
import EventLoop
import Framebuffer
import FramebufferWire
import GuestWire
import JSON
import PlatformConfig
import RFBWire

/// The framebuffer family: one `FramebufferScreen` per configured framebuffer (`Protocols/framebuffer.md`), its
/// control methods (`FramebufferMethods.swift`) and the family's `fb.wait`s (`FramebufferWaits.swift`).
package final class FramebufferDevice: HubDevice {
    package let familyName = "framebuffer"
    package private(set) var screens: [FramebufferScreen] = []
    /// Set by `start`. Unowned, not weak: the hub owns the device and outlives it, and a weak reference would give
    /// the hub a side table (`Sources/ARCHITECTURE.md`, "A handle's lifetime").
    private(set) unowned var host: (any DeviceHost)?
    /// The family's pending `fb.wait`s, under the kit's one limit (`controlMaxWaiters`); set by `start`.
    private(set) var waits: DeferredWaits<FramebufferWait>!

    package init() {}

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        let waits: DeferredWaits<FramebufferWait> = host.makeWaits()
        self.waits = waits
        for (index, config) in host.configuration.devices.framebuffers.enumerated() {
            let screen = FramebufferScreen(config: config, host: host, waits: waits)
            screens.append(screen)
            try screen.start(entry: "devices.framebuffers[\(index)]")
        }
        host.register(methods)
    }

    package func stop() {
        for screen in screens { screen.stop() }
        waits?.finishAll(.error(.unavailable("the hub is shutting down")))
        waits?.close()
    }

    package var channelDeviceNames: [String] { screens.map(\.name) }

    package func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: any GuestChannelEndpoint)
        -> Result<any GuestChannel, GuestChannelRefusal>
    {
        guard let screen = screen(named: device) else {
            return .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "no framebuffer \(device)"))
        }
        return screen.openChannel(endpoint: endpoint)
    }

    package var limitsJSON: JSON {
        .object(
            JSONObject(
                screens.map { screen in
                    (
                        screen.name,
                        [
                            "maxViewers": .int(Int64(screen.config.maxViewers)),
                            "maxCutTextBytes": .int(Int64(screen.config.maxCutTextBytes)),
                            "maxChannelData": .int(Int64(FramebufferScreen.maxChannelData)),
                            "refreshHz": .int(Int64(screen.config.refreshHz)),
                        ] as JSON
                    )
                }))
    }

    package func partitionDetached(_ partition: String) {
        for screen in screens { screen.partitionDetached(partition) }
    }

    package func screen(named name: String) -> FramebufferScreen? { screens.first { $0.name == name } }
}

/// One framebuffer on the hub: the compositor, the RFB listeners and viewers, the guests' drawing
/// channels (`FramebufferAttachments.swift`), input routing and frame pacing (`Protocols/framebuffer.md`).
///
/// Updates flow by pull: drawing records screen changes; a pump (once per loop pass with changes) fans
/// them out to each viewer's pending damage, and sends an update to each viewer that asked for one and
/// whose write queue has room. A slow viewer's damage keeps coalescing, so it gets fewer, larger
/// updates and never holds the others back.
package final class FramebufferScreen {
    package static let maxChannelData = 1 << 20
    /// A viewer gets its next update only once its write queue is below this.
    package static let viewerQueueLimit = 256 * 1024

    package let config: FramebufferConfig
    unowned let host: any DeviceHost
    /// The family's `fb.wait`s; this screen resolves those on its own region when it changes.
    let waits: DeferredWaits<FramebufferWait>
    package var compositor: Compositor
    var listeners: [any StreamListener] = []
    /// Admission of this framebuffer's RFB listeners (`DeviceKit`'s `AdmissionGate`); set in `start`.
    package internal(set) var gate: AdmissionGate!
    package internal(set) var boundEndpoints: [Endpoint] = []
    package internal(set) var viewers: [UInt64: RFBViewer] = [:]
    var nextViewerID: UInt64 = 1
    /// The open drawing channel of each partition.
    package internal(set) var channels: [String: FramebufferGuestChannel] = [:]
    private var pumpTimer: Timer?
    private var pumpScheduled = false
    /// Viewers that took this pass's slice of their input (`RFBViewer.received`), read again from the next pass
    /// on: at this pass's end (`readAgain`), so the next poll reads them, never twice in one pass.
    private var heldViewers: [RFBViewer] = []
    private var readAgain: EndOfPass?
    /// Set when a pump ran out of its encoding budget with viewers still owed an update: the pump runs again
    /// at the next pass (armed at this pass's end; a zero timer started from its own callback would run again
    /// in the same pass).
    private var pumpNextPass: EndOfPass?
    /// The viewer the next pump serves first: viewers are served in turn from where the last pump stopped.
    private var nextViewerServed: UInt64 = 0
    private var pumping = false
    /// Encoding done in this pass, by pumps and write completions together, against `rfbEncodeMsPerPass`;
    /// cleared at the pass's end (`passEnded`).
    private var passEncodeNanos: UInt64 = 0
    private var passUpdates = 0
    private var passEnded: EndOfPass?
    private var frameTimer: Timer?
    /// Frames guests finished and still await FRAME_DONE, by partition.
    var pendingFrames: [String: UInt32] = [:]
    private var lastFrameDone: [String: UInt64] = [:]
    package internal(set) var counters = FramebufferCounters()
    /// Raw/Hextile rectangles encoded for one viewer, reused for the others (same picture, same format).
    let rectCache = RFBRectCache()
    private(set) var stopped = false

    package var name: String { config.name }

    init(config: FramebufferConfig, host: any DeviceHost, waits: DeferredWaits<FramebufferWait>) {
        self.config = config
        self.host = host
        self.waits = waits
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
            pumpTimer = try Timer(loop: host.loop)
            frameTimer = try Timer(loop: host.loop)
            readAgain = try EndOfPass(loop: host.loop) { [unowned self] in
                let held = self.heldViewers
                self.heldViewers.removeAll()
                for viewer in held { viewer.resumeReading() }
            }
            pumpNextPass = try EndOfPass(loop: host.loop) { [unowned self] in self.schedulePump() }
            passEnded = try EndOfPass(loop: host.loop) { [unowned self] in
                self.passEncodeNanos = 0
                self.passUpdates = 0
            }
        } catch {
            throw .loop(error)
        }
        try openListeners(entry: entry)
    }

    func stop() {
        stopped = true
        for listener in listeners { listener.close() }
        for viewer in Array(viewers.values) { viewer.close(reason: "hub shutting down") }
        pumpTimer?.close()
        frameTimer?.close()
        readAgain?.close()
        pumpNextPass?.close()
        passEnded?.close()
    }

    // MARK: Pump

    /// Arranges one pump at the next loop pass (many drawing commands in one read share it).
    func schedulePump() {
        // From inside a pump (a write completed at once), a zero timer would run again in this pass's timer
        // phase, past the pump's budget: the pump runs at the next pass instead.
        if pumping {
            pumpNextPass?.arm()
            return
        }
        guard !pumpScheduled, !stopped else { return }
        pumpScheduled = true
        pumpTimer?.start(afterMilliseconds: 0) { [unowned self] in
            self.pumpScheduled = false
            self.pump()
        }
    }

    /// `viewer` took this pass's slice of its input; it is read again from the next pass on.
    func readNextPass(_ viewer: RFBViewer) {
        heldViewers.append(viewer)
        readAgain?.arm()
    }

    /// Hands the screen's changes to every viewer, then sends updates to the viewers owed one, in turn from where
    /// the last pump stopped, until `hub.limits.rfbEncodeMsPerPass` of encoding is spent (at least one update):
    /// encoding a busy screen for many viewers took most of a pass per viewer, all in one pass.
    func pump() {
        pumping = true
        defer { pumping = false }
        let changes = compositor.takeChanges()
        if !changes.isEmpty {
            for viewer in viewers.values { viewer.add(changes) }
            resolveWaits(changes)
        }
        let ids = viewers.keys.sorted()
        let first = ids.firstIndex { $0 >= nextViewerServed } ?? 0
        for offset in ids.indices {
            let id = ids[(first + offset) % ids.count]
            guard let viewer = viewers[id], viewer.isOwedUpdate else { continue }
            guard mayEncode else {
                // Out of budget: this viewer, owed an update, and the ones after it come first at the next pass.
                nextViewerServed = id
                pumpNextPass?.arm()
                counters.updatesDeferred += 1
                answerFrames()
                return
            }
            serve(viewer)
        }
        nextViewerServed = (ids.last ?? 0) &+ 1
        answerFrames()
    }

    /// Whether this pass may encode another update: none yet, or less than `rfbEncodeMsPerPass` so far.
    var mayEncode: Bool {
        passUpdates == 0 || passEncodeNanos < UInt64(host.limits.rfbEncodeMsPerPass) * 1_000_000
    }

    /// Sends `viewer` its update if it is owed one, the encoding charged to this pass.
    func serve(_ viewer: RFBViewer) {
        let started = MonotonicClock.nanoseconds()
        guard viewer.sendUpdateIfReady() else { return }
        passEncodeNanos &+= MonotonicClock.nanoseconds() &- started
        passUpdates += 1
        passEnded?.arm()
    }

    /// A viewer's update was written and it may be owed the next: served now while the pass has budget left (a
    /// viewer whose queue was full waits for this), otherwise by the next pass's pump, in turn.
    func writeCompleted(for viewer: RFBViewer) {
        guard viewer.isOwedUpdate else { return }
        if mayEncode && !pumping {
            serve(viewer)
        } else {
            pumpNextPass?.arm()
        }
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
        host.raiseInterrupt(from: name, to: partition, line: line)
    }

    func partitionDetached(_ partition: String) {
        apply(compositor.partitionDetached(partition))
    }

    /// Publishes ownership changes and tells the guests concerned.
    func apply(_ changes: [OwnershipChange]) {
        for change in changes {
            switch change {
            case .focus(let from, let to):
                host.publish(
                    "fb.focus", partition: to, device: name,
                    data: ["from": from.map(JSON.string) ?? .null, "to": to.map(JSON.string) ?? .null])
                if let from { channels[from]?.send(.focus(false)) }
                if let to { channels[to]?.send(.focus(true)) }
            case .preempted(let by):
                host.publish("fb.preempted", partition: by, device: name, data: [:])
                for channel in channels.values { channel.send(.preemption(by: by)) }
            case .released(let by):
                host.publish("fb.released", partition: by, device: name, data: [:])
                for channel in channels.values { channel.send(.preemption(by: "")) }
            }
        }
        schedulePump()
    }

    // MARK: Input

    /// Sends a key to the partition with focus (channel event, then its input line).
    @discardableResult
    func deliverKey(_ key: KeypadKey, down: Bool, keysym: UInt32) -> String? {
        deliverInput(.key(code: key.rawValue, down: down, keysym: keysym)) { $0.keysDelivered += 1 }
    }

    @discardableResult
    func deliverTouch(_ action: TouchAction, x: Int, y: Int) -> String? {
        deliverInput(.touch(action: action.rawValue, x: x, y: y)) { $0.touchesDelivered += 1 }
    }

    private func deliverInput(_ event: FramebufferHubEvent, count: (inout FramebufferCounters) -> Void) -> String? {
        // A focused guest that does not read (its write queue over the high watermark) is not sent more: input is
        // lossy as a real device's buffer is, where queueing it would grow without bound as a viewer types.
        guard let focus = compositor.focus, let channel = channels[focus], channel.endpoint.isOpen,
            !channel.endpoint.isCongested
        else {
            counters.inputDropped += 1
            return nil
        }
        channel.send(event)
        count(&counters)
        if let line = config.inputLine { raise(line, on: focus) }
        return focus
    }
}
