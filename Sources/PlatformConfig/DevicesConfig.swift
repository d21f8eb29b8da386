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

    public init(name: String, owner: String, pin: String? = nil, backend: ModemBackend = .builtin) {
        self.name = name
        self.owner = owner
        self.pin = pin
        self.backend = backend
    }
}

/// The network side of a modem.
public enum ModemBackend: Sendable, Equatable, Hashable {
    /// The hub's built-in network simulator.
    case builtin
    /// A remote modem simulator the hub connects to.
    case remote(Endpoint)
}

/// A framebuffer served over RFB (`Protocols/framebuffer.md`).
public struct FramebufferConfig: Sendable, Equatable {
    public var name: String
    public var width: Int
    public var height: Int
    /// 16 or 32.
    public var bitsPerPixel: Int
    /// Where VNC viewers connect (RFB 3.8). Empty: no listener. A non-loopback one requires `password`.
    public var rfbEndpoints: [Endpoint]
    /// VNC authentication password (only the first 8 bytes count); `nil` means security type None.
    public var password: String?
    /// Set when the password came from `passwordFile` (the encoder writes the file name back).
    public var passwordFile: String?
    /// Regions of the screen and who draws them.
    public var layout: [ScreenRegionConfig]
    /// The partition that has input focus when no one preempts.
    public var defaultFocus: String?
    /// Partitions allowed to take the whole screen and the input until they release it.
    public var preemptors: [String]
    /// Line raised on a guest when a frame it finished has been composed (pacing); `nil`: no interrupt.
    public var frameDoneLine: Int?
    /// Line raised on the focused partition with each key or touch event; `nil`: channel data only.
    public var inputLine: Int?
    /// The screen's refresh rate: FRAME_DONE comes at most this often per guest (0: as fast as composed).
    public var refreshHz: Int
    /// Viewers connected at once; more are refused with a reason.
    public var maxViewers: Int
    /// Largest ClientCutText a viewer may announce; a larger one closes that viewer.
    public var maxCutTextBytes: Int

    public static let dimensionRange = 1...8192
    public static let allowedBitsPerPixel = [16, 32]
    public static let refreshRange = 0...240
    public static let maxViewersRange = 1...256
    public static let maxCutTextRange = 0...(16 << 20)
    public static let defaultRefreshHz = 60
    public static let defaultMaxViewers = 16
    public static let defaultMaxCutTextBytes = 64 * 1024

    public init(
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
public struct ScreenRegionConfig: Sendable, Equatable {
    public var name: String
    public var owner: String
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int
    public var z: Int

    public init(name: String, owner: String, x: Int, y: Int, width: Int, height: Int, z: Int = 0) {
        self.name = name
        self.owner = owner
        self.x = x
        self.y = y
        self.width = width
        self.height = height
        self.z = z
    }
}
