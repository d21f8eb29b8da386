import ATWire
import ControlWire
import DeviceKit
import EventLoop
import JSON
import Modem
import ModemSimWire
import PlatformConfig

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

    private func remoteEvent(_ payload: ArraySlice<UInt8>) {
        guard let json = try? JSON.parse(payload), let kind = json["kind"]?.stringValue,
            case .object(let data) = json["data"] ?? .null,
            ["call", "sms.sent", "sms.received", "registration", "dtmf", "settings"].contains(kind)
        else {
            logger.warning("remote modem simulator sent an event the hub does not know")
            return
        }
        switch kind {
        case "call":
            if let id = data["id"]?.intValue {
                remoteCalls[id] = data["ended"] == nil ? data : nil
            }
        case "settings":
            // The host changed something: kept for the next simulator and for the hub's own answers.
            let settings = ModemHostSettings(json: data)
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
        let interval = UInt64(config.backendKeepaliveMs)
        keepaliveTimer?.start(afterMilliseconds: interval, repeatMilliseconds: interval) { [unowned self] in
            guard self.backendUp, self.probe == nil else { return }
            let now = ModemInstance.nowMs()
            guard now &- self.lastHeardMs >= interval else { return }
            self.sendProbe(deadlineMs: now + UInt64(self.config.backendCommandTimeoutMs), command: false)
        }
    }
}
