/// The platform's virtual devices. Device names are unique across all kinds.
package struct DevicesConfig: Sendable, Equatable {
    package var ethernet: [SegmentConfig]
    package var modems: [ModemConfig]
    package var framebuffers: [FramebufferConfig]

    package init(ethernet: [SegmentConfig] = [], modems: [ModemConfig] = [], framebuffers: [FramebufferConfig] = []) {
        self.ethernet = ethernet
        self.modems = modems
        self.framebuffers = framebuffers
    }

    /// Every device name, in declaration order (segments, modems, framebuffers).
    package var allNames: [String] {
        ethernet.map(\.name) + modems.map(\.name) + framebuffers.map(\.name)
    }
}

/// A virtual Ethernet segment (a switch) and its ports.
package struct SegmentConfig: Sendable, Equatable {
    package var name: String
    package var mtu: Int
    package var ports: [EthernetPortConfig]
    /// Seconds a learned MAC address stays valid without being seen.
    package var macAgeingSeconds: Int

    package static let defaultMTU = 1500
    package static let mtuRange = 68...65535
    package static let defaultMACAgeingSeconds = 300
    package static let macAgeingRange = 1...86400

    package init(
        name: String, mtu: Int = SegmentConfig.defaultMTU, ports: [EthernetPortConfig] = [],
        macAgeingSeconds: Int = SegmentConfig.defaultMACAgeingSeconds
    ) {
        self.name = name
        self.mtu = mtu
        self.ports = ports
        self.macAgeingSeconds = macAgeingSeconds
    }
}

/// One port of a segment: a partition's virtual NIC or a named external attachment
/// (`Protocols/ethernet.md` §3). A port with neither is a test port, reached through `eth.inject`/`eth.wait`.
package struct EthernetPortConfig: Sendable, Equatable {
    package var name: String
    /// The partition whose NIC this is (frames travel on its guest session's `CHANNEL` to the segment).
    package var partition: String?
    /// What the port is attached to when it is not a partition's NIC.
    package var attachment: EthernetAttachment?
    /// VLAN membership; `nil` means untagged member of VLAN 1.
    package var vlan: EthernetVLAN?
    /// Isolated ports reach only non-isolated ones.
    package var isolated: Bool
    /// Frames queued towards the port before tail drop.
    package var queueFrames: Int
    /// Bytes queued towards the port before tail drop.
    package var queueBytes: Int = EthernetPortConfig.defaultQueueBytes
    /// A tap port's fixed MAC address (`aa:bb:cc:dd:ee:ff`), set on the interface at start; `nil` leaves the
    /// kernel's (a new random one each time the interface is created).
    package var mac: String?
    /// A tap port's interface survives the hub (TUNSETPERSIST): a restarted hub reopens it, and whatever the
    /// administrator plugged into it (a namespace, a bridge) stays plugged in.
    package var persistent: Bool = false
    /// A named impairment profile applied at start (`EthernetPortConfig.impairmentPresets`).
    package var impairment: String?

    package static let defaultQueueFrames = 1024
    package static let queueFramesRange = 1...65536
    package static let defaultQueueBytes = 1 << 20
    package static let queueBytesRange = 2048...(64 << 20)
    /// The Android emulator profiles plus `full` (no impairment).
    package static let impairmentPresets = ["gsm", "gprs", "edge", "umts", "hsdpa", "lte", "full"]

    package init(
        name: String, partition: String? = nil, attachment: EthernetAttachment? = nil, vlan: EthernetVLAN? = nil,
        isolated: Bool = false, queueFrames: Int = EthernetPortConfig.defaultQueueFrames, impairment: String? = nil
    ) {
        self.name = name
        self.partition = partition
        self.attachment = attachment
        self.vlan = vlan
        self.isolated = isolated
        self.queueFrames = queueFrames
        self.impairment = impairment
    }

    /// Six hex pairs separated by ':', without the group bit (a unicast address an interface can take).
    package static func isValidUnicastMAC(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }) else {
            return false
        }
        guard let first = UInt8(parts[0], radix: 16) else { return false }
        return first & 1 == 0
    }

    /// `guest`, `stream`, `vde`, `dgram`, `tap`, `vxlan` or `test`.
    package var kind: String {
        if partition != nil { return "guest" }
        return attachment?.kind ?? "test"
    }
}

/// A host and UDP port, written `HOST:PORT` (IPv6 in brackets).
package struct UDPAddress: Sendable, Equatable, Hashable, CustomStringConvertible {
    package var host: String
    package var port: UInt16

    package init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    package init(parsing text: String) throws(EndpointParseError) {
        guard case .tcp(let host, let port) = try Endpoint(parsing: "tcp:" + text) else {
            throw EndpointParseError("'\(text)' is not HOST:PORT")
        }
        self.init(host: host, port: port)
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What an external port is plugged into.
package enum EthernetAttachment: Sendable, Equatable {
    /// A QEMU `-netdev stream` listener (4-byte big-endian length prefix), one peer at a time.
    case stream(Endpoint)
    /// A VDE stream cable listener (2-byte big-endian length prefix), one peer at a time.
    case vde(Endpoint)
    /// QEMU `-netdev dgram` / raw UDP: one frame per datagram. Frames go to `remote`, or to the
    /// last sender when `remote` is not set.
    case dgram(local: UDPAddress, remote: UDPAddress?)
    /// A host TAP interface the hub creates (or opens, if it exists) and bridges in.
    case tap(interface: String)
    /// VXLAN (RFC 7348) over UDP to `remotes`; also learns senders carrying `vni`.
    case vxlan(local: UDPAddress, vni: UInt32, remotes: [UDPAddress])

    package var kind: String {
        switch self {
        case .stream: "stream"
        case .vde: "vde"
        case .dgram: "dgram"
        case .tap: "tap"
        case .vxlan: "vxlan"
        }
    }

    package static let vniRange: ClosedRange<UInt32> = 0...0xFF_FFFF
    /// IFNAMSIZ − 1.
    package static let maxInterfaceNameBytes = 15
}

/// A port's 802.1Q membership.
package enum EthernetVLAN: Sendable, Equatable {
    /// Untagged member of one VLAN.
    case access(UInt16)
    /// Tagged member of `allowed` (every VLAN when empty); untagged frames belong to `native`.
    case trunk(allowed: [UInt16], native: UInt16?)

    package static let vidRange: ClosedRange<Int> = 1...4094
}

/// A cellular modem, seen by its owner as an AT-command serial line.
package struct ModemConfig: Sendable, Equatable {
    package var name: String
    /// The partition that drives the modem.
    package var owner: String
    /// SIM PIN; `nil` when the SIM is unlocked.
    package var pin: String?
    /// Where the network side of the modem lives.
    package var backend: ModemBackend
    /// Raw AT listeners (`tcp:`/`unix:`): each accepted connection is a serial line to the modem.
    package var listen: [Endpoint]
    /// A host pseudo-terminal, reachable through this stable symlink; nil for none.
    package var pty: String?
    /// Whether several openers (listeners, PTY, guest channel) may talk to the modem at once.
    package var shared: Bool
    /// The owner's interrupt line raised when an unsolicited result is queued; nil for none.
    package var interruptLine: Int?
    /// Longest AT command line or SMS body, in bytes.
    package var maxLineBytes: Int
    /// The SIM's own number (`+CNUM`).
    package var number: String
    /// The home operator: long name, short name and MCC+MNC.
    package var operatorName: String
    package var operatorShortName: String
    package var operatorNumeric: String
    /// Shared secret of the remote-simulator link: sent in the hello when the hub connects out, required
    /// from the simulator when it connects in (`backend: {listen: …}`). Nil for none.
    package var backendToken: String?
    /// Messages the SIM store holds (`+CPMS` total).
    package var smsCapacity: Int
    /// Calls at once (`+CLCC` ids 1…maxCalls).
    package var maxCalls: Int
    /// Interval between `RING`s of an unanswered incoming call.
    package var ringIntervalMs: Int
    /// AT trace lines kept (newest first out).
    package var traceLines: Int
    /// Whether the echo of what one opener types goes to every opener (`all`) or only to that one.
    package var echo: ModemEchoScope
    /// A remote backend that has not answered a command line (or a keepalive, or its hello) within this
    /// is hung: the host gets an error and the hub redials (Protocols/modem.md §6).
    package var backendCommandTimeoutMs: Int
    /// How often the hub checks an idle remote backend is alive (a `ping` on the link).
    package var backendKeepaliveMs: Int
    /// Host bytes the hub may hold for a remote backend that does not read them; past this it is hung.
    package var backendBacklogBytes: Int

    package static let defaultMaxLineBytes = 2048
    package static let maxLineBytesRange = 64...65536
    package static let defaultSMSCapacity = 30
    package static let smsCapacityRange = 1...255
    package static let defaultMaxCalls = 7
    /// `+CLCC` ids are one digit in `+CHLD=1x/2x`, so 7 is the ceiling real modems use too.
    package static let maxCallsRange = 1...7
    package static let defaultRingIntervalMs = 3000
    package static let ringIntervalMsRange = 100...60000
    package static let defaultTraceLines = 2000
    package static let traceLinesRange = 16...100_000
    package static let defaultBackendCommandTimeoutMs = 5000
    package static let backendCommandTimeoutMsRange = 100...600_000
    package static let defaultBackendKeepaliveMs = 2000
    package static let backendKeepaliveMsRange = 100...600_000
    package static let defaultBackendBacklogBytes = 1 << 20
    package static let backendBacklogBytesRange = 4096...(64 << 20)

    package init(
        name: String, owner: String, pin: String? = nil, backend: ModemBackend = .builtin, listen: [Endpoint] = [],
        pty: String? = nil, shared: Bool = false, interruptLine: Int? = nil,
        maxLineBytes: Int = ModemConfig.defaultMaxLineBytes, number: String = "+15550000001",
        operatorName: String = "HandsetHub Mobile", operatorShortName: String = "HubMob",
        operatorNumeric: String = "00101"
    ) {
        self.name = name
        self.owner = owner
        self.pin = pin
        self.backend = backend
        self.listen = listen
        self.pty = pty
        self.shared = shared
        self.interruptLine = interruptLine
        self.maxLineBytes = maxLineBytes
        self.number = number
        self.operatorName = operatorName
        self.operatorShortName = operatorShortName
        self.operatorNumeric = operatorNumeric
        backendToken = nil
        smsCapacity = ModemConfig.defaultSMSCapacity
        maxCalls = ModemConfig.defaultMaxCalls
        ringIntervalMs = ModemConfig.defaultRingIntervalMs
        traceLines = ModemConfig.defaultTraceLines
        echo = .all
        backendCommandTimeoutMs = ModemConfig.defaultBackendCommandTimeoutMs
        backendKeepaliveMs = ModemConfig.defaultBackendKeepaliveMs
        backendBacklogBytes = ModemConfig.defaultBackendBacklogBytes
    }
}

/// Who sees the echo of typed characters on a shared modem.
package enum ModemEchoScope: String, Sendable, Equatable, CaseIterable {
    /// Every opener (one serial line, as a real modem behind a splitter).
    case all
    /// Only the opener that typed (each opener sees its own line as on a private port).
    case opener
}

/// The network side of a modem.
package enum ModemBackend: Sendable, Equatable, Hashable {
    /// The hub's built-in network simulator.
    case builtin
    /// A remote modem simulator the hub connects to.
    case remote(Endpoint)
    /// The hub listens here and a remote simulator (`hubd modem-sim --connect`) connects in.
    case listen(Endpoint)
}

/// A framebuffer served over RFB (`Protocols/framebuffer.md`).
package struct FramebufferConfig: Sendable, Equatable {
    package var name: String
    package var width: Int
    package var height: Int
    /// 16 or 32.
    package var bitsPerPixel: Int
    /// Where VNC viewers connect (RFB 3.8). Empty: no listener. A non-loopback one requires `password`.
    package var rfbEndpoints: [Endpoint]
    /// VNC authentication password (only the first 8 bytes count); `nil` means security type None.
    package var password: String?
    /// Set when the password came from `passwordFile` (the encoder writes the file name back).
    package var passwordFile: String?
    /// Regions of the screen and who draws them.
    package var layout: [ScreenRegionConfig]
    /// The partition that has input focus when no one preempts.
    package var defaultFocus: String?
    /// Partitions allowed to take the whole screen and the input until they release it.
    package var preemptors: [String]
    /// Line raised on a guest when a frame it finished has been composed (pacing); `nil`: no interrupt.
    package var frameDoneLine: Int?
    /// Line raised on the focused partition with each key or touch event; `nil`: channel data only.
    package var inputLine: Int?
    /// The screen's refresh rate: FRAME_DONE comes at most this often per guest (0: as fast as composed).
    package var refreshHz: Int
    /// Viewers connected at once; more are refused with a reason.
    package var maxViewers: Int
    /// Largest ClientCutText a viewer may announce; a larger one closes that viewer.
    package var maxCutTextBytes: Int

    package static let dimensionRange = 1...8192
    package static let allowedBitsPerPixel = [16, 32]
    package static let refreshRange = 0...240
    package static let maxViewersRange = 1...256
    package static let maxCutTextRange = 0...(16 << 20)
    package static let defaultRefreshHz = 60
    package static let defaultMaxViewers = 16
    package static let defaultMaxCutTextBytes = 64 * 1024

    package init(
        name: String, width: Int, height: Int, bitsPerPixel: Int = 32, rfbEndpoints: [Endpoint] = [],
        password: String? = nil, layout: [ScreenRegionConfig] = [], defaultFocus: String? = nil,
        preemptors: [String] = [], frameDoneLine: Int? = nil, inputLine: Int? = nil,
        refreshHz: Int = FramebufferConfig.defaultRefreshHz, maxViewers: Int = FramebufferConfig.defaultMaxViewers,
        maxCutTextBytes: Int = FramebufferConfig.defaultMaxCutTextBytes
    ) {
        self.name = name
        self.width = width
        self.height = height
        self.bitsPerPixel = bitsPerPixel
        self.rfbEndpoints = rfbEndpoints
        self.password = password
        self.layout = layout
        self.defaultFocus = defaultFocus
        self.preemptors = preemptors
        self.frameDoneLine = frameDoneLine
        self.inputLine = inputLine
        self.refreshHz = refreshHz
        self.maxViewers = maxViewers
        self.maxCutTextBytes = maxCutTextBytes
    }
}

/// One region of a framebuffer's layout: a rectangle one partition draws, stacked by `z` (higher on top).
package struct ScreenRegionConfig: Sendable, Equatable {
    package var name: String
    package var owner: String
    package var x: Int
    package var y: Int
    package var width: Int
    package var height: Int
    package var z: Int

    package init(name: String, owner: String, x: Int, y: Int, width: Int, height: Int, z: Int = 0) {
        self.name = name
        self.owner = owner
        self.x = x
        self.y = y
        self.width = width
        self.height = height
        self.z = z
    }
}
