import ATWire
import DeviceKit
import EventLoop
import GuestWire
import Hypervisor
import JSON
import Logging
import Modem
import PlatformConfig

/// The modem family: one `ModemInstance` per `devices.modems[]` entry (Protocols/modem.md).
final class ModemDevice: HubServerDevice {
    var familyName: String { "modem" }
    private(set) var instances: [String: ModemInstance] = [:]
    private var order: [String] = []

    func start(hub: Hub) throws(HubStartError) {
        for config in hub.configuration.devices.modems {
            let instance = ModemInstance(config: config, hub: hub)
            instances[config.name] = instance
            order.append(config.name)
            try instance.start()
        }
        hub.registerModemMethods(self)
    }

    func stop() {
        for name in order { instances[name]?.stop() }
    }

    var allInstances: [ModemInstance] { order.compactMap { instances[$0] } }

    /// The owner of a modem died: its calls end, so the network side is told instead of
    /// holding a call no one will ever hang up. The modem itself stays up for the restarted owner.
    func partitionDetached(_ partition: String) {
        for instance in allInstances where instance.config.owner == partition {
            guard let simulator = instance.simulator, !simulator.currentCalls.isEmpty else { continue }
            instance.logger.info("\(partition) detached: ending its calls on \(instance.config.name)")
            simulator.ownerLost()
            instance.pump()
        }
    }

    var channelDeviceNames: [String] { order }

    func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: GuestChannelEndpoint) -> Result<
        GuestChannel, GuestChannelRefusal
    > {
        guard let instance = instances[device] else {
            return .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "no modem \(device)"))
        }
        return instance.openChannel(endpoint: endpoint)
    }

    var limitsJSON: JSON {
        var object: JSONObject = [:]
        for instance in allInstances {
            let config = instance.config
            object[config.name] = [
                "maxLineBytes": .int(Int64(config.maxLineBytes)),
                "smsCapacity": .int(Int64(config.smsCapacity)),
                "maxCalls": .int(Int64(config.maxCalls)),
                "ringIntervalMs": .int(Int64(config.ringIntervalMs)),
                "traceLines": .int(Int64(config.traceLines)),
                "traceLineBytes": .int(Int64(ModemTrace.maxLineBytes)),
                "sentLog": .int(Int64(ModemSimulator.sentLogCapacity)),
                "waits": .int(Int64(ModemInstance.maxWaits)),
                "shared": .bool(config.shared),
                "echo": .string(config.echo.rawValue),
                "backendCommandTimeoutMs": .int(Int64(config.backendCommandTimeoutMs)),
                "backendKeepaliveMs": .int(Int64(config.backendKeepaliveMs)),
                "backendBacklogBytes": .int(Int64(config.backendBacklogBytes)),
            ]
        }
        return .object(object)
    }
}

/// The guest-protocol channel to a modem: the owner's serial line over its session.
final class ModemChannel: GuestChannel {
    weak var instance: ModemInstance?
    let endpoint: GuestChannelEndpoint
    var openerID = 0

    init(instance: ModemInstance, endpoint: GuestChannelEndpoint) {
        self.instance = instance
        self.endpoint = endpoint
    }

    var maxData: UInt32 { 4096 }
    var openedOptions: [UInt8] { [] }
    func received(_ data: ArraySlice<UInt8>) { instance?.input(data, from: openerID) }
    func closed(reason: String) { instance?.removeOpener(openerID) }
}

/// One modem: its backend (the built-in simulator or a relay to a remote one), its openers (AT
/// listeners, the PTY, the guest channel), the AT trace and the pending `modem.wait` calls.
final class ModemInstance {
    let config: ModemConfig
    unowned let hub: Hub
    let simulator: ModemSimulator?
    var logger: Logger

    struct Opener {
        let kind: String
        let write: ([UInt8]) -> Void
        let close: () -> Void
        /// For raw AT sockets: tells the client the owner took the modem and hangs up (`Protocols/modem.md`).
        var displace: (() -> Void)? = nil
    }
    /// Admission of the raw AT listeners (`Admission.swift`); set in `start`.
    private(set) var gate: AdmissionGate!
    var openers: [Int: Opener] = [:]
    private var nextOpenerID = 1
    private var listeners: [Listener] = []
    private var pty: PseudoTerminal?
    private var simulatorTimer: Timer?
    var trace: ModemTrace
    var waits: [ModemWait] = []
    var stopped = false
    var urcCount: UInt64 = 0

    static let maxWaits = 256

    // Remote backend (ModemInstance+Remote.swift).
    var remoteConnection: Connection?
    /// The listener a remote simulator connects in to (`backend: {listen: …}`).
    var backendListener: Listener?
    var remoteDecoder = ModemSimFrameDecoder()
    var reconnectTimer: Timer?
    var backoffMs: UInt64 = 100
    /// The link is up: hellos exchanged.
    var backendUp = false
    /// While the remote backend is down, lines from the guest are answered here.
    var downAssembler = ATLineAssembler()
    /// Whether a command line went to the remote simulator and its final result has not come back.
    var remoteCommandInFlight = false
    /// What the host has set on the modem, as the remote simulator last reported it; handed to every
    /// new simulator in the hub's hello (Protocols/modem.md §6.2) and used for the hub's own answers.
    var hostSettings: ModemHostSettings?
    /// The liveness probe in flight on the link (Protocols/modem.md §6.3): its request id, when it
    /// must be answered, and whether a host command line waits behind it.
    var probe: (id: UInt64, deadlineMs: UInt64, command: Bool)?
    /// When the oldest command line sent after the probe went out was forwarded (it gets its own probe).
    var unprobedLineSince: UInt64?
    var probeTimer: Timer?
    var keepaliveTimer: Timer?
    /// When the last frame came from the simulator.
    var lastHeardMs: UInt64 = 0
    /// Connection attempts since the link was lost (or since start), and links that came back.
    var backendAttempts = 0
    var backendReconnects = 0
    var backendEverUp = false
    /// Links the hub gave up on because the simulator stopped answering, and host command lines the hub
    /// answered itself with an error because the simulator was away or hung.
    var backendTimeouts = 0
    var hostErrors = 0
    /// Links given up because the simulator left more than `backendBacklogBytes` of host input unread.
    var backendOverflows = 0
    /// Network-side control requests forwarded to the remote simulator, by request id.
    var remoteRequests: [UInt64: RemoteRequest] = [:]
    var nextRemoteRequest: UInt64 = 1
    /// What the remote simulator reported through events: its calls and the SMS the guest sent.
    var remoteCalls: [Int: JSONObject] = [:]
    var remoteSent: [JSONObject] = []
    var remoteSentCount = 0

    struct RemoteRequest {
        let call: ControlCall
        let timer: Timer?
        let finish: (JSONObject) -> JSONObject
    }
    static let finalPrefixes = [
        "OK", "ERROR", "+CME ERROR", "+CMS ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "CONNECT", "> ",
    ]

    init(config: ModemConfig, hub: Hub) {
        self.config = config
        self.hub = hub
        trace = ModemTrace(capacity: config.traceLines)
        logger = hub.logger
        logger[metadataKey: "modem"] = "\(config.name)"
        if case .builtin = config.backend {
            simulator = ModemSimulator(profile: ModemInstance.profile(for: config), now: ModemInstance.nowMs())
        } else {
            simulator = nil
        }
        // Until a simulator reports the host's settings, the hub answers as a modem after ATZ does (ATE1).
        downAssembler.echo = true
        downAssembler.maxLineBytes = config.maxLineBytes
    }

    static func profile(for config: ModemConfig) -> ModemProfile {
        var profile = ModemProfile()
        profile.pin = config.pin
        profile.ownNumber = config.number
        profile.maxLineBytes = config.maxLineBytes
        profile.smsCapacity = config.smsCapacity
        profile.maxCalls = config.maxCalls
        profile.ringIntervalMs = UInt64(config.ringIntervalMs)
        profile.separateEcho = config.echo == .opener
        profile.homeOperator = ModemOperator(
            longName: config.operatorName, shortName: config.operatorShortName, numeric: config.operatorNumeric)
        return profile
    }

    static func nowMs() -> UInt64 { MonotonicClock.nanoseconds() / 1_000_000 }

    var isRemote: Bool { simulator == nil }

    func start() throws(HubStartError) {
        // Raw AT clients have no handshake: each is admitted straight into the client budget (one unless the
        // modem is shared), with an idle deadline when configured.
        let limits = hub.configuration.hub.limits
        let budget = config.shared ? limits.modemMaxRawClients : 1
        gate = hub.admission.gate(
            "modem:\(config.name)",
            AdmissionPolicy(
                maxPending: budget, maxAuthenticated: budget, handshakeMs: 0, idleMs: limits.modemRawIdleMs,
                pendingLimit: "modemMaxRawClients", authenticatedLimit: "modemMaxRawClients"))
        for (index, endpoint) in config.listen.enumerated() {
            do {
                let listener = try Listener(loop: hub.loop, address: endpoint.socketAddress) {
                    [unowned self] connection in
                    self.accept(connection)
                }
                gate.watch(listener)
                listeners.append(listener)
            } catch {
                throw HubStartError.listen(
                    entry: "devices.modems[\(config.name)].listen[\(index)]", endpoint: endpoint, error)
            }
        }
        if let path = config.pty {
            do {
                let terminal = try PseudoTerminal(loop: hub.loop, symlink: path)
                pty = terminal
                let id = addOpener(
                    Opener(
                        kind: "pty", write: { [weak terminal] bytes in _ = terminal?.connection.write(bytes) },
                        close: {}), exclusive: false)
                terminal.connection.onData = { [unowned self] data in self.input(data, from: id) }
                terminal.connection.onEnd = { [unowned self] error in
                    self.logger.warning("PTY master ended: \(String(describing: error))")
                    self.removeOpener(id)
                }
                try? terminal.connection.startReading()
            } catch {
                throw HubStartError.model("devices.modems[\(config.name)].pty: \(error.description)")
            }
        }
        try startRemote()
    }

    func stop() {
        stopped = true
        for listener in listeners { listener.close() }
        listeners.removeAll()
        for opener in openers.values { opener.close() }
        openers.removeAll()
        pty?.close()
        pty = nil
        simulatorTimer?.close()
        simulatorTimer = nil
        stopRemote()
        for wait in waits { wait.timer?.close() }
        waits.removeAll()
    }

    // MARK: Openers

    /// Socket and guest-channel openers that count against the one-opener rule (the PTY is always there).
    var exclusiveOpeners: Int { openers.values.filter { $0.kind != "pty" }.count }

    @discardableResult
    func addOpener(_ opener: Opener, exclusive: Bool) -> Int {
        let id = nextOpenerID
        nextOpenerID += 1
        openers[id] = opener
        return id
    }

    func removeOpener(_ id: Int) {
        openers[id] = nil
    }

    private func accept(_ connection: Connection) {
        guard config.shared || exclusiveOpeners == 0 else {
            gate.refuse(.tooManyClients)
            connection.write(Array("\r\nERROR: \(config.name) is already open (sharing is off)\r\n".utf8))
            connection.closeAfterWrites()
            return
        }
        let slot: AdmissionSlot
        switch gate.admit(connection.kind) {
        case .success(let admitted) where admitted.authenticate(): slot = admitted
        case .success(let admitted):
            admitted.release()
            return refuseRaw(connection, .tooManyClients)
        case .failure(let refusal): return refuseRaw(connection, refusal)
        }
        var id = 0
        let hangUp: (String) -> Void = { [unowned self, weak connection] line in
            slot.release()
            self.removeOpener(id)
            guard let connection else { return }
            connection.onData = nil
            connection.onEnd = nil
            if !line.isEmpty { _ = connection.write(Array(line.utf8)) }
            connection.closeAfterWrites()
        }
        id = addOpener(
            Opener(
                kind: connection.kind == .tcp ? "tcp" : "unix",
                write: { [weak connection] in _ = connection?.write($0) },
                close: { [weak connection] in
                    slot.release()
                    connection?.close()
                },
                displace: { [unowned self] in
                    hangUp("\r\nERROR: \(self.config.name) taken over by its owner \(self.config.owner)\r\n")
                }), exclusive: true)
        slot.onDeadline = { [unowned self] refusal in
            hangUp("\r\nERROR: \(self.gate.refusalText(refusal))\r\n")
        }
        connection.onData = { [unowned self] data in
            slot.noteActivity()
            self.input(data, from: id)
        }
        connection.onEnd = { _ in hangUp("") }
        do {
            try connection.startReading()
        } catch {
            hangUp("")
        }
    }

    private func refuseRaw(_ connection: Connection, _ refusal: AdmissionRefusal) {
        connection.write(Array("\r\nERROR: \(gate.refusalText(refusal))\r\n".utf8))
        connection.closeAfterWrites()
    }

    /// The owning partition opens its modem: raw AT sockets give way to it (`Protocols/modem.md`), so an idle or
    /// forgotten socket client cannot keep the partition from its own modem.
    private func displaceRawClients() {
        for opener in Array(openers.values) {
            guard let displace = opener.displace else { continue }
            gate.refuse(.displaced)
            displace()
        }
    }

    func openChannel(endpoint: GuestChannelEndpoint) -> Result<GuestChannel, GuestChannelRefusal> {
        guard endpoint.partition == config.owner,
            hub.configuration.partition(named: endpoint.partition)?.grant(for: config.name) != nil
        else {
            return .failure(
                GuestChannelRefusal(code: .notPermitted, reason: "\(config.name) belongs to \(config.owner)"))
        }
        if !config.shared { displaceRawClients() }
        guard config.shared || exclusiveOpeners == 0 else {
            return .failure(GuestChannelRefusal(code: .channelInUse, reason: "\(config.name) is already open"))
        }
        let channel = ModemChannel(instance: self, endpoint: endpoint)
        channel.openerID = addOpener(
            Opener(
                kind: "channel", write: { [weak channel] in _ = channel?.endpoint.send($0) },
                close: { [weak channel] in channel?.endpoint.close(reason: "modem stopped") }), exclusive: true)
        return .success(channel)
    }

    // MARK: Data paths

    func input(_ bytes: ArraySlice<UInt8>, from opener: Int) {
        traced("to_modem", bytes)
        if let simulator {
            simulator.receive(bytes, now: ModemInstance.nowMs())
            let echo = simulator.takeEcho()
            if !echo.isEmpty {
                // `echo: opener`: only the typist sees its characters again.
                traced("from_modem", echo)
                openers[opener]?.write(echo)
            }
            pump()
        } else if backendUp, let remoteConnection {
            _ = remoteConnection.write(ModemSimFrame.encodeAT(Array(bytes)))
            if bytes.contains(0x0D) || bytes.contains(0x1A) || bytes.contains(0x1B) { commandForwarded() }
            // A simulator that does not read is as good as hung: the hub holds no more than the budget.
            if remoteConnection.unsentBytes > config.backendBacklogBytes {
                backendOverflows += 1
                // What the host typed is lost with the link: its line gets the hub's error now.
                remoteCommandInFlight = true
                linkClosed(
                    remoteConnection,
                    reason: "the simulator left more than \(config.backendBacklogBytes) bytes of host input unread")
            }
        } else {
            // The remote simulator is away: every command line gets a clear final result at once, echoed
            // and formatted as the host set the modem up (`ATE`, `ATV`, `ATQ`, `+CMEE`).
            var echo: [UInt8] = []
            let events = downAssembler.feed(bytes, echoOut: &echo)
            broadcast(echo)
            for event in events {
                if case .promptBody = event {
                } else if case .promptAborted = event {
                } else {
                    hostErrors += 1
                    broadcast(hostErrorBytes)
                }
            }
        }
    }

    func broadcast(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        traced("from_modem", bytes)
        for opener in openers.values { opener.write(bytes) }
    }

    func traced(_ direction: String, _ bytes: some Sequence<UInt8>) {
        let entries = trace.record(direction, bytes)
        guard !entries.isEmpty else { return }
        if isRemote, direction == "from_modem" {
            for entry in entries where ModemInstance.isUnsolicited(entry.line) { unsolicitedQueued() }
            if entries.contains(where: { entry in ModemInstance.finalPrefixes.contains { entry.line.hasPrefix($0) } }) {
                remoteCommandInFlight = false
            }
        }
        resolveWaits(traceEntries: entries)
    }

    static let urcPrefixes = [
        "RING", "+CRING:", "+CLIP:", "+CCWA:", "+CMTI:", "+CMT:", "+CREG:", "+CGREG:", "+CEREG:", "NO CARRIER",
        "BUSY", "NO ANSWER", "+COLP:",
    ]
    static func isUnsolicited(_ line: String) -> Bool { urcPrefixes.contains { line.hasPrefix($0) } }

    /// Moves what the simulator produced to the openers and turns its events into hub events.
    func pump() {
        guard let simulator else { return }
        broadcast(simulator.takeOutput())
        for event in simulator.takeEvents() { handle(event) }
        armSimulatorTimer()
    }

    private func armSimulatorTimer() {
        guard let simulator, !stopped else { return }
        guard let deadline = simulator.nextDeadline else {
            simulatorTimer?.stop()
            return
        }
        if simulatorTimer == nil { simulatorTimer = try? Timer(loop: hub.loop) }
        let now = ModemInstance.nowMs()
        simulatorTimer?.start(afterMilliseconds: deadline > now ? deadline - now : 0) { [unowned self] in
            self.simulator?.advance(to: ModemInstance.nowMs())
            self.pump()
        }
    }

    private func handle(_ event: ModemEvent) {
        if case .unsolicited = event {
            unsolicitedQueued()
            return
        }
        guard let simulator, let (kind, data) = ModemNetworkControl.event(event, simulator: simulator) else { return }
        networkEvent(kind, data)
    }

    /// A network-side event, from the built-in simulator or a remote one: published as `modem.<kind>`,
    /// and the waits it satisfies answered.
    func networkEvent(_ kind: String, _ data: JSONObject) {
        hub.publish("modem.\(kind)", partition: config.owner, device: config.name, data: .object(data))
        switch kind {
        case "call": resolveWaits(call: data)
        case "sms.sent": resolveWaits(sms: data)
        default: break
        }
    }

    /// The owner's configured line, raised once per queued unsolicited result.
    func unsolicitedQueued() {
        urcCount += 1
        guard let line = config.interruptLine else { return }
        var actions: [Action] = []
        _ = hub.platform.raise(from: .device(config.name), to: config.owner, line: line, actions: &actions)
        hub.perform(&actions)
    }
}
