/// The platform's virtual devices. Device names are unique across all kinds.
public struct DevicesConfig: Sendable, Equatable {
    public var ethernet: [SegmentConfig]
    public var modems: [ModemConfig]
    public var framebuffers: [FramebufferConfig]

    public init(ethernet: [SegmentConfig] = [], modems: [ModemConfig] = [], framebuffers: [FramebufferConfig] = []) {
        self.ethernet = ethernet
        self.modems = modems
        self.framebuffers = framebuffers
    }

    /// Every device name, in declaration order (segments, modems, framebuffers).
    public var allNames: [String] {
        ethernet.map(\.name) + modems.map(\.name) + framebuffers.map(\.name)
    }
}

/// A virtual Ethernet segment (a switch) and its ports.
public struct SegmentConfig: Sendable, Equatable {
    public var name: String
    public var mtu: Int
    public var ports: [EthernetPortConfig]

    public static let defaultMTU = 1500
    public static let mtuRange = 68...65535

    public init(name: String, mtu: Int = SegmentConfig.defaultMTU, ports: [EthernetPortConfig] = []) {
        self.name = name
        self.mtu = mtu
        self.ports = ports
    }
}

/// One port of a segment; a port with a partition is that partition's virtual NIC.
public struct EthernetPortConfig: Sendable, Equatable {
    public var name: String
    /// The partition whose NIC this is; `nil` for a port external tools attach to.
    public var partition: String?

    public init(name: String, partition: String? = nil) {
        self.name = name
        self.partition = partition
    }
}

/// A cellular modem, seen by its owner as an AT-command serial line.
public struct ModemConfig: Sendable, Equatable {
    public var name: String
    /// The partition that drives the modem.
    public var owner: String
    /// SIM PIN; `nil` when the SIM is unlocked.
    public var pin: String?
    /// Where the network side of the modem lives.
    public var backend: ModemBackend
    /// Raw AT listeners (`tcp:`/`unix:`): each accepted connection is a serial line to the modem.
    public var listen: [Endpoint]
    /// A host pseudo-terminal, reachable through this stable symlink; nil for none.
    public var pty: String?
    /// Whether several openers (listeners, PTY, guest channel) may talk to the modem at once.
    public var shared: Bool
    /// The owner's interrupt line raised when an unsolicited result is queued; nil for none.
    public var interruptLine: Int?
    /// Longest AT command line or SMS body, in bytes.
    public var maxLineBytes: Int
    /// The SIM's own number (`+CNUM`).
    public var number: String
    /// The home operator: long name, short name and MCC+MNC.
    public var operatorName: String
    public var operatorShortName: String
    public var operatorNumeric: String

    public static let defaultMaxLineBytes = 2048
    public static let maxLineBytesRange = 64...65536

    public init(
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
    }
}

/// The network side of a modem.
public enum ModemBackend: Sendable, Equatable, Hashable {
    /// The hub's built-in network simulator.
    case builtin
    /// A remote modem simulator the hub connects to.
    case remote(Endpoint)
}

/// A framebuffer served over RFB.
public struct FramebufferConfig: Sendable, Equatable {
    public var name: String
    public var width: Int
    public var height: Int
    /// 16 or 32.
    public var bitsPerPixel: Int

    public static let dimensionRange = 1...8192
    public static let allowedBitsPerPixel = [16, 32]

    public init(name: String, width: Int, height: Int, bitsPerPixel: Int = 32) {
        self.name = name
        self.width = width
        self.height = height
        self.bitsPerPixel = bitsPerPixel
    }
}
