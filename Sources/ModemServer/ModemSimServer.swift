import ControlWire
import DeviceKit
import EventLoop
import HubSystem
import JSON
import Logging
import Modem
import ModemSimWire
import PlatformConfig

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
