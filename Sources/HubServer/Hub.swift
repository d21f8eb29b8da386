import ControlWire
import DeviceKit
import EthernetServer
import EventControl
import EventLoop
import GuestWire
import HubSystem
import Hypervisor
import JSON
import Logging
import Management
import PartitionSupervision
import PlatformConfig
import PlatformConfigLoader
import PlatformControl
import PowerServer
import RealTimeScheduling

/// The composition root of `hubd`: configuration → listeners → sessions → devices.
///
/// Everything here runs on the hub's single loop thread. `run()` returns when the hub has shut
/// down and every handle is closed; its result is `uv_loop_close`'s (0 means nothing leaked).
package final class Hub {
    package struct Options: Sendable {
        /// When set, the bound endpoints are written there as JSON once every listener is up.
        package var readyFile: String?
        /// How long a shutdown waits for queued replies to drain before closing connections hard.
        package var shutdownGraceMilliseconds: UInt64

        package init(readyFile: String? = nil, shutdownGraceMilliseconds: UInt64 = 300) {
            self.readyFile = readyFile
            self.shutdownGraceMilliseconds = shutdownGraceMilliseconds
        }
    }

    package static let version = "0.1.0"

    /// The configuration, plus the partitions provisioned at run time (`ProvisioningExecutor`), which join and
    /// leave it while the hub runs so sessions and devices find their policy where they find everyone's.
    package internal(set) var configuration: PlatformConfiguration
    /// `provision`/`deprovision` (`Protocols/management.md` §9), when `hub.stateDirectory` is set.
    let provisioning: ProvisioningExecutor?
    let options: Options
    package let loop: Loop
    package var logger: Logger
    let router = ControlRouter()
    let startedMonotonicNanos = MonotonicClock.nanoseconds()
    let startedWallNanos = Hub.wallClockNanos()

    private var controlListeners: [Listener] = []
    private var signalWatchers: [SignalWatcher] = []
    var controlSessions: [UInt64: ControlSession] = [:]
    /// Sessions closed after a final answer, held until their connection has closed (the write stall
    /// deadline bounds how long).
    var closingControlSessions: [UInt64: ControlSession] = [:]
    /// What the control sessions refused or cut off, for `hub.controlClients`.
    var controlCounters = ControlCounters()
    /// Request and answer bytes every control client together may handle per pass (`controlAnswerBytesPerPass`).
    lazy var controlBudget = PassBudget(loop: loop, perPass: configuration.hub.limits.controlAnswerBytesPerPass) {
        [unowned self] in self.watchdog?.passes
    }
    private var nextSessionID: UInt64 = 1
    /// `hub.config`'s answer, built at its first call (`ConfigJSON.redactedTree`).
    lazy var configurationTree = ConfigJSON.redactedTree(configuration)
    package private(set) var boundControlEndpoints: [Endpoint] = []
    package private(set) var boundGuestEndpoints: [Endpoint] = []
    package private(set) var isShuttingDown = false
    /// Lets other threads (tests, embedders) reach the loop.
    package let door: LoopDoor
    let events: EventHub
    /// The platform model: partitions, policy, interrupt controllers, links, regions.
    let platform: Platform
    /// Regions backed by a memfd, by name; regions the kernel refused a memfd for stay in the heap.
    let regionBackings: [String: MemfdRegionBacking]
    let scheduler: LoopScheduler
    private var guestListeners: [Listener] = []
    /// Attached guest sessions by model session id.
    var guestSessions: [SessionID: GuestSession] = [:]
    /// Every guest connection, attached or still in its handshake.
    var guestConnections: [UInt64: GuestSession] = [:]
    var guestCounters = GuestCounters()
    /// Deliveries go out at the end of a pass, after its input (see `scheduleDeliveries`).
    let deliveryPass: EndOfPass
    /// The loop thread's scheduling, set when `run` starts (`hub.realTimePriority`).
    var scheduling = HubScheduling()
    /// `hub.info`'s answer with its members fixed once the hub runs serialised, built by the first call.
    var fixedInfo: (platform: String, template: JSONTemplate)?
    let flushTimer: Timer
    var deliveryScheduled = false
    /// Fair-share sessions that took their slice of input this pass and read again at the next one.
    private var sessionsToResume = PassList<GuestSession>()
    private let readResumeTimer: Timer
    private var readResumeScheduled = false
    /// Deliveries per pass: enough to batch well, small enough that one pass stays short.
    let deliveryBudget = 4096
    /// Device families (Ethernet, modem, framebuffer…), from `Hub+Devices.swift`.
    private(set) var devices: [any HubDevice] = []
    /// Set once listeners are open and every device started (`DeviceHost.isReady`, `/readyz`).
    private(set) var devicesStarted = false
    /// Sessions that queued frames since the last flush, each once (see `GuestSession.flushPending`).
    var sessionsToFlush = PassList<GuestSession>()
    /// Supervisors of the partitions whose guests the hub launches (`launch` in the configuration).
    var supervisors: [String: PartitionSupervisor] = [:]
    /// Software slots of launched partitions, when `hub.stateDirectory` is set (`Hub+Software.swift`).
    var software: HubSoftware?
    /// The platform model's control methods (`PlatformControl`, registered in `Hub+PlatformControl.swift`).
    lazy var platformMethods = PlatformMethods(host: HubPlatformControlHost(hub: self))
    /// The `events.*` methods (`EventControl`, registered in `Hub+Events.swift`).
    lazy var eventMethods = EventMethods(host: HubEventControlHost(hub: self))
    /// The power device (`Protocols/power.md`), kept apart for the event and interrupt hooks.
    var power: PowerDevice?
    /// Policy profiles (`PlatformControl`'s `PolicyControl`, `Hub+Policy.swift`).
    lazy var policyControl = PolicyControl(host: HubPolicyHost(hub: self))
    var flushScheduled = false
    /// Set while the caller flushes the scheduled sessions as soon as what it runs returns (`withFlushFollowing`).
    var flushFollows = false
    /// Admission of every listener (`Admission.swift`), the loop watchdog and the open-file limit at start.
    let admission: AdmissionRegistry
    let controlGate: AdmissionGate
    let guestGate: AdmissionGate
    var watchdog: LoopWatchdog?
    let openFileLimit: ProcessResources.OpenFileLimit
    var stallLog = LogThrottle()
    /// While the real-time budget holds the loop at normal scheduling: ends a window even when no pass runs, so an
    /// idle hub gets `SCHED_FIFO` back within about two windows rather than at its next input.
    var realTimeBudgetTimer: Timer?
    var demotionLog = LogThrottle()

    package init(configuration: PlatformConfiguration, options: Options = Options(), logger: Logger)
        throws(HubStartError)
    {
        provisioning = try Hub.loadProvisioning(configuration)
        let configuration = provisioning?.merged(into: configuration) ?? configuration  // and the provisioned
        self.configuration = configuration
        self.options = options
        self.logger = logger
        // A peer that hangs up while a write is queued must cost the hub that connection, not its life:
        // with SIGPIPE ignored the write fails with EPIPE and the session closes. A file written past the
        // file-size limit likewise fails with EFBIG (a capture reports it as its writeError).
        CurrentProcess.ignoreBrokenPipe()
        CurrentProcess.ignoreFileSizeLimit()
        do {
            loop = try Loop()
            door = try LoopDoor(loop: loop)
            deliveryPass = try EndOfPass(loop: loop)
            flushTimer = try Timer(loop: loop)
            readResumeTimer = try Timer(loop: loop)
        } catch {
            throw .loop(error)
        }
        openFileLimit = ProcessResources.raiseOpenFileLimit()
        admission = AdmissionRegistry(
            loop: loop, limits: configuration.hub.limits, logger: logger,
            returnFreeMemory: { _ = Memory.returnFreeMemory() })
        (controlGate, guestGate) = Hub.makeGates(admission, configuration)
        scheduler = LoopScheduler(loop: loop)
        do {
            (platform, regionBackings) = try Hub.makePlatform(configuration, scheduler: scheduler)
        } catch {
            loop.shutdown()
            throw .model("\(error)")
        }
        events = EventHub(
            replayCapacity: max(1, configuration.hub.limits.eventReplayEvents),
            replayBytes: configuration.hub.limits.eventReplayBytes,
            waiters: DeferredWaits(
                loop: loop, limit: configuration.hub.limits.controlMaxWaiters, limitName: "controlMaxWaiters",
                reason: "too_many_waits"))
        events.flushTimer = try? Timer(loop: loop)
        // Event 1 is always hub.started, so a late subscriber can replay from 0 and see the hub's whole life.
        publish(
            "hub.started", data: ["version": .string(Hub.version), "platform": .string(configuration.platform.name)])
        registerControlMethods()
        startWatchdog()
        logOpenFileLimit()
        scheduler.onFire = { [unowned self] token in
            var actions: [Action] = []
            self.platform.timerFired(token, actions: &actions)
            self.perform(&actions)
        }
        do {
            try openControlListeners()
            try openGuestListeners()
            devices = try makeDevices()
            for device in devices { try device.start(host: self) }
            try activateInitialPolicy()
            startSupervisors()
            try watchSignals()
            try writeReadyFile()
            devicesStarted = true
        } catch {
            loop.shutdown()
            throw error
        }
        logger.info(
            "hubd \(Hub.version) ready\n\(HubSummary(configuration: configuration, boundControl: boundControlEndpoints, boundGuest: boundGuestEndpoints).text)"
        )
    }

    /// The platform model, its shared regions in memfds so Unix-socket guests can map them
    /// (Protocols/guest.md §8.5), in memory where a memfd cannot be made.
    private static func makePlatform(_ configuration: PlatformConfiguration, scheduler: LoopScheduler) throws -> (
        Platform, [String: MemfdRegionBacking]
    ) {
        var memfds: [String: MemfdRegionBacking] = [:]
        let platform = try Platform(
            configuration: configuration, scheduler: scheduler, random: SystemRandomSource(),
            makeBacking: { region in
                guard let backing = MemfdRegionBacking(name: region.name, sizeBytes: region.sizeBytes) else {
                    return InMemoryRegionBacking(sizeBytes: region.sizeBytes)
                }
                memfds[region.name] = backing
                return backing
            })
        return (platform, memfds)
    }

    /// Every control method family the hub itself serves (the devices register theirs when they start).
    private func registerControlMethods() {
        registerHubMethods()
        registerControlClientMethods()
        registerEventMethods()
        registerInjectionMethods()
        registerSupervisorMethods()
        registerAdmissionMethods()
        registerSoftwareMethods()
        router.register(policyControl.methods)
    }

    /// A thread-safe way to ask this hub to shut down (tests, embedders). False if it already stopped.
    package var remoteShutdown: @Sendable (String) -> Bool {
        let bound = LoopBound(self)
        let door = self.door
        return { reason in bound.post(through: door) { hub in hub.shutdown(reason: reason) } }
    }

    /// Serves until shut down. Returns 0 when every handle closed cleanly.
    package func run() -> Int32 {
        scheduling = HubScheduling.apply(priority: configuration.hub.realTimePriority)
        if let refusal = scheduling.refusal {
            logger.warning("hub.realTimePriority \(configuration.hub.realTimePriority) not applied: \(refusal)")
        }
        startRealTimeBudget()
        loop.run()
        let status = loop.shutdown()
        if status != 0 { logger.error("event loop closed with live handles (\(status))") }
        return status
    }

    // MARK: Listeners

    private func openControlListeners() throws(HubStartError) {
        let limits = configuration.hub.limits
        for (index, endpoint) in configuration.hub.controlEndpoints.enumerated() {
            // A token is required on TCP whenever one is configured (and validation demands one
            // off loopback); the Unix socket is protected by its file permissions.
            let requiresToken: Bool
            if case .tcp = endpoint {
                requiresToken = configuration.hub.controlToken != nil
            } else {
                requiresToken = false
            }
            do {
                let listener = try Listener(loop: loop, address: endpoint.socketAddress) { [unowned self] connection in
                    self.acceptControl(connection, requiresToken: requiresToken, limits: limits)
                }
                controlGate.watch(listener)
                controlListeners.append(listener)
                boundControlEndpoints.append(listener.boundAddress.endpoint)
            } catch {
                throw .listen(entry: "hub.controlEndpoints[\(index)]", endpoint: endpoint, error)
            }
        }
    }

    private func openGuestListeners() throws(HubStartError) {
        for (index, endpoint) in configuration.hub.guestEndpoints.enumerated() {
            do {
                let listener = try Listener(loop: loop, address: endpoint.socketAddress) { [unowned self] connection in
                    self.acceptGuest(connection)
                }
                guestGate.watch(listener)
                guestListeners.append(listener)
                boundGuestEndpoints.append(listener.boundAddress.endpoint)
            } catch {
                throw .listen(entry: "hub.guestEndpoints[\(index)]", endpoint: endpoint, error)
            }
        }
    }

    private func acceptGuest(_ connection: Connection) {
        guard !isShuttingDown else {
            connection.close()
            return
        }
        // Connections in their handshake have a budget apart from attached sessions (guestMaxPending).
        let slot: AdmissionSlot
        switch guestGate.admit(connection.kind) {
        case .success(let admitted): slot = admitted
        case .failure(let refusal):
            guestCounters.refusedOverLimit += 1
            let frame = GuestFrame(.error(code: .rateLimited, reason: guestGate.refusalText(refusal)))
            connection.write(frame.encode())
            connection.closeAfterWrites()
            return
        }
        let id = nextSessionID
        nextSessionID += 1
        let session = GuestSession(connectionID: id, connection: connection, hub: self, logger: logger)
        session.admission = slot
        guestConnections[id] = session
        session.start()
    }

    /// Where an Ethernet stream port listens (for QEMU guests the hub launches).
    package func ethernetStreamEndpoint(segment: String, port: String) -> Endpoint? {
        devices.lazy.compactMap { $0 as? EthernetDevice }.first?.streamEndpoint(segment: segment, port: port)
    }

    /// A partition's session ended for `reason` (the supervisor restarts a hung guest).
    func guestSessionEnded(partition: String, reason: DetachReason) {
        supervisors[partition]?.guestDetached(reason: reason)
    }

    package func isAttached(_ partition: String) -> Bool { platform.state(ofPartition: partition)?.session != nil }

    /// Where launched guests attach: the first Unix guest endpoint (cheaper per message), else TCP.
    package var guestEndpointForChildren: Endpoint? {
        boundGuestEndpoints.first { if case .unix = $0 { return true } else { return false } }
            ?? boundGuestEndpoints.first
    }

    private func startSupervisors() {
        for partition in configuration.partitions {
            guard let launch = partition.launch else { continue }
            let supervisor = PartitionSupervisor(partition: partition, launch: launch, hub: self, logger: logger)
            supervisors[partition.name] = supervisor
            if launch.autoStart { supervisor.start(reason: "hub started") }
        }
    }

    /// The device family that offers a guest channel to `name`.
    func device(offering name: String) -> (any HubDevice)? {
        devices.first { $0.channelDeviceNames.contains(name) }
    }

    /// A partition lost its session: every device releases what it held for it.
    func partitionDetached(_ partition: String) {
        for device in devices { device.partitionDetached(partition) }
    }

    /// Channel data from devices is batched per guest and written once per loop pass.
    func scheduleFlush(of session: GuestSession) {
        if !session.flushPending {
            session.flushPending = true
            sessionsToFlush.append(session)
        }
        guard !flushScheduled, !flushFollows, !isShuttingDown else { return }
        flushScheduled = true
        flushTimer.start(afterMilliseconds: 0) { [unowned self] in
            self.flushScheduled = false
            self.flushScheduledSessions()
        }
    }

    /// A fair-share session took its slice of input (`fairShareReadBytesPerPass`); it reads again at the next
    /// pass, which polls every other connection first, so a real-time guest's frame never waits behind more
    /// than one slice of a flood.
    func resumeReadingNextPass(_ session: GuestSession) {
        sessionsToResume.append(session)
        guard !readResumeScheduled, !isShuttingDown else { return }
        readResumeScheduled = true
        readResumeTimer.start(afterMilliseconds: 0) { [unowned self] in
            self.readResumeScheduled = false
            var sessions = self.sessionsToResume.take()
            for session in sessions { session.resumeReadingAfterSlice() }
            self.sessionsToResume.recycle(&sessions)
        }
    }

    /// Writes out every session that queued frames since the last flush.
    func flushScheduledSessions() {
        guard !sessionsToFlush.isEmpty else { return }
        var sessions = sessionsToFlush.take()
        for session in sessions {
            session.flushPending = false
            session.flush()
        }
        sessionsToFlush.recycle(&sessions)
    }

    func guestDidAttach(_ guest: GuestSession, session: SessionID) {
        guestSessions[session] = guest
        if let partition = guest.partition { supervisors[partition]?.guestAttached() }
    }

    func guestDidClose(_ guest: GuestSession, session: SessionID?) {
        guestConnections[guest.connectionID] = nil
        if let session, guestSessions[session] === guest { guestSessions[session] = nil }
    }

    package func acceptControl(_ connection: Connection, requiresToken: Bool, limits: Limits) {
        guard !isShuttingDown else {
            connection.close()
            return
        }
        // Pending (not yet authenticated) and authenticated clients have separate budgets, with a share of each
        // kept for the Unix socket (`Protocols/control.md` §2.6).
        let slot: AdmissionSlot
        switch controlGate.admit(connection.kind, handshakeDeadline: requiresToken) {
        case .success(let admitted): slot = admitted
        case .failure(let refusal):
            connection.write(ControlResponse(id: .null, error: controlGate.controlError(refusal)).encodedLine())
            connection.closeAfterWrites()
            return
        }
        let id = nextSessionID
        nextSessionID += 1
        let session = ControlSession(
            id: id, connection: connection, hub: self, requiresToken: requiresToken,
            maxLineBytes: limits.controlMaxLineBytes,
            maxUnauthenticatedLineBytes: limits.controlMaxUnauthenticatedLineBytes, logger: logger)
        session.admission = slot
        slot.onDeadline = { [unowned session] refusal in session.admissionDeadline(refusal) }
        controlSessions[id] = session
        session.start(hello: hello(requiresToken: requiresToken))
        publish("client.connected", data: ["client": .uint(id), "endpoint": .string(session.remote)])
    }

    func hello(requiresToken: Bool) -> HubHello {
        HubHello(
            version: Hub.version, capabilities: capabilities, auth: requiresToken ? .token : .none)
    }

    var capabilities: [String] {
        Array(Set(router.methodNames.map { String($0.split(separator: ".").first ?? "") })).sorted()
    }

    func controlSessionDidClose(_ session: ControlSession) {
        controlSessions[session.id] = nil
        events.dirty[session.id] = nil
        publish("client.disconnected", data: ["client": .uint(session.id), "endpoint": .string(session.remote)])
    }

    // MARK: Dispatch

    func dispatch(_ call: ControlCall, from session: ControlSession) -> ControlReply {
        guard !isShuttingDown else { return .error(.unavailable("the hub is shutting down")) }
        let method = router.methods[call.method]
        // Before authentication every method but the handshake gets the same answer, known or not, so the
        // method table cannot be probed without the token (`Protocols/control.md` §4.3).
        guard session.authenticated || method?.allowedUnauthenticated == true else {
            controlCounters.unauthenticatedRequests += 1
            return .error(.unauthorized("call hub.authenticate with the configured token first"))
        }
        guard let method else { return .error(.methodNotFound(call.method)) }
        do {
            return try method.handler(call)
        } catch {
            return .error(error)
        }
    }

    // MARK: Shutdown

    private func watchSignals() throws(HubStartError) {
        for number in [SignalNumber.interrupt, SignalNumber.terminate] {
            do {
                let watcher = try SignalWatcher(loop: loop, signal: number) { [unowned self] received in
                    self.shutdown(reason: received == SignalNumber.interrupt ? "SIGINT" : "SIGTERM")
                }
                signalWatchers.append(watcher)
            } catch {
                throw .loop(error)
            }
        }
    }

    /// Stops accepting, tells every client, waits briefly for queued replies, then closes every handle.
    package func shutdown(reason: String) {
        guard !isShuttingDown else { return }
        isShuttingDown = true
        logger.info("shutting down: \(reason)")
        for listener in controlListeners { listener.close() }
        for listener in guestListeners { listener.close() }
        for device in devices { device.stop() }
        // A slot operation's file work still running ends before the loop does; it is not switched to.
        software?.slots.stop()
        deliveryPass.close()
        flushTimer.close()
        readResumeTimer.close()
        sessionsToResume.removeAll()
        scheduler.closeAll()
        for guest in Array(guestConnections.values) {
            guest.closeConnection(reason: "hub shutting down", detach: .shutdown)
        }
        for supervisor in supervisors.values { supervisor.terminateForShutdown() }
        for watcher in signalWatchers { watcher.close() }
        watchdog?.close()
        controlBudget.close()
        realTimeBudgetTimer?.close()
        admission.close()
        events.waiters.close()
        events.flushTimer?.close()
        publish("hub.stopping", data: ["reason": .string(reason)])
        // Subscribers get what is queued for them, hub.stopping last, before their connection closes.
        for session in Array(controlSessions.values) {
            flushEvents(to: session)
            session.close(reason: "hub shutting down", flush: true)
        }
        door.close()
        // Peers that do not read cannot hold the shutdown hostage: after the grace period every
        // remaining handle is closed.
        if let grace = try? Timer(loop: loop) {
            grace.start(afterMilliseconds: options.shutdownGraceMilliseconds) { [unowned self] in
                grace.close()
                for supervisor in self.supervisors.values { supervisor.killForShutdown() }
                self.loop.closeAllHandles()
            }
            // The grace timer must not keep an otherwise finished loop alive.
            grace.unreference()
        }
        if let readyFile = options.readyFile { Files.remove(readyFile) }
    }

    // MARK: Ready file

    private func writeReadyFile() throws(HubStartError) {
        guard let path = options.readyFile else { return }
        let document: JSON = [
            "pid": .int(Int64(CurrentProcess.id)),
            "version": .string(Hub.version),
            "control": .array(boundControlEndpoints.map { .string($0.description) }),
            "guest": .array(boundGuestEndpoints.map { .string($0.description) }),
        ]
        // Written to a temporary name and renamed, so a reader never sees half a file.
        let temporary = path + ".tmp"
        var bytes = document.serializedBytes()
        bytes.append(0x0a)
        do {
            let fd = try Files.openForWriting(temporary, .truncate(permissions: 0o644))
            defer { Descriptors.close(fd) }
            try Descriptors.writeAll(fd, bytes)
            try Files.rename(temporary, to: path)
        } catch {
            throw .readyFile(path: path, errno: error.code)
        }
    }

    static func wallClockNanos() -> UInt64 {
        WallClock.nanoseconds()
    }
}
