import ControlWire
import DeviceKit
import Ethernet
import EthernetWire
import EventLoop
import JSON
import PlatformConfig

/// The virtual Ethernet family (`Protocols/ethernet.md`): one `Switch` per configured segment, each port
/// bound to its transport. Frames from one read are all handed to the switch, then every port with
/// queued frames is written once, at the end of the pass (`passEnd`).
///
/// Files of this module (`Sources/ARCHITECTURE.md`, "Where a new device goes"): this one (the device, its
/// start and stop, guest channels' opening, `hub.limits`; segments and ports at run time),
/// `EthernetAttachments.swift` (the transports, taps included, the guest channel, the per-pass read slice),
/// `EthernetMethods.swift` (the `eth.*` methods), `EthernetWaits.swift` (`eth.wait` and capture: frames
/// observed at ports), `EthernetCounters.swift` (counters as JSON). The tap's kernel calls are `HubSystem`'s.
package final class EthernetDevice: HubDevice {
    package let familyName = "ethernet"
    private(set) var segments: [EthernetSegment] = []
    /// The hub, from `start` on (it outlives its devices).
    // SAFETY: unowned(unsafe): the hub outlives its devices (it stops them before it goes); a checked
    // reference cost a strong retain through the hub's side table at every pass that switched a frame.
    private(set) unowned(unsafe) var host: (any DeviceHost)!
    /// A flush is due at the end of this pass (`dirty` holds the segments to write).
    private var flushScheduled = false
    /// `passEnd` is running: a flush asked for meanwhile is done before it returns (or armed for the next pass).
    private var endingPass = false
    private var dirty: [EthernetSegment] = []
    /// Pending `eth.wait` calls, across segments (`EthernetWaits.swift`).
    private(set) var waits: DeferredWaits<FrameWatch>!
    /// Whether any `eth.wait` is pending (kept by `waits.onCountChange`): checked per frame, so frames go
    /// straight to the switch otherwise.
    private(set) var hasWaits = false
    /// Attachments that read this pass, reset at its end (`EthernetReadSlice`).
    var slicedReaders: [EthernetSlicedReader] = []
    /// The end of a pass in which an attachment read (`endReadPass`) or frames were queued (`flushDirty`):
    /// libuv's check phase, as all end-of-pass work (`Sources/ARCHITECTURE.md`, "Bounded slices per pass").
    /// Armed with its standing body, so arming it stores and releases no closure per pass.
    var passEnd: EndOfPass?
    /// How VXLAN remotes named by host name are resolved (a seam for tests).
    package var resolver = VXLANResolver.system
    /// Re-resolutions of those names, a bounded number at a time (made at start).
    private(set) var lookups: VXLANLookups?

    package init() {}

    /// The pass body holds this device unowned(unsafe): a device dropped without `stop` must not leave it armed.
    deinit { passEnd?.close() }

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        do {
            // SAFETY: unowned(unsafe) capture: the device owns the handle and closes it in `stop`, after which it
            // calls nothing; a checked capture cost a strong retain and release per pass.
            passEnd = try EndOfPass(loop: host.loop) { [unowned(unsafe) self] in self.endPass() }
        } catch {
            throw .loop(error)
        }
        // The name and reason `eth.wait` has always refused with (`Protocols/control.md` §13.9).
        waits = host.makeWaits(limitName: "eth.maxWatches", reason: "limit_exceeded")
        waits.onCountChange = { [unowned self] count in
            self.hasWaits = count > 0
            for segment in self.segments { segment.updateObserved() }
        }
        lookups = VXLANLookups(resolver: resolver, loop: host.loop, limit: host.limits.vxlanLookupsInFlight)
        for (index, config) in host.configuration.devices.ethernet.enumerated() {
            let segment = EthernetSegment(config: config, index: index, device: self)
            segments.append(segment)
            try segment.start(loop: host.loop)
        }
        host.register(methods)
    }

    package func stop() {
        waits?.finishAll(.error(.unavailable("the hub is shutting down")))
        waits?.close()
        for segment in segments { segment.stop() }
        lookups?.close()
        passEnd?.close()
        slicedReaders.removeAll()
    }

    package var channelDeviceNames: [String] { segments.map(\.name) }

    package func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: any GuestChannelEndpoint)
        -> Result<any GuestChannel, GuestChannelRefusal>
    {
        guard let segment = segment(named: device) else {
            return .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "no segment \(device)"))
        }
        guard host.deviceGrant(partition: endpoint.partition, device: device) != nil else {
            return .failure(
                GuestChannelRefusal(code: .notPermitted, reason: "\(endpoint.partition) has no grant for \(device)"))
        }
        guard let port = segment.ports.first(where: { $0.config.partition == endpoint.partition }),
            let guest = port.attachment as? GuestPortAttachment
        else {
            return .failure(
                GuestChannelRefusal(
                    code: .noSuchDevice, reason: "\(device) has no port for partition \(endpoint.partition)"))
        }
        if let previous = guest.endpoint, previous.isOpen {
            return .failure(
                GuestChannelRefusal(code: .channelInUse, reason: "\(device) is already open on this partition"))
        }
        guest.endpoint = endpoint
        port.setCarrier(true)
        let channel = EthernetGuestChannel(port: port, maxFrame: segment.maxFrame)
        guest.channel = channel
        return .success(channel)
    }

    package var limitsJSON: JSON {
        let limits = host.limits
        return [
            "segments": .int(Int64(segments.count)), "maxWatches": .int(Int64(waits?.limit ?? 0)),
            "macTableLimit": .int(Int64(Switch.defaultMACTableLimit)),
            "streamMaxFrameBytes": .int(Int64(StreamFraming.qemuMaxFrame)),
            "macLimitPerPort": .int(Int64(limits.ethernetMACLimitPerPort)),
            "readFramesPerPass": .int(Int64(limits.ethernetReadFramesPerPass)),
            "readBytesPerPass": .int(Int64(limits.ethernetReadBytesPerPass)),
        ]
    }

    package func partitionDetached(_ partition: String) {
        for segment in segments {
            for port in segment.ports {
                guard let guest = port.attachment as? GuestPortAttachment, guest.partition == partition else {
                    continue
                }
                guest.endpoint = nil
                port.setCarrier(false)
            }
        }
    }

    /// Where a stream port listens now (the bound port when the configuration said port 0), for
    /// launching QEMU guests on it.
    package func streamEndpoint(segment: String, port: String) -> Endpoint? {
        let runtime = self.segment(named: segment)?.port(named: port)
        return (runtime?.attachment as? StreamAttachment)?.boundEndpoint
    }

    func segment(named name: String) -> EthernetSegment? { segments.first { $0.name == name } }

    /// Writes every segment's ready ports at the end of this pass (of the next one, when asked while the
    /// segments are being written at the end of this one).
    func scheduleFlush(_ segment: EthernetSegment) {
        if !segment.isDirty {
            segment.isDirty = true
            dirty.append(segment)
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        // Once the hub shuts down the pass is closed (`stop`), and a closed pass does not arm.
        if !endingPass { passEnd?.arm() }
    }

    /// The end of a pass: readers take their next slice (which may switch frames they held), then every dirty
    /// segment is written out. A flush asked for while writing (a sender resumed by a drained port) is armed
    /// for the next pass, so one pass never loops on its own output.
    private func endPass() {
        endingPass = true
        endReadPass()
        flushScheduled = false
        flushDirty()
        endingPass = false
        if flushScheduled { passEnd?.arm() }
    }

    /// Writes out every segment marked dirty.
    private func flushDirty() {
        // Taken (not copied) so the array's storage is reused without a copy-on-write.
        var segments: [EthernetSegment] = []
        swap(&segments, &dirty)
        for segment in segments {
            segment.isDirty = false
            segment.flush()
        }
        segments.removeAllKeepingCapacity()
        if dirty.isEmpty { swap(&segments, &dirty) }
    }
}

/// A segment at run time: its switch, its ports' transports, capture and timers.
final class EthernetSegment {
    let config: SegmentConfig
    let index: Int
    let sw: Switch
    private(set) var ports: [EthernetPortRuntime] = []
    /// By switch port id (ids are handed out densely, in the order ports are added): no hashing per pass.
    private var byID: [EthernetPortRuntime?] = []
    // unowned(unsafe): the device owns its segments and outlives them; a checked reference costs a
    // retain and release on every frame.
    unowned(unsafe) let device: EthernetDevice
    var capture: EthernetCapture? { didSet { updateObserved() } }
    /// A live capture: frames published as `eth.frame` events to control subscribers (bounded by their outboxes).
    var liveCapture: EthernetLiveCapture? { didSet { updateObserved() } }
    var isDirty = false
    /// The ports `flush` writes, reused across passes.
    private var readyPorts: [PortID] = []
    private var impairmentTimer: Timer?
    private var armedDeadline: UInt64?
    /// Lossless senders paused until the ports they were sending to are written out (`Protocols/ethernet.md` §4.5).
    private var waiting: [StreamAttachment] = []
    private var stallTimer: Timer?
    /// How long paused senders wait for a port before it is judged stalled and tail-drops instead.
    static let stallMilliseconds: UInt64 = 250

    var name: String { config.name }
    /// The largest frame a transport may hand in: the switch's own limit, or QEMU's receive buffer for
    /// stream peers so a too-long frame is counted as `oversize` rather than ending the connection.
    var maxFrame: Int { sw.maxFrameLength }

    init(config: SegmentConfig, index: Int, device: EthernetDevice) {
        self.config = config
        self.index = index
        self.device = device
        sw = Switch(
            name: config.name, mtu: config.mtu, macAgeingNs: UInt64(config.macAgeingSeconds) * 1_000_000_000,
            macLimitPerPort: device.host.limits.ethernetMACLimitPerPort,
            impairmentHeldBytes: device.host.limits.ethernetImpairmentHeldBytes,
            seed: MonotonicClock.nanoseconds())
    }

    func start(loop: Loop) throws(HubStartError) {
        do {
            impairmentTimer = try Timer(loop: loop)
            stallTimer = try Timer(loop: loop)
        } catch {
            throw .loop(error)
        }
        for (portIndex, portConfig) in config.ports.enumerated() {
            let entry = "devices.ethernet[\(index)].ports[\(portIndex)]"
            let id = sw.addPort(EthernetSegment.settings(portConfig))
            let port = EthernetPortRuntime(config: portConfig, id: id, segment: self, entry: entry)
            ports.append(port)
            if byID.count <= id.rawValue { byID += Array(repeating: nil, count: id.rawValue + 1 - byID.count) }
            byID[id.rawValue] = port
            if let preset = portConfig.impairment.flatMap(ImpairmentPreset.init(rawValue:)) {
                sw.setImpairments(id, ingress: preset.up, egress: preset.down, now: MonotonicClock.nanoseconds())
            }
            try port.attach(loop: loop)
        }
    }

    static func settings(_ config: EthernetPortConfig) -> PortSettings {
        let vlan: PortSettings.VLANMode
        switch config.vlan {
        case .access(let vid): vlan = .access(vid: vid)
        case .trunk(let allowed, let native):
            vlan = .trunk(allowed: allowed.isEmpty ? nil : Set(allowed), native: native)
        case nil: vlan = .access(vid: 1)
        }
        return PortSettings(
            name: config.name, vlan: vlan, isolated: config.isolated, queueFrames: config.queueFrames,
            queueBytes: config.queueBytes)
    }

    func stop() {
        for port in ports { port.attachment?.close() }
        capture?.close()
        capture = nil
        liveCapture = nil
        impairmentTimer?.close()
        stallTimer?.close()
        waiting.removeAll()
    }

    func port(named name: String) -> EthernetPortRuntime? { ports.first { $0.config.name == name } }

    /// A frame from one of this segment's ports.
    func received(_ frame: ArraySlice<UInt8>, from port: EthernetPortRuntime) {
        received(frame, from: port, now: MonotonicClock.nanoseconds())
        device.scheduleFlush(self)
    }

    /// Whether capture (file or live) or an `eth.wait` sees each frame, so frames go through `received` (copied
    /// for them) rather than straight to the switch. Stored, and kept current by `updateObserved`: a stream
    /// port reads it once per read, where looking at the observers cost a retain and a release each.
    private(set) var isObserved = false

    /// Capture, live capture or the device's waits changed.
    func updateObserved() { isObserved = capture != nil || liveCapture != nil || device.hasWaits }

    /// `received(_:from:now:)` for a frame lent by a read: the observers read it in place, nothing is copied. Kept
    /// out of line, so a read's hot loop does not hold the observers (a retain each per read) when there are none.
    @inline(never)
    func receivedObserved(_ frame: UnsafeRawBufferPointer, from port: EthernetPortRuntime, now: UInt64) {
        observeReceived(frame, from: port)
        sw.receive(frame, from: port.id, now: now)
    }

    /// One of several frames that arrived together (one read): the caller reads the clock once for all of them
    /// and calls `device.scheduleFlush` once after the last.
    @inline(__always)
    func received(_ frame: ArraySlice<UInt8>, from port: EthernetPortRuntime, now: UInt64) {
        frame.withUnsafeBytes { observeReceived($0, from: port) }
        sw.receive(frame, from: port.id, now: now)
    }

    /// Capture, live capture and the waits see a received frame, during this call only.
    private func observeReceived(_ frame: UnsafeRawBufferPointer, from port: EthernetPortRuntime) {
        if let capture, capture.port == nil || capture.port == port.config.name {
            capture.record(frame, unixNanoseconds: device.host.wallClockNanos)
        }
        if let liveCapture, liveCapture.port == nil || liveCapture.port == port.config.name {
            liveCapture.publish(frame, segment: config.name, port: port.config.name, direction: "received")
        }
        if device.hasWaits { device.offer(frame, segment: self, port: port, direction: .received) }
    }

    /// Hands each ready port its queued frames, one transport write per port.
    func flush() {
        sw.takeReadyPorts(into: &readyPorts)
        for id in readyPorts where id.rawValue < byID.count {
            byID[id.rawValue]?.drain()
        }
        if let capture, capture.hasPending { capture.flush() }
        armImpairmentTimer()
        if !waiting.isEmpty { resumeRelieved() }
    }

    // MARK: Backpressure

    /// `source` stopped reading until `ports` are no longer pressured.
    func pause(_ source: StreamAttachment) {
        waiting.append(source)
        guard let stallTimer, !stallTimer.isActive else { return }
        stallTimer.start(afterMilliseconds: EthernetSegment.stallMilliseconds) { [unowned self] in
            // Ports still pressured after the wait stopped reading: they tail-drop from now on (counted
            // `queueFull`) until their transport drains again, so they cannot hold the senders back.
            for source in self.waiting {
                for id in source.waitingOn where self.sw.isPressured(id) { self.sw.setStalled(id, true) }
            }
            self.resumeRelieved()
        }
    }

    func cancelPause(_ source: StreamAttachment) {
        waiting.removeAll { $0 === source }
    }

    /// Resumes every paused sender whose destinations were written out.
    func resumeRelieved() {
        var index = 0
        var resumed: [StreamAttachment] = []
        while index < waiting.count {
            if waiting[index].waitingOn.contains(where: sw.isPressured) {
                index += 1
            } else {
                resumed.append(waiting.remove(at: index))
            }
        }
        if waiting.isEmpty { stallTimer?.stop() }
        for source in resumed { source.resume() }
    }

    private func armImpairmentTimer() {
        // Most segments hold no frame back and have no timer armed: nothing to look at (this runs every flush).
        if armedDeadline == nil && !sw.holdsFrames { return }
        guard let deadline = sw.nextDeadline else {
            armedDeadline = nil
            impairmentTimer?.stop()
            return
        }
        if let armedDeadline, armedDeadline <= deadline, impairmentTimer?.isActive == true { return }
        armedDeadline = deadline
        let now = MonotonicClock.nanoseconds()
        let delay = deadline > now ? (deadline - now + 999_999) / 1_000_000 : 0
        impairmentTimer?.start(afterMilliseconds: delay) { [unowned self] in
            self.armedDeadline = nil
            self.sw.advance(now: MonotonicClock.nanoseconds())
            self.flush()
        }
    }

    func recordEgress(_ frames: EgressQueue, to port: EthernetPortRuntime) {
        if let capture, capture.port == port.config.name {
            let now = device.host.wallClockNanos
            for frame in frames { frame.withUnsafeBytes { capture.record($0, unixNanoseconds: now) } }
        }
        if let liveCapture, liveCapture.port == port.config.name {
            for frame in frames {
                frame.withUnsafeBytes {
                    liveCapture.publish($0, segment: config.name, port: port.config.name, direction: "sent")
                }
            }
        }
        if device.hasWaits {
            for frame in frames {
                frame.withUnsafeBytes { device.offer($0, segment: self, port: port, direction: .sent) }
            }
        }
    }
}

/// One port at run time: its configuration, its switch id, its transport, and whether a peer is there.
final class EthernetPortRuntime {
    let config: EthernetPortConfig
    let id: PortID
    /// unowned(unsafe): the segment owns its ports (checked references cost a retain per frame).
    unowned(unsafe) let segment: EthernetSegment
    /// The configuration entry, for errors.
    let entry: String
    var attachment: PortAttachment?
    /// Set by `eth.setLink`.
    private(set) var adminUp = true
    /// Whether a peer is attached (always true for sockets that need no peer).
    private(set) var carrier = false
    private var waitingForRoom = false

    init(config: EthernetPortConfig, id: PortID, segment: EthernetSegment, entry: String) {
        self.config = config
        self.id = id
        self.segment = segment
        self.entry = entry
    }

    func attach(loop: Loop) throws(HubStartError) {
        let maxFrame = segment.maxFrame
        if let partition = config.partition {
            attachment = GuestPortAttachment(partition: partition)
            setCarrier(false)
            return
        }
        if case .tap(let interface) = config.attachment {
            let fd: Int32
            do {
                fd = try TapInterface.open(
                    interface: interface, entry: "\(entry).tap", mac: config.mac, persistent: config.persistent)
            } catch {
                throw .device(error.description)
            }
            let (entry, mac, persistent) = ("\(entry).tap", config.mac, config.persistent)
            do {
                attachment = try TapAttachment(
                    interface: interface, fd: fd, port: self, loop: loop, maxFrame: maxFrame
                ) { () throws(TapInterface.OpenError) -> Int32 in
                    try TapInterface.open(interface: interface, entry: entry, mac: mac, persistent: persistent)
                }
            } catch {
                throw .device("\(entry).tap: cannot watch '\(interface)': \(error)")
            }
            setCarrier(true)
            return
        }
        var vxlanRemotes: [VXLANRemote] = []
        if case .vxlan(let local, _, let remotes) = config.attachment {
            vxlanRemotes = try VXLANAttachment.resolve(
                remotes, local: local, entry: "\(entry).vxlan", resolver: segment.device.resolver)
        }
        do throws(LoopError) {
            switch config.attachment {
            case .stream(let endpoint):
                attachment = try StreamAttachment(
                    framing: .qemu, endpoint: endpoint, port: self, loop: loop,
                    maxFrame: max(maxFrame, StreamFraming.qemuMaxFrame))
                segment.sw.setEgressPrefix(id, width: StreamFraming.qemu.prefixWidth.rawValue)
                setCarrier(false)
            case .vde(let endpoint):
                attachment = try StreamAttachment(
                    framing: .vde, endpoint: endpoint, port: self, loop: loop, maxFrame: 0xFFFF)
                segment.sw.setEgressPrefix(id, width: StreamFraming.vde.prefixWidth.rawValue)
                setCarrier(false)
            case .dgram(let local, let remote):
                attachment = try DatagramAttachment(local: local, remote: remote, port: self, loop: loop)
                segment.sw.setEgressFrameLimit(id, EthernetPortRuntime.maxUDPPayload(local.host))
                setCarrier(true)
            case .vxlan(let local, let vni, _):
                attachment = try VXLANAttachment(local: local, vni: vni, remotes: vxlanRemotes, port: self, loop: loop)
                segment.sw.setEgressFrameLimit(id, EthernetPortRuntime.maxUDPPayload(local.host) - VXLANHeader.length)
                setCarrier(true)
            case .tap, nil:
                attachment = TestPortAttachment()
                setCarrier(true)
            }
        } catch {
            let endpoint: Endpoint
            switch config.attachment {
            case .stream(let listen), .vde(let listen): endpoint = listen
            case .dgram(let local, _), .vxlan(let local, _, _): endpoint = .tcp(host: local.host, port: local.port)
            default: endpoint = .unix(path: "?")
            }
            throw .listen(entry: "\(entry).\(config.kind)", endpoint: endpoint, error)
        }
    }

    /// The largest UDP payload one datagram carries (65535 less the UDP header, and the IPv4 header, which IPv6's
    /// length does not count): a longer frame of a jumbo segment cannot go to a `dgram` or `vxlan` port.
    static func maxUDPPayload(_ localHost: String) -> Int { localHost.contains(":") ? 65_527 : 65_507 }

    var linkUp: Bool { adminUp && carrier }

    func setCarrier(_ present: Bool) {
        carrier = present
        // A stall was judged against the previous peer: a new one exerts pressure again (ethernet.md §4.6).
        if present && segment.sw.isStalled(id) { segment.sw.setStalled(id, false) }
        segment.sw.setLink(id, up: linkUp)
    }

    func setAdminUp(_ up: Bool) {
        adminUp = up
        segment.sw.setLink(id, up: linkUp)
    }

    func received(_ frame: ArraySlice<UInt8>) { segment.received(frame, from: self) }

    func countDrop(_ reason: DropReason, bytes: Int) {
        segment.sw.countDrop(reason, on: id, bytes: bytes)
    }

    /// A frame of this pass's egress (counted sent when it was taken) that the transport refused: a drop for
    /// `reason` instead.
    func countRefusedEgress(_ reason: DropReason, bytes: Int) {
        segment.sw.countRefusedEgress(reason, on: id, bytes: bytes)
    }

    /// A frame of this pass's egress the UDP socket's full send queue refused (`sendQueueFull`).
    func countSendQueueFull(bytes: Int, sentElsewhere: Bool = false) {
        segment.sw.countRefusedEgress(.sendQueueFull, on: id, bytes: bytes, sentElsewhere: sentElsewhere)
    }

    /// Takes the switch's queue for this port and writes it, unless the transport is backed up.
    func drain() {
        guard let attachment else { return }
        guard attachment.isWritable else {
            waitingForRoom = true
            return
        }
        waitingForRoom = false
        segment.sw.takeEgress(id) { frames in
            segment.recordEgress(frames, to: self)
            _ = attachment.send(frames)
        }
    }

    /// The transport drained below its low watermark: a stalled port reads again and may exert pressure.
    func becameWritable() {
        if segment.sw.isStalled(id) { segment.sw.setStalled(id, false) }
        guard waitingForRoom else { return }
        drain()
        segment.resumeRelieved()
    }
}

extension Array {
    /// Empties the array and keeps its storage, element by element from the end. For the device's per-pass lists
    /// (one or two elements): `removeAll(keepingCapacity:)` goes through the generic `replaceSubrange`, about 150
    /// instructions a call before it releases anything.
    @inline(__always)
    mutating func removeAllKeepingCapacity() {
        while !isEmpty { removeLast() }
    }
}
