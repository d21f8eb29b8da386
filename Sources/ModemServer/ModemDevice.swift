import ATWire
import DeviceKit
import EventLoop
import GuestWire
import JSON
import Logging
import Modem
import ModemSimWire
import PlatformConfig

/// The modem family: one `ModemInstance` per `devices.modems[]` entry (Protocols/modem.md).
///
/// Files of this module (`Sources/ARCHITECTURE.md`, "Where a new device goes"): this one (the device and each
/// modem's core: backend, data paths, events), `ModemAttachments.swift` (everything that attaches to a modem:
/// raw AT listeners, the host PTY, the guest channel, the link to a remote simulator and `hubd modem-sim`, the
/// simulator's side of it), `ModemMethods.swift` (the `modem.*` methods and the network-side operations the
/// remote simulator's control frames share), `ModemWaits.swift` (`modem.wait`), `ModemCounters.swift` (what a
/// modem counts, as JSON, and its AT trace).
package final class ModemDevice: HubDevice {
    package var familyName: String { "modem" }
    private(set) var instances: [String: ModemInstance] = [:]
    private var order: [String] = []
    /// The hub, from `start` on (it outlives its devices).
    private(set) unowned var host: (any DeviceHost)!
    /// Pending `modem.wait` calls, across the family's modems (`ModemWaits.swift`).
    private(set) var waits: DeferredWaits<ModemWait>!

    package init() {}

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        // The name and reason `modem.wait` has always refused with (`Protocols/control.md` §14.14), under the
        // one rule of every wait (`controlMaxWaiters` per family, §8).
        waits = host.makeWaits(limitName: "modemWaits", reason: "too_many_waits")
        for config in host.configuration.devices.modems {
            let instance = ModemInstance(config: config, device: self)
            instances[config.name] = instance
            order.append(config.name)
            try instance.start()
        }
        host.register(methods)
    }

    package func stop() {
        waits?.finishAll(.error(.unavailable("the hub is shutting down")))
        waits?.close()
        for name in order { instances[name]?.stop() }
    }

    var allInstances: [ModemInstance] { order.compactMap { instances[$0] } }

    /// The owner of a modem died: its calls end, so the network side is told instead of
    /// holding a call no one will ever hang up. The modem itself stays up for the restarted owner.
    package func partitionDetached(_ partition: String) {
        for instance in allInstances where instance.config.owner == partition {
            guard let simulator = instance.simulator, !simulator.currentCalls.isEmpty else { continue }
            instance.logger.info("\(partition) detached: ending its calls on \(instance.config.name)")
            simulator.ownerLost()
            instance.pump()
        }
    }

    package var channelDeviceNames: [String] { order }

    package func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: any GuestChannelEndpoint)
        -> Result<any GuestChannel, GuestChannelRefusal>
    {
        guard let instance = instances[device] else {
            return .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "no modem \(device)"))
        }
        return instance.openChannel(endpoint: endpoint)
    }

    package var limitsJSON: JSON {
        var object: JSONObject = [:]
        for instance in allInstances { object[instance.config.name] = instance.limitsJSON }
        return .object(object)
    }
}

/// One modem: its backend (the built-in simulator or a relay to a remote one), its openers (AT
/// listeners, the PTY, the guest channel) and the AT trace; its `modem.wait` calls are the family's.
final class ModemInstance {
    let config: ModemConfig
    unowned let device: ModemDevice
    let simulator: ModemSimulator?
    var logger: Logger

    struct Opener {
        let kind: String
        let write: ([UInt8]) -> Void
        let close: () -> Void
        /// For raw AT sockets: tells the client the owner took the modem and hangs up (`Protocols/modem.md`).
        var displace: (() -> Void)? = nil
    }
    /// Admission of the raw AT listeners (`DeviceKit`'s `Admission.swift`); set in `start`.
    var gate: AdmissionGate!
    var openers: [Int: Opener] = [:]
    var nextOpenerID = 1
    var listeners: [any StreamListener] = []
    var pty: PseudoTerminal?
    /// The PTY's input, sliced per pass as a raw socket client's is.
    var ptyInput: RawATInput?
    private var simulatorTimer: Timer?
    var trace: ModemTrace
    var stopped = false
    var urcCount: UInt64 = 0
    /// Raw AT socket clients closed for leaving more than `modemOpenerMaxUnsentBytes` of output unread.
    var openersClosedNotReading: UInt64 = 0
    /// Output the PTY dropped past `modemOpenerMaxUnsentBytes` (nobody read the port).
    var ptyDroppedBytes: UInt64 = 0

    // Remote backend (ModemAttachments.swift, the remote-simulator link).
    var remoteConnection: (any ByteStream)?
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
    /// What the link counts (`ModemCounters.swift`, `modem.list` `backendLink`).
    var link = ModemLinkCounters()
    var backendEverUp = false
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

    init(config: ModemConfig, device: ModemDevice) {
        self.config = config
        self.device = device
        trace = ModemTrace(capacity: config.traceLines)
        logger = device.host.logger
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

    /// The hub (it outlives its devices and their modems).
    var host: any DeviceHost { device.host }

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
        try startAttachments()
        try startRemote()
    }

    func stop() {
        stopped = true
        stopAttachments()
        simulatorTimer?.close()
        simulatorTimer = nil
        stopRemote()
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
            forwardToRemote(bytes, on: remoteConnection)
        } else {
            answerWhileDown(bytes)
        }
    }

    /// Host input for the remote simulator (Protocols/modem.md §6.1, §6.3).
    private func forwardToRemote(_ bytes: ArraySlice<UInt8>, on remoteConnection: any ByteStream) {
        _ = remoteConnection.write(ModemSimFrame.encodeAT(Array(bytes)))
        if bytes.contains(0x0D) || bytes.contains(0x1A) || bytes.contains(0x1B) { commandForwarded() }
        // A simulator that does not read is as good as hung: the hub holds no more than the budget.
        if remoteConnection.backlogBytes > config.backendBacklogBytes {
            link.overflows += 1
            // What the host typed is lost with the link: its line gets the hub's error now.
            remoteCommandInFlight = true
            linkClosed(
                remoteConnection,
                reason: "the simulator left more than \(config.backendBacklogBytes) bytes of host input unread")
        }
    }

    /// The remote simulator is away: every command line gets a clear final result at once, echoed
    /// and formatted as the host set the modem up (`ATE`, `ATV`, `ATQ`, `+CMEE`).
    private func answerWhileDown(_ bytes: ArraySlice<UInt8>) {
        var echo: [UInt8] = []
        let events = downAssembler.feed(bytes, echoOut: &echo)
        broadcast(echo)
        for event in events {
            if case .promptBody = event {
            } else if case .promptAborted = event {
            } else {
                link.hostErrors += 1
                broadcast(hostErrorBytes)
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
        if simulatorTimer == nil { simulatorTimer = try? Timer(loop: host.loop) }
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
        host.publish("modem.\(kind)", partition: config.owner, device: config.name, data: .object(data))
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
        host.raiseInterrupt(from: config.name, to: config.owner, line: line)
    }
}

extension ByteStream {
    /// Bytes written to the link and not yet handed to the kernel, which the backlog budget counts
    /// (Protocols/modem.md §6.3): libuv's write queue for a real connection, the queued bytes for another
    /// stream (a test's fake).
    var backlogBytes: Int { (self as? Connection)?.unsentBytes ?? queuedWriteBytes }
}
