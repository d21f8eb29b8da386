import ATWire
import ControlWire
import DeviceKit
import EventLoop
import GuestWire
import HubSystem
import JSON
import Logging
import Modem
import ModemSimWire
import PlatformConfig

/// How hosts reach a modem's serial line (Protocols/modem.md §1): raw AT sockets (`listen`, each behind the
/// modem's admission gate), the host PTY (`pty`), and the owner's guest channel. Every opener reads and
/// writes the same AT stream; unless the modem is `shared`, only one socket or channel has it at a time, and
/// the owner's channel displaces a raw socket client.
extension ModemInstance {
    func startAttachments() throws(HubStartError) {
        // Raw AT clients have no handshake: each is admitted straight into the client budget (one unless the
        // modem is shared), with an idle deadline when configured.
        let limits = host.limits
        let budget = config.shared ? limits.modemMaxRawClients : 1
        gate = host.admissionGate(
            "modem:\(config.name)",
            AdmissionPolicy(
                maxPending: budget, maxAuthenticated: budget, handshakeMs: 0, idleMs: limits.modemRawIdleMs,
                pendingLimit: "modemMaxRawClients", authenticatedLimit: "modemMaxRawClients"))
        for (index, endpoint) in config.listen.enumerated() {
            do {
                let listener = try host.listen(on: endpoint, gate: gate) { [unowned self] stream in
                    self.accept(stream)
                }
                listeners.append(listener)
            } catch {
                throw HubStartError.listen(
                    entry: "devices.modems[\(config.name)].listen[\(index)]", endpoint: endpoint, error)
            }
        }
        if let path = config.pty { try openPTY(path) }
    }

    private func openPTY(_ path: String) throws(HubStartError) {
        do {
            let terminal = try PseudoTerminal(loop: host.loop, symlink: path)
            pty = terminal
            let id = addOpener(
                Opener(
                    kind: "pty",
                    write: { [unowned self, weak terminal] bytes in
                        guard let connection = terminal?.connection else { return }
                        // Nobody may have the port open: what a serial line with no listener cannot hold is lost.
                        guard connection.backlogBytes <= self.host.limits.modemOpenerMaxUnsentBytes else {
                            self.ptyDroppedBytes &+= UInt64(bytes.count)
                            return
                        }
                        _ = connection.write(bytes)
                    },
                    close: {}), exclusive: false)
            // Sliced per pass as a raw socket client is (`RawATInput`): whoever opens the PTY is not
            // authenticated either, and a burst of lines taken in its read held the loop for 100 ms and more.
            let input = try RawATInput(
                loop: host.loop, commandsPerPass: host.limits.modemRawLinesPerPass, backpressure: false)
            ptyInput = input
            terminal.connection.maxReadBytes = RawATInput.maxReadBytes
            input.attach(terminal.connection) { [unowned self] lines in self.input(lines, from: id) }
            terminal.connection.onData = { data in input.received(data) }
            terminal.connection.onEnd = { [unowned self] error in
                self.logger.warning("PTY master ended: \(String(describing: error))")
                input.close()
                self.removeOpener(id)
            }
            try? terminal.connection.startReading()
        } catch {
            throw HubStartError.model("devices.modems[\(config.name)].pty: \(error)")
        }
    }

    func stopAttachments() {
        for listener in listeners { listener.close() }
        listeners.removeAll()
        for opener in openers.values { opener.close() }
        openers.removeAll()
        ptyInput?.close()
        ptyInput = nil
        pty?.close()
        pty = nil
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

    /// A raw AT client connected to one of the modem's listeners.
    func accept(_ connection: any ByteStream) {
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
        attachRaw(connection, slot: slot)
    }

    /// Serves an admitted raw AT client: its bytes are the modem's input, taken a bounded number of command lines
    /// per loop pass (`RawATInput`); the modem's output is written to it, and a client that leaves more than
    /// `hub.limits.modemOpenerMaxUnsentBytes` of it unread is closed (`Protocols/modem.md` §1).
    private func attachRaw(_ connection: any ByteStream, slot: AdmissionSlot) {
        let input: RawATInput
        do {
            input = try RawATInput(loop: host.loop, commandsPerPass: host.limits.modemRawLinesPerPass)
        } catch {
            slot.release()
            connection.close()
            return
        }
        var id = 0
        let hangUp: (String) -> Void = { [unowned self, weak connection] line in
            slot.release()
            self.removeOpener(id)
            input.close()
            guard let connection else { return }
            connection.onData = nil
            connection.onEnd = nil
            connection.onLowWatermark = nil
            connection.onWriteError = nil
            if !line.isEmpty { _ = connection.write(Array(line.utf8)) }
            connection.closeAfterWrites()
        }
        id = addOpener(
            Opener(
                kind: connection.kind == .tcp ? "tcp" : "unix",
                write: { [unowned self, weak connection] bytes in
                    guard let connection else { return }
                    _ = connection.write(bytes)
                    let limit = self.host.limits.modemOpenerMaxUnsentBytes
                    guard connection.backlogBytes > limit else { return }
                    // Shared modems write every opener everything: one that does not read would hold it all.
                    self.openersClosedNotReading += 1
                    hangUp("\r\nERROR: not_reading: more than \(limit) bytes of output unread\r\n")
                },
                close: { [weak connection] in
                    slot.release()
                    input.close()
                    connection?.close()
                },
                displace: { [unowned self] in
                    hangUp("\r\nERROR: \(self.config.name) taken over by its owner \(self.config.owner)\r\n")
                }), exclusive: true)
        slot.onDeadline = { [unowned self] refusal in
            hangUp("\r\nERROR: \(self.gate.refusalText(refusal))\r\n")
        }
        // A client that types but never reads its answers (`Sources/ARCHITECTURE.md`, "Backpressure"): it is not
        // read, nor is what it sent taken, while its unsent answers are past the high watermark, so its own
        // commands cannot grow them.
        connection.highWatermark = host.limits.writeHighWatermarkBytes
        connection.lowWatermark = host.limits.writeLowWatermarkBytes
        connection.maxReadBytes = RawATInput.maxReadBytes
        input.attach(connection) { [unowned self] lines in self.input(lines, from: id) }
        connection.onData = { data in
            slot.noteActivity()
            input.received(data)
        }
        connection.onLowWatermark = { input.resume() }
        connection.onEnd = { _ in hangUp("") }
        // A client that stopped reading is not read either (backpressure), so when it then goes away no end of
        // stream comes: the failed write is the only news of it. It is closed at once (nothing more can reach
        // it), releasing its slot, which on an unshared modem kept every other raw client out.
        connection.onWriteError = { [unowned self, weak connection] _ in
            slot.release()
            self.removeOpener(id)
            input.close()
            connection?.close()
        }
        do {
            try connection.startReading()
        } catch {
            hangUp("")
        }
    }

    private func refuseRaw(_ connection: any ByteStream, _ refusal: AdmissionRefusal) {
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

    func openChannel(endpoint: any GuestChannelEndpoint) -> Result<any GuestChannel, GuestChannelRefusal> {
        guard endpoint.partition == config.owner,
            host.deviceGrant(partition: endpoint.partition, device: config.name) != nil
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
}

/// The guest-protocol channel to a modem: the owner's serial line over its session (`Protocols/guest.md` §10).
final class ModemChannel: GuestChannel {
    weak var instance: ModemInstance?
    let endpoint: any GuestChannelEndpoint
    var openerID = 0

    init(instance: ModemInstance, endpoint: any GuestChannelEndpoint) {
        self.instance = instance
        self.endpoint = endpoint
    }

    var maxData: UInt32 { 4096 }
    var openedOptions: [UInt8] { [] }
    func received(_ data: ArraySlice<UInt8>) { instance?.input(data, from: openerID) }
    func closed(reason: String) { instance?.removeOpener(openerID) }
}

/// A host pseudo-terminal for a modem: the hub reads and writes the master side; serial tools open the
/// slave through a stable symlink. The hub keeps the slave open itself so the master never sees a
/// hang-up while no host program has the port open.
final class PseudoTerminal {
    let connection: Connection
    let slavePath: String
    let symlinkPath: String
    private var slaveFD: Int32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(loop: Loop, symlink: String) throws(Failure) {
        let pair: PseudoTerminalPair
        do {
            // The slave is in raw mode: no echo, no line editing, no CR/LF translation; the modem does its own echo.
            pair = try PseudoTerminalPair.open()
        } catch {
            let step =
                switch error.operation {
                case "posix_openpt": "open /dev/ptmx"
                case "unlockpt", "ptsname_r": "unlocking the PTY"
                default: error.operation
                }
            throw Failure(description: "\(step): errno \(error.code)")
        }
        slavePath = pair.slavePath
        slaveFD = pair.slave
        symlinkPath = symlink
        if Files.exists(symlink) {
            guard Files.isSymlink(symlink) else {
                Descriptors.close(pair.master)
                Descriptors.close(pair.slave)
                throw Failure(description: "\(symlink) exists and is not a symlink")
            }
            Files.remove(symlink)
        }
        do {
            try Files.makeSymlink(symlink, to: pair.slavePath)
        } catch {
            Descriptors.close(pair.master)
            Descriptors.close(pair.slave)
            throw Failure(description: "symlink \(symlink) -> \(pair.slavePath): errno \(error.code)")
        }
        do {
            connection = try Connection.adopting(fileDescriptor: pair.master, loop: loop)
        } catch {
            Files.remove(symlink)
            Descriptors.close(pair.master)
            Descriptors.close(pair.slave)
            throw Failure(description: "adopting the PTY master: \(error)")
        }
    }

    func close() {
        connection.close()
        if slaveFD >= 0 {
            Descriptors.close(slaveFD)
            slaveFD = -1
        }
        if Files.isSymlink(symlinkPath) { Files.remove(symlinkPath) }
    }
}

/// `hubd modem-sim`: only the built-in network simulator, for a hub elsewhere to use as its modem's
/// remote backend (Protocols/modem.md §6). It listens (`--listen`: each connection gets its own
/// simulated modem) or connects to a hub's `backend: {listen: …}` (`--connect`, one modem, reconnecting
/// with back-off). A hub speaks the framed link (`ModemSimFrame`); a connection whose first byte is not
/// 0x00 is a raw AT serial line (for `socat` and friends) without the control methods.
package final class ModemSimServer {
    private let loop: Loop
    private var listener: Listener?
    private let connectTo: Endpoint?
    private let token: String?
    private var sessions: [ObjectIdentifier: Session] = [:]
    private var signals: [SignalWatcher] = []
    private var reconnectTimer: Timer?
    private var backoffMs: UInt64 = 100
    private var stopped = false
    private let logger: Logger
    package private(set) var boundEndpoint: Endpoint?

    final class Session {
        enum Mode { case undecided, raw, framed }
        let connection: Connection
        let outbound: Bool
        var mode: Mode
        var simulator: ModemSimulator?
        var timer: Timer?
        var decoder = ModemSimFrameDecoder()
        var helloDone = false
        /// The host settings last reported to the hub (Protocols/modem.md §6.2).
        var reportedSettings: ModemHostSettings?

        init(connection: Connection, outbound: Bool) {
            self.connection = connection
            self.outbound = outbound
            mode = outbound ? .framed : .undecided
        }
    }

    /// - Parameters:
    ///   - listen: serve hubs (and raw clients) connecting here.
    ///   - connect: instead, connect to a hub's backend listener.
    ///   - token: the shared secret: required from connecting hubs (`--listen`; raw clients are then
    ///     refused) or presented to the hub (`--connect`).
    package init(listen: Endpoint?, connect: Endpoint? = nil, token: String? = nil, logger: Logger)
        throws(HubStartError)
    {
        self.logger = logger
        self.connectTo = connect
        self.token = token
        // A hub that gave up on this simulator (it was stopped, Protocols/modem.md §6.3) has closed the
        // connections queued meanwhile; answering their hellos must fail with EPIPE, not kill the process.
        CurrentProcess.ignoreBrokenPipe()
        do {
            loop = try Loop()
        } catch {
            throw HubStartError.loop(error)
        }
        if let endpoint = listen {
            do {
                let listener = try Listener(loop: loop, address: endpoint.socketAddress) {
                    [unowned self] connection in
                    self.accept(connection)
                }
                self.listener = listener
                boundEndpoint = listener.boundAddress.endpoint
            } catch {
                throw HubStartError.listen(entry: "--listen", endpoint: endpoint, error)
            }
        }
        for number in [SignalNumber.interrupt, SignalNumber.terminate] {
            if let watcher = try? SignalWatcher(loop: loop, signal: number, { [unowned self] _ in self.stop() }) {
                signals.append(watcher)
            }
        }
    }

    /// Runs until SIGINT/SIGTERM; returns the loop's status.
    package func run() -> Int32 {
        if let boundEndpoint { logger.info("modem simulator listening on \(boundEndpoint)") }
        if connectTo != nil { connect() }
        loop.run()
        return loop.shutdown()
    }

    private func stop() {
        stopped = true
        listener?.close()
        listener = nil
        reconnectTimer?.close()
        reconnectTimer = nil
        for session in sessions.values {
            session.timer?.close()
            session.connection.close()
        }
        sessions.removeAll()
        for watcher in signals { watcher.close() }
        signals.removeAll()
    }

    // MARK: Connections

    private func connect() {
        guard let endpoint = connectTo, !stopped else { return }
        Connection.connect(loop: loop, to: endpoint.socketAddress) { [weak self] result in
            guard let self, !self.stopped else {
                if case .success(let connection) = result { connection.close() }
                return
            }
            switch result {
            case .success(let connection):
                self.logger.info("connected to hub \(endpoint)")
                if let session = self.start(connection, outbound: true) {
                    self.write(session, ModemSimFrame.hello(token: self.token))
                }
            case .failure(let error):
                self.logger.debug("hub \(endpoint): \(error); retrying in \(self.backoffMs) ms")
                self.scheduleReconnect()
            }
        }
    }

    private func scheduleReconnect() {
        guard !stopped, connectTo != nil else { return }
        if reconnectTimer == nil { reconnectTimer = try? Timer(loop: loop) }
        let delay = backoffMs
        backoffMs = min(backoffMs * 2, 5000)
        reconnectTimer?.start(afterMilliseconds: delay) { [unowned self] in self.connect() }
    }

    private func accept(_ connection: Connection) {
        _ = start(connection, outbound: false)
    }

    private func start(_ connection: Connection, outbound: Bool) -> Session? {
        let session = Session(connection: connection, outbound: outbound)
        let key = ObjectIdentifier(connection)
        sessions[key] = session
        session.timer = try? Timer(loop: loop)
        connection.onData = { [unowned self] data in self.received(data, key) }
        connection.onEnd = { [unowned self] error in
            self.end(key, reason: error.map { "\($0)" } ?? "closed")
        }
        do {
            try connection.startReading()
        } catch {
            end(key, reason: "\(error)")
            return nil
        }
        return session
    }

    private func end(_ key: ObjectIdentifier, reason: String) {
        guard let session = sessions.removeValue(forKey: key) else { return }
        session.timer?.close()
        session.connection.close()
        if session.outbound {
            logger.info("hub link closed: \(reason)")
            if session.helloDone { backoffMs = 100 }
            scheduleReconnect()
        }
    }

    private func write(_ session: Session, _ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        _ = session.connection.write(bytes)
    }

    private func received(_ data: ArraySlice<UInt8>, _ key: ObjectIdentifier) {
        guard let session = sessions[key] else { return }
        if session.mode == .undecided, let first = data.first {
            if first == 0x00 {
                session.mode = .framed
            } else if token != nil {
                // With a secret, only a hub that presents it may drive a modem.
                write(session, Array("\r\nERROR: this simulator requires a hub with a token\r\n".utf8))
                session.connection.closeAfterWrites()
                sessions[key] = nil
                return
            } else {
                session.mode = .raw
                session.simulator = ModemSimulator(now: ModemSimServer.nowMs())
            }
        }
        switch session.mode {
        case .undecided:
            return
        case .raw:
            session.simulator?.receive(data, now: ModemSimServer.nowMs())
            flush(session)
        case .framed:
            let frames: [ModemSimFrameDecoder.Frame]
            do {
                frames = try session.decoder.feed(data)
            } catch {
                end(key, reason: "bad frame: \(error)")
                return
            }
            for frame in frames {
                guard sessions[key] != nil else { return }
                handle(frame, session, key)
            }
        }
    }

    private func handle(_ frame: ModemSimFrameDecoder.Frame, _ session: Session, _ key: ObjectIdentifier) {
        guard session.helloDone else {
            guard frame.kind == .hello else { return end(key, reason: "the hub did not start with a hello") }
            let (hello, problem) = ModemSimFrameDecoder.parseHello(frame.payload)
            guard let hello else { return refuse(session, key, problem ?? "bad hello") }
            if let error = hello["error"]?.stringValue {
                logger.error("the hub refused this simulator: \(error)")
                return end(key, reason: "refused: \(error)")
            }
            if !session.outbound {
                if let token, hello["token"]?.stringValue != token {
                    return refuse(session, key, "wrong or missing token")
                }
                write(session, ModemSimFrame.hello(token: nil))
            }
            session.helloDone = true
            let simulator = ModemSimulator(
                profile: ModemSimServer.profile(from: hello["modem"]?.objectValue), now: ModemSimServer.nowMs())
            session.simulator = simulator
            // A hub that served a host before hands over what that host set: the modem continues
            // as the host left it (echo, error mode, notifications, SMS references…).
            if let settings = hello["settings"]?.objectValue {
                simulator.restore(ModemHostSettings(json: settings))
                logger.info("restored the host's modem settings from the hub")
            }
            session.reportedSettings = simulator.hostSettings
            flush(session)
            return
        }
        guard let simulator = session.simulator else { return }
        switch frame.kind {
        case .hello, .event:
            return
        case .at:
            simulator.receive(frame.payload, now: ModemSimServer.nowMs())
        case .control:
            write(session, ModemSimFrame.encode(.control, json: ModemSimServer.answer(frame.payload, simulator)))
        }
        flush(session)
    }

    private func refuse(_ session: Session, _ key: ObjectIdentifier, _ reason: String) {
        logger.warning("refusing a hub: \(reason)")
        write(session, ModemSimFrame.hello(token: nil, error: reason))
        session.connection.onData = nil
        session.connection.onEnd = nil
        session.connection.closeAfterWrites()
        session.timer?.close()
        sessions[key] = nil
        if session.outbound { scheduleReconnect() }
    }

    /// One control request answered: the network-side methods of the hub's `modem.*` (without the prefix).
    static func answer(_ payload: ArraySlice<UInt8>, _ simulator: ModemSimulator) -> JSON {
        guard let request = try? JSON.parse(payload), let id = request["id"],
            let method = request["method"]?.stringValue
        else {
            return ["id": .null, "error": ControlError.invalidRequest("not a control request").json]
        }
        // `ping`: the hub's liveness probe (§6.3); answered after every frame that came before it.
        if method == "ping" { return ["id": id, "result": [:]] }
        guard ModemNetworkControl.names.contains(method) else {
            return ["id": id, "error": ControlError.methodNotFound("modem.\(method)").json]
        }
        do throws(ControlError) {
            return [
                "id": id, "result": try ModemNetworkControl.perform(method, request["params"], simulator: simulator),
            ]
        } catch {
            return ["id": id, "error": error.json]
        }
    }

    private func flush(_ session: Session) {
        guard let simulator = session.simulator else { return }
        let output = simulator.takeOutput()
        let framed = session.mode == .framed
        // Settings go before the output that confirms them, so a hub that saw `OK` also has the change.
        if framed, session.helloDone {
            let settings = simulator.hostSettings
            if settings != session.reportedSettings {
                session.reportedSettings = settings
                write(
                    session,
                    ModemSimFrame.encode(.event, json: ["kind": "settings", "data": settings.json]))
            }
        }
        if !output.isEmpty { write(session, framed ? ModemSimFrame.encodeAT(output) : output) }
        for event in simulator.takeEvents() where framed {
            guard let (kind, data) = ModemNetworkControl.event(event, simulator: simulator) else { continue }
            write(session, ModemSimFrame.encode(.event, json: ["kind": .string(kind), "data": .object(data)]))
        }
        guard let deadline = simulator.nextDeadline else {
            session.timer?.stop()
            return
        }
        let now = ModemSimServer.nowMs()
        session.timer?.start(afterMilliseconds: deadline > now ? deadline - now : 0) { [weak self, weak session] in
            guard let self, let session else { return }
            session.simulator?.advance(to: ModemSimServer.nowMs())
            self.flush(session)
        }
    }

    /// The modem a hub asked for in its hello (its configuration); out-of-range values keep the defaults.
    static func profile(from object: JSONObject?) -> ModemProfile {
        var profile = ModemProfile()
        guard let object else { return profile }
        if let pin = object["pin"]?.stringValue, (4...8).contains(pin.count), pin.allSatisfy(\.isNumber) {
            profile.pin = pin
        }
        if let number = object["number"]?.stringValue, (1...21).contains(number.count) { profile.ownNumber = number }
        if let op = object["operator"]?.objectValue, let name = op["name"]?.stringValue,
            let short = op["shortName"]?.stringValue, let numeric = op["numeric"]?.stringValue,
            (1...64).contains(name.count), (1...32).contains(short.count), (5...6).contains(numeric.count)
        {
            profile.homeOperator = ModemOperator(longName: name, shortName: short, numeric: numeric)
        }
        if let value = object["maxLineBytes"]?.intValue, ModemConfig.maxLineBytesRange.contains(value) {
            profile.maxLineBytes = value
        }
        if let value = object["smsCapacity"]?.intValue, ModemConfig.smsCapacityRange.contains(value) {
            profile.smsCapacity = value
        }
        if let value = object["maxCalls"]?.intValue, ModemConfig.maxCallsRange.contains(value) {
            profile.maxCalls = value
        }
        if let value = object["ringIntervalMs"]?.intValue, ModemConfig.ringIntervalMsRange.contains(value) {
            profile.ringIntervalMs = UInt64(value)
        }
        return profile
    }

    static func nowMs() -> UInt64 { MonotonicClock.nanoseconds() / 1_000_000 }
}

/// The remote backend of a modem (Protocols/modem.md §6): a framed link to `hubd modem-sim`, either
/// connected out (`backend: {remote: …}`, reconnecting with back-off) or accepted
/// (`backend: {listen: …}`, the simulator runs `hubd modem-sim --connect`). Serial bytes, the
/// forwarded network-side control methods and the simulator's events share the link.
extension ModemInstance {
    static let remoteRequestTimeoutMs: UInt64 = 5000
    static let maxRemoteRequests = 256

    func startRemote() throws(HubStartError) {
        switch config.backend {
        case .builtin:
            return
        case .remote:
            connectRemote()
        case .listen(let endpoint):
            do {
                backendListener = try Listener(loop: host.loop, address: endpoint.socketAddress) {
                    [unowned self] connection in
                    self.acceptSimulator(connection)
                }
            } catch {
                throw HubStartError.listen(
                    entry: "devices.modems[\(config.name)].backend.listen", endpoint: endpoint, error)
            }
        }
    }

    func stopRemote() {
        reconnectTimer?.close()
        reconnectTimer = nil
        probeTimer?.close()
        probeTimer = nil
        keepaliveTimer?.close()
        keepaliveTimer = nil
        backendListener?.close()
        backendListener = nil
        remoteConnection?.close()
        remoteConnection = nil
        failRemoteRequests(ControlError.unavailable("the hub is stopping", reason: "shutting_down"))
    }

    /// Where the listener bound (port 0 resolved), for `modem.list`.
    var backendListenAddress: String? { backendListener?.boundAddress.endpoint.description }

    /// The profile the remote simulator should build its modem from, sent in the hub's hello.
    var profileJSON: JSON {
        [
            "pin": config.pin.map(JSON.string) ?? .null, "number": .string(config.number),
            "operator": [
                "name": .string(config.operatorName), "shortName": .string(config.operatorShortName),
                "numeric": .string(config.operatorNumeric),
            ],
            "maxLineBytes": .int(Int64(config.maxLineBytes)), "smsCapacity": .int(Int64(config.smsCapacity)),
            "maxCalls": .int(Int64(config.maxCalls)), "ringIntervalMs": .int(Int64(config.ringIntervalMs)),
        ]
    }

    private func hubHello(error: String? = nil) -> [UInt8] {
        var object: JSONObject = [
            "protocol": .string(ModemSimFrame.protocolName), "version": .int(ModemSimFrame.version),
        ]
        if case .remote = config.backend, let token = config.backendToken { object["token"] = .string(token) }
        if let error {
            object["error"] = .string(error)
        } else {
            object["modem"] = profileJSON
            // The host's view of the modem outlives the simulator (Protocols/modem.md §6.2).
            if let hostSettings { object["settings"] = hostSettings.json }
        }
        return ModemSimFrame.encode(.hello, json: .object(object))
    }

    // MARK: Connecting out

    private func connectRemote() {
        guard case .remote(let endpoint) = config.backend, !stopped else { return }
        link.attempts += 1
        Connection.connect(loop: host.loop, to: endpoint.socketAddress) { [weak self] result in
            guard let self, !self.stopped else {
                if case .success(let connection) = result { connection.close() }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, outbound: true)
                guard self.remoteConnection === connection else { return }
                _ = connection.write(self.hubHello())
            case .failure(let error):
                self.logger.debug("remote modem simulator \(endpoint): \(error); retrying in \(self.backoffMs) ms")
                self.scheduleReconnect()
            }
        }
    }

    private func scheduleReconnect() {
        guard !stopped, case .remote = config.backend else { return }
        if reconnectTimer == nil { reconnectTimer = try? Timer(loop: host.loop) }
        let delay = backoffMs
        backoffMs = min(backoffMs * 2, 5000)
        reconnectTimer?.start(afterMilliseconds: delay) { [unowned self] in self.connectRemote() }
    }

    // MARK: Accepting

    func acceptSimulator(_ connection: any ByteStream) {
        guard remoteConnection == nil else {
            // One simulator per modem: a second one is told why and closed.
            _ = connection.write(hubHello(error: "\(config.name) already has a simulator connected"))
            connection.closeAfterWrites()
            return
        }
        link.attempts += 1
        attach(connection, outbound: false)
    }

    // MARK: The link

    func attach(_ connection: any ByteStream, outbound: Bool) {
        remoteConnection = connection
        remoteDecoder = ModemSimFrameDecoder()
        connection.onData = { [unowned self, unowned connection] data in self.linkData(data, on: connection) }
        connection.onEnd = { [unowned self, unowned connection] error in
            self.linkClosed(connection, reason: error.map { "\($0)" } ?? "closed by the simulator")
        }
        do {
            try connection.startReading()
        } catch {
            linkClosed(connection, reason: "\(error)")
            return
        }
        // A peer that connects but never says hello (a stopped process still completes the TCP or
        // Unix handshake through the kernel) is given up after the command deadline and redialled.
        armProbeTimer(deadlineMs: ModemInstance.nowMs() + UInt64(config.backendCommandTimeoutMs)) {
            [unowned self, weak connection] in
            guard let connection, self.remoteConnection === connection, !self.backendUp else { return }
            self.link.timeouts += 1  // a missed deadline like any other (`Protocols/modem.md` §6.3)
            self.linkClosed(connection, reason: "no hello within \(self.config.backendCommandTimeoutMs) ms")
        }
    }

    func linkClosed(_ connection: any ByteStream, reason: String) {
        connection.close()
        guard remoteConnection === connection else { return }
        remoteConnection = nil
        probe = nil
        unprobedLineSince = nil
        probeTimer?.stop()
        keepaliveTimer?.stop()
        if backendUp {
            backendUp = false
            link.attempts = 0
            logger.warning("remote modem simulator lost: \(reason)")
            host.publish(
                "modem.backend", partition: config.owner, device: config.name,
                data: [
                    "up": false, "state": "disconnected", "reason": .string(reason),
                    "commandPending": .bool(remoteCommandInFlight), "reconnects": .int(Int64(link.reconnects)),
                ])
            // A command in flight will never be answered by the simulator: tell the host now.
            if remoteCommandInFlight {
                remoteCommandInFlight = false
                link.hostErrors += 1
                broadcast(hostErrorBytes)
            }
        } else {
            logger.debug("remote modem simulator link closed before its hello: \(reason)")
        }
        failRemoteRequests(
            ControlError.unavailable("the remote simulator of \(config.name) went away", reason: "backend_down"))
        remoteCalls.removeAll()
        scheduleReconnect()
    }

    private func linkData(_ data: ArraySlice<UInt8>, on connection: any ByteStream) {
        lastHeardMs = ModemInstance.nowMs()
        let frames: [ModemSimFrameDecoder.Frame]
        do {
            frames = try remoteDecoder.feed(data)
        } catch {
            link.protocolErrors += 1
            linkClosed(connection, reason: "bad frame from the simulator: \(error)")
            return
        }
        for frame in frames {
            guard remoteConnection === connection else { return }
            if !backendUp {
                guard frame.kind == .hello else {
                    link.protocolErrors += 1
                    linkClosed(connection, reason: "the simulator did not start with a hello")
                    return
                }
                helloReceived(frame.payload, on: connection)
                continue
            }
            switch frame.kind {
            case .hello: break
            case .at: broadcast(Array(frame.payload))
            case .control: controlResponse(frame.payload)
            case .event: remoteEvent(frame.payload)
            }
        }
    }

    private func helloReceived(_ payload: ArraySlice<UInt8>, on connection: any ByteStream) {
        let (hello, problem) = ModemSimFrameDecoder.parseHello(payload)
        guard let hello else {
            refuse(connection, problem ?? "bad hello")
            return
        }
        if let error = hello["error"]?.stringValue {
            linkClosed(connection, reason: "the simulator refused: \(error)")
            return
        }
        if case .listen = config.backend {
            // Who connects in must know the secret (required off loopback by the validator).
            if let token = config.backendToken, hello["token"]?.stringValue != token {
                refuse(connection, "wrong or missing token")
                return
            }
            _ = connection.write(hubHello())
        }
        backendUp = true
        probeTimer?.stop()
        let reconnected = backendEverUp
        if reconnected { link.reconnects += 1 }
        backendEverUp = true
        let attempts = link.attempts
        link.attempts = 0
        lastHeardMs = ModemInstance.nowMs()
        startKeepalive()
        backoffMs = 100
        remoteSent.removeAll()
        remoteSentCount = 0
        remoteCalls.removeAll()
        downAssembler = ATLineAssembler(maxLineBytes: config.maxLineBytes)
        downAssembler.echo = hostSettings?.echo ?? true
        let peer = connection.peerDescription ?? (connection.kind == .unix ? "unix" : "?")
        logger.info("remote modem simulator up (\(peer))")
        host.publish(
            "modem.backend", partition: config.owner, device: config.name,
            data: [
                "up": true, "state": .string(reconnected ? "reconnected" : "connected"),
                "endpoint": .string(backendDescription), "attempts": .int(Int64(attempts)),
                "reconnects": .int(Int64(link.reconnects)), "restored": .bool(hostSettings != nil),
            ])
    }

    /// The simulator broke the link protocol (§6.1): it is told why in a hello with `error`, and counted.
    private func refuse(_ connection: any ByteStream, _ reason: String) {
        link.protocolErrors += 1
        logger.warning("remote modem simulator refused: \(reason)")
        _ = connection.write(hubHello(error: reason))
        connection.onData = nil
        connection.onEnd = nil
        connection.closeAfterWrites()
        if remoteConnection === connection { remoteConnection = nil }
        scheduleReconnect()
    }

    var backendDescription: String {
        switch config.backend {
        case .builtin: "builtin"
        case .remote(let endpoint): endpoint.description
        case .listen(let endpoint): "listen " + (backendListenAddress ?? endpoint.description)
        }
    }

    // MARK: Forwarded control methods

    /// Sends `method` to the remote simulator; the call is answered when the response (passed through
    /// `finish`) comes back, or with an error when the link drops or 5 s pass.
    func forward(_ method: String, _ call: ControlCall, finish: @escaping (JSONObject) -> JSONObject)
        throws(ControlError) -> ControlReply
    {
        guard backendUp, let remoteConnection else {
            throw ControlError.unavailable(
                "the remote simulator of \(config.name) is not connected; try again when modem.list shows backendUp",
                reason: "backend_down")
        }
        guard remoteRequests.count < ModemInstance.maxRemoteRequests else {
            throw ControlError.limitExceeded(
                "remoteRequests", value: Int64(ModemInstance.maxRemoteRequests), reason: "too_many_requests")
        }
        let id = nextRemoteRequest
        nextRemoteRequest += 1
        var params = call.params ?? .object([:])
        if case .object(var object) = params {
            object["modem"] = nil
            params = .object(object)
        }
        let request: JSON = ["id": .uint(id), "method": .string(method), "params": params]
        let timer = try? Timer.once(loop: host.loop, afterMilliseconds: ModemInstance.remoteRequestTimeoutMs) {
            [weak self] in
            guard let self, let pending = self.remoteRequests.removeValue(forKey: id) else { return }
            pending.call.reply(
                .error(
                    ControlError.unavailable(
                        "the remote simulator did not answer modem.\(method) within "
                            + "\(ModemInstance.remoteRequestTimeoutMs) ms", reason: "backend_timeout")))
        }
        remoteRequests[id] = RemoteRequest(call: call, timer: timer, finish: finish)
        _ = remoteConnection.write(ModemSimFrame.encode(.control, json: request))
        return .deferred
    }

    private func controlResponse(_ payload: ArraySlice<UInt8>) {
        if let json = try? JSON.parse(payload), let id = json["id"]?.uint64Value, id == probe?.id {
            // Any answer proves the simulator alive (an older one answers `ping` with -32601).
            probeAnswered()
            return
        }
        guard let json = try? JSON.parse(payload), let id = json["id"]?.uint64Value,
            let pending = remoteRequests.removeValue(forKey: id)
        else {
            logger.warning("remote modem simulator sent an unmatched control response")
            return
        }
        pending.timer?.close()
        if let error = json["error"].flatMap(ControlError.init(json:)) {
            pending.call.reply(.error(error))
        } else if case .object(let result) = json["result"] ?? .null {
            pending.call.reply(.result(.object(pending.finish(result))))
        } else {
            pending.call.reply(.error(.internalError("the remote simulator answered without a result")))
        }
    }

    private func failRemoteRequests(_ error: ControlError) {
        let pending = remoteRequests.values
        remoteRequests.removeAll()
        for request in pending {
            request.timer?.close()
            request.call.reply(.error(error))
        }
    }

    /// Largest event a simulator may send to be republished (`Protocols/modem.md` §6.1). Events are republished as
    /// the hub's own and kept in its replay ring, which bounds their count, not their size: a simulator sending
    /// 60 KB texts grew the hub by 250 MB in well under a second. A settings report is not republished (its
    /// fields are read with their own bounds), so it is not held to this.
    static let maxEventBytes = 8192

    private func remoteEvent(_ payload: ArraySlice<UInt8>) {
        guard let json = try? JSON.parse(payload), let kind = json["kind"]?.stringValue,
            case .object(let data) = json["data"] ?? .null,
            ["call", "sms.sent", "sms.received", "registration", "dtmf", "settings"].contains(kind)
        else {
            logger.warning("remote modem simulator sent an event the hub does not know")
            return
        }
        guard kind == "settings" || payload.count <= Self.maxEventBytes else {
            link.protocolErrors += 1
            logger.warning(
                "remote modem simulator sent a \(kind) event of \(payload.count) bytes (over \(Self.maxEventBytes)): dropped"
            )
            return
        }
        switch kind {
        case "call":
            if let id = data["id"]?.intValue {
                remoteCalls[id] = data["ended"] == nil ? data : nil
            }
        case "settings":
            // The host changed something: kept for the next simulator and for the hub's own answers.
            let settings = ModemHostSettings(json: data, over: hostSettings ?? ModemHostSettings())
            hostSettings = settings
            downAssembler.echo = settings.echo
            return
        case "sms.sent":
            remoteSent.append(data)
            if remoteSent.count > ModemSimulator.sentLogCapacity {
                remoteSent.removeFirst(remoteSent.count - ModemSimulator.sentLogCapacity)
            }
            remoteSentCount = max(remoteSentCount, (data["index"]?.intValue ?? remoteSentCount) + 1)
        default:
            break
        }
        networkEvent(kind, data)
    }
}

// MARK: - Liveness (Protocols/modem.md §6.3)

extension ModemInstance {
    /// The hub's own final result for a command the simulator cannot answer, formatted as the host asked
    /// (`ATV`, `ATQ`, `+CMEE`): `ERROR`, `+CME ERROR: 0` or `+CME ERROR: phone failure`.
    var hostErrorBytes: [UInt8] {
        let settings = hostSettings ?? ModemHostSettings()
        let formatter = ATFormatter(verbose: settings.verbose, quiet: settings.quiet)
        switch settings.cmee {
        case 1: return formatter.extendedResult("+CME ERROR: \(CMEError.phoneFailure.rawValue)")
        case 2: return formatter.extendedResult("+CME ERROR: \(CMEError.phoneFailure.text)")
        default: return formatter.result(.error)
        }
    }

    /// A command line (CR, Ctrl-Z or Esc) went to the simulator: it must be answered within the deadline.
    /// The probe sent right behind it is answered only after the simulator handled the line (it handles
    /// frames in order), so its answer means the line's result is already on its way.
    func commandForwarded() {
        remoteCommandInFlight = true
        let now = ModemInstance.nowMs()
        if probe == nil {
            sendProbe(deadlineMs: now + UInt64(config.backendCommandTimeoutMs), command: true)
        } else if unprobedLineSince == nil {
            unprobedLineSince = now
        }
    }

    private func sendProbe(deadlineMs: UInt64, command: Bool) {
        guard let remoteConnection, backendUp else { return }
        let id = nextRemoteRequest
        nextRemoteRequest += 1
        probe = (id, deadlineMs, command)
        _ = remoteConnection.write(
            ModemSimFrame.encode(.control, json: ["id": .uint(id), "method": "ping", "params": [:]]))
        armProbeTimer(deadlineMs: deadlineMs) { [unowned self] in self.probeExpired(id) }
    }

    func armProbeTimer(deadlineMs: UInt64, _ fire: @escaping () -> Void) {
        guard !stopped else { return }
        if probeTimer == nil { probeTimer = try? Timer(loop: host.loop) }
        let now = ModemInstance.nowMs()
        probeTimer?.start(afterMilliseconds: deadlineMs > now ? deadlineMs - now : 0, fire)
    }

    private func probeAnswered() {
        guard let answered = probe else { return }
        probe = nil
        probeTimer?.stop()
        if let since = unprobedLineSince {
            unprobedLineSince = nil
            sendProbe(deadlineMs: since + UInt64(config.backendCommandTimeoutMs), command: true)
        } else if answered.command {
            remoteCommandInFlight = false
        }
    }

    private func probeExpired(_ id: UInt64) {
        guard let pending = probe, pending.id == id, let remoteConnection else { return }
        if pending.command || unprobedLineSince != nil { remoteCommandInFlight = true }
        link.timeouts += 1
        linkClosed(
            remoteConnection,
            reason: "the simulator did not answer within \(config.backendCommandTimeoutMs) ms (hung?)")
    }

    private func startKeepalive() {
        guard !stopped else { return }
        if keepaliveTimer == nil { keepaliveTimer = try? Timer(loop: host.loop) }
        armKeepalive(afterMs: UInt64(config.backendKeepaliveMs))
    }

    /// Fires when the link will have been silent for the interval: the last frame heard plus the interval. (A fixed
    /// period's next tick came up to one interval late: a frame just after a tick was judged at the tick after.)
    private func armKeepalive(afterMs delay: UInt64) {
        keepaliveTimer?.start(afterMilliseconds: delay) { [unowned self] in
            guard self.backendUp else { return }
            let interval = UInt64(self.config.backendKeepaliveMs)
            let now = ModemInstance.nowMs()
            let silent = now &- self.lastHeardMs
            guard silent >= interval else { return self.armKeepalive(afterMs: interval - silent) }
            if self.probe == nil {
                self.sendProbe(deadlineMs: now + UInt64(self.config.backendCommandTimeoutMs), command: false)
            }
            self.armKeepalive(afterMs: interval)
        }
    }
}

/// The host-set state of a modem as the link carries it (Protocols/modem.md §6.2): the simulator reports
/// it in `settings` events, the hub sends the last report back in its hello to a new simulator.
extension ModemHostSettings {
    package var json: JSON {
        var object: JSONObject = [
            "echo": .bool(echo), "verbose": .bool(verbose), "quiet": .bool(quiet), "cmee": .int(Int64(cmee)),
            "crc": .int(Int64(crc)), "clip": .int(Int64(clip)), "ccwa": .int(Int64(ccwa)),
            "colp": .int(Int64(colp)), "cvhu": .int(Int64(cvhu)), "creg": .int(Int64(cregMode)),
            "cgreg": .int(Int64(cgregMode)), "cereg": .int(Int64(ceregMode)), "cmgf": .int(Int64(cmgf)),
            "csms": .int(Int64(csms)), "cscs": .string(cscs), "cnmi": .array(cnmi.map { .int(Int64($0)) }),
            "csmp": .array(csmp.map { .int(Int64($0)) }), "csdh": .int(Int64(csdh)), "cfun": .int(Int64(cfun)),
            "copsMode": .int(Int64(copsMode)), "copsFormat": .int(Int64(copsFormat)),
            "cgatt": .bool(gprsAttached), "simUnlocked": .bool(simUnlocked),
            "nextReference": .int(Int64(nextReference)), "nextConcatReference": .int(Int64(nextConcatReference)),
        ]
        // Unset is written as null, not left out: a report says everything, and a missing field keeps its value.
        object["reportedStat"] = reportedStat.map { .int(Int64($0)) } ?? .null
        object["csca"] = serviceCentre.map(JSON.string) ?? .null
        object["copsOperator"] = copsOperator.map(JSON.string) ?? .null
        object["pin"] = changedPIN.map(JSON.string) ?? .null
        var contexts: JSONObject = [:]
        for (cid, apn) in pdpContexts { contexts["\(cid)"] = .string(apn) }
        object["cgdcont"] = .object(contexts)
        var registers: JSONObject = [:]
        for (number, value) in sRegisters { registers["\(number)"] = .int(Int64(value)) }
        object["s"] = .object(registers)
        return .object(object)
    }

    /// Reads what a peer sent over `base` (the last report): a field it leaves out, sends with the wrong type or
    /// out of its range (the ranges `ModemSimulator.restore` accepts) keeps its value there, so a partial or broken
    /// report cannot quietly undo what the host set (§6.2): passed on in the next hello, an out-of-range value
    /// would make the next simulator fall back to its default. Null clears an optional field. Keys of the maps
    /// are looked up among the few valid ones, never converted.
    package init(json object: JSONObject, over base: ModemHostSettings = ModemHostSettings()) {
        self = base
        func int(_ key: String, _ range: ClosedRange<Int>) -> Int? {
            guard let value = object[key]?.intValue, range.contains(value) else { return nil }
            return value
        }
        // Strings are kept short so the next hello stays far below the frame limit whatever a peer sent.
        func string(_ key: String, max: Int = 32) -> String? {
            guard let value = object[key]?.stringValue, value.utf8.count <= max else { return nil }
            return value
        }
        func optional<T>(_ key: String, _ current: T?, _ read: (String) -> T?) -> T? {
            guard let value = object[key] else { return current }
            if case .null = value { return nil }
            return read(key) ?? current
        }
        echo = object["echo"]?.boolValue ?? echo
        verbose = object["verbose"]?.boolValue ?? verbose
        quiet = object["quiet"]?.boolValue ?? quiet
        cmee = int("cmee", 0...2) ?? cmee
        crc = int("crc", 0...1) ?? crc
        clip = int("clip", 0...1) ?? clip
        ccwa = int("ccwa", 0...1) ?? ccwa
        colp = int("colp", 0...1) ?? colp
        cvhu = int("cvhu", 0...2) ?? cvhu
        cregMode = int("creg", 0...2) ?? cregMode
        cgregMode = int("cgreg", 0...2) ?? cgregMode
        ceregMode = int("cereg", 0...2) ?? ceregMode
        reportedStat = optional("reportedStat", reportedStat) { int($0, 0...5) }
        cmgf = int("cmgf", 0...1) ?? cmgf
        csms = int("csms", 0...1) ?? csms
        cscs = string("cscs").flatMap { Self.characterSets.contains($0) ? $0 : nil } ?? cscs
        serviceCentre = optional("csca", serviceCentre) {
            string($0).flatMap { ModemSimulator.isServiceCentre($0) ? $0 : nil }
        }
        if let values = object["cnmi"]?.arrayValue, values.count == 5 {
            let ints = values.compactMap(\.intValue)
            if ints.count == 5, zip(ints, Self.cnmiLimits).allSatisfy({ (0...$1).contains($0) }) { cnmi = ints }
        }
        if let values = object["csmp"]?.arrayValue, values.count == 4 {
            let ints = values.compactMap(\.intValue)
            if ints.count == 4, ints.allSatisfy({ (0...255).contains($0) }) { csmp = ints }
        }
        csdh = int("csdh", 0...1) ?? csdh
        cfun = int("cfun", 0...4).flatMap { [0, 1, 4].contains($0) ? $0 : nil } ?? cfun
        copsMode = int("copsMode", 0...4) ?? copsMode
        copsFormat = int("copsFormat", 0...2) ?? copsFormat
        copsOperator = optional("copsOperator", copsOperator) { string($0) }
        gprsAttached = object["cgatt"]?.boolValue ?? gprsAttached
        simUnlocked = object["simUnlocked"]?.boolValue ?? simUnlocked
        changedPIN = optional("pin", changedPIN) { string($0) }
        nextReference = int("nextReference", 0...255) ?? nextReference
        nextConcatReference = int("nextConcatReference", 0...65535) ?? nextConcatReference
        // A map that is there is the whole map.
        if let contexts = object["cgdcont"]?.objectValue {
            pdpContexts = [:]
            for cid in 1...8 {
                if let apn = contexts["\(cid)"]?.stringValue, apn.utf8.count <= 256 { pdpContexts[cid] = apn }
            }
        }
        if let registers = object["s"]?.objectValue {
            sRegisters = [:]
            for number in 0...12 {
                guard let value = registers["\(number)"]?.intValue else { continue }
                // Out of range, the register keeps what the host set.
                sRegisters[number] = (0...255).contains(value) ? value : base.sRegisters[number]
            }
        }
    }
}

/// The input of a raw AT socket client or of the PTY, taken at most `hub.limits.modemRawLinesPerPass` commands
/// per loop pass (`Protocols/modem.md` §1). Neither has authentication, one read can hold thousands of lines,
/// one line can chain hundreds of `;`-separated commands, and each can make the modem write kilobytes: taken
/// whole, one read held the loop for most of a second. A line counts once per command in it, and a pass ends
/// after the line that reaches the bound (a line is never split: the modem runs it whole, and `maxLineBytes`
/// bounds it). What was read past a pass's last line waits here (at most one read) and is taken at the end of
/// the next passes, in the check phase; the client is not read again until all of it was taken. With
/// `backpressure`, nothing is taken either while the client's unsent output is past the high watermark (`resume`
/// on the low one); the PTY has none, since nobody may have it open and what it cannot hold is dropped.
final class RawATInput {
    /// Most bytes one read takes from the client: what can wait here, per client.
    static let maxReadBytes = 16 << 10
    private let commandsPerPass: Int
    private let backpressure: Bool
    private var held: [UInt8] = []
    private var heldStart = 0
    private var nextPass: EndOfPass?
    private weak var connection: (any ByteStream)?
    private var take: ((ArraySlice<UInt8>) -> Void)?

    init(loop: Loop, commandsPerPass: Int, backpressure: Bool = true) throws(LoopError) {
        self.commandsPerPass = max(1, commandsPerPass)
        self.backpressure = backpressure
        nextPass = try EndOfPass(loop: loop)
    }

    private var isBlockedByOutput: Bool { backpressure && connection?.isAboveHighWatermark == true }

    /// The client, and what takes its lines (the modem's input).
    func attach(_ connection: any ByteStream, take: @escaping (ArraySlice<UInt8>) -> Void) {
        self.connection = connection
        self.take = take
    }

    /// A read: nothing more is read until it has been taken, from the end of this pass on.
    func received(_ data: ArraySlice<UInt8>) {
        held.append(contentsOf: data)
        connection?.stopReading()
        nextPass?.arm { [unowned self] in self.takeSlice() }
    }

    /// The client's output fell to the low watermark.
    func resume() {
        guard heldStart < held.count else {
            try? connection?.startReading()
            return
        }
        nextPass?.arm { [unowned self] in self.takeSlice() }
    }

    func close() {
        nextPass?.close()
        nextPass = nil
        take = nil
        held = []
        heldStart = 0
    }

    /// One pass's lines; armed again from the check phase, so the next slice is the next pass's.
    private func takeSlice() {
        guard let connection, connection.isOpen, let take else { return }
        guard !isBlockedByOutput else { return }
        if heldStart < held.count {
            let end = Self.endOfCommands(held[heldStart...], count: commandsPerPass)
            let slice = Array(held[heldStart..<end])
            heldStart = end
            if heldStart == held.count {
                held.removeAll(keepingCapacity: true)
                heldStart = 0
            }
            take(slice[...])
        }
        // Taking may have closed the client (written past its limit) or filled its output.
        guard self.take != nil, connection.isOpen, !isBlockedByOutput else { return }
        if heldStart < held.count {
            nextPass?.arm { [unowned self] in self.takeSlice() }
        } else {
            try? connection.startReading()
        }
    }

    /// Where the line that brings the commands of `bytes` to `count` ends: lines end at CR, Ctrl-Z (an SMS
    /// body's end) or ESC (its abort), and a line counts one command plus one per `;` in it (a `;` inside quotes
    /// or an SMS body counts too: the bound errs towards smaller slices). The end of `bytes` when it holds fewer.
    static func endOfCommands(_ bytes: ArraySlice<UInt8>, count: Int) -> Int {
        var commands = 0
        var lineCommands = 1
        for index in bytes.indices {
            switch bytes[index] {
            case UInt8(ascii: ";"): lineCommands += 1
            case 0x0D, 0x1A, 0x1B:
                commands += lineCommands
                lineCommands = 1
                if commands >= count { return index + 1 }
            default: break
            }
        }
        return bytes.endIndex
    }
}
