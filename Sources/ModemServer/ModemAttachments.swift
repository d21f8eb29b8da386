import DeviceKit
import EventLoop
import GuestWire
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

    func stopAttachments() {
        for listener in listeners { listener.close() }
        listeners.removeAll()
        for opener in openers.values { opener.close() }
        openers.removeAll()
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

    /// Serves an admitted raw AT client: its bytes are the modem's input, the modem's output is written to it.
    private func attachRaw(_ connection: any ByteStream, slot: AdmissionSlot) {
        var id = 0
        let hangUp: (String) -> Void = { [unowned self, weak connection] line in
            slot.release()
            self.removeOpener(id)
            guard let connection else { return }
            connection.onData = nil
            connection.onEnd = nil
            connection.onLowWatermark = nil
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
        // A client that types but never reads its answers (`Sources/ARCHITECTURE.md`, "Backpressure"): it is not
        // read while its unsent answers are past the high watermark, so its own commands cannot grow them.
        connection.highWatermark = host.limits.writeHighWatermarkBytes
        connection.lowWatermark = host.limits.writeLowWatermarkBytes
        connection.onData = { [unowned self, weak connection] data in
            slot.noteActivity()
            self.input(data, from: id)
            if let connection, connection.isAboveHighWatermark { connection.stopReading() }
        }
        connection.onLowWatermark = { [weak connection] in try? connection?.startReading() }
        connection.onEnd = { _ in hangUp("") }
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
            host.configuration.partition(named: endpoint.partition)?.grant(for: config.name) != nil
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
