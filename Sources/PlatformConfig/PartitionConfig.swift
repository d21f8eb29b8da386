/// One guest partition and its policy: scheduling, memory, credentials, what it may reach.
public struct PartitionConfig: Sendable, Equatable {
    /// Unique name; peers, links, regions and devices refer to it.
    public var name: String
    /// Real-time partitions always preempt fair-share ones (YAML key `class`).
    public var schedulingClass: SchedulingClass
    /// 0 is the highest priority, 15 the lowest.
    public var priority: Int
    /// Relative CPU share among fair-share partitions of the same priority.
    public var weight: Int
    /// Guest memory size.
    public var memoryBytes: UInt64
    /// The shared secret the partition's guest authenticates with.
    public var secret: String
    /// When set, `secret` was read from this file at load time, and encoding writes the path, not the secret.
    public var secretFile: String?
    /// Number of cross-interrupt lines of the partition's virtual interrupt controller.
    public var interruptLines: Int
    /// Partitions this one may raise cross-interrupts on.
    public var mayInterrupt: [String]
    /// Partitions this one may send messages to (over a link joining the two).
    public var mayMessage: [String]
    /// Whether the partition's guest may open messaging links at run time (to peers in `mayMessage`).
    public var mayOpenLinks: Bool
    /// Whether the partition's guest may relay management commands to the hub over the `management` device
    /// channel (`Protocols/management.md` §2.3). It relays, it never authorises: every command it relays is
    /// verified like one from the control API.
    package var mayManage = false
    /// Devices the partition may use, and how.
    public var devices: [DeviceGrant]
    /// What the health monitor does when the guest fails.
    public var restart: RestartPolicy
    /// Whether a new guest connection may take over the partition from a connected one.
    public var allowTakeover: Bool
    /// Expected heartbeat period; a guest silent for three periods is declared failed. `nil`: no monitoring.
    public var heartbeatMs: Int?
    /// When set, the hub launches and supervises the partition's guest process.
    public var launch: LaunchConfig?

    public static let priorityRange = 0...15
    public static let defaultWeight = 100
    public static let weightRange = 1...10000
    public static let defaultInterruptLines = 32
    public static let interruptLinesRange = 1...1024
    public static let heartbeatRange = 10...600_000
    /// Guest memory must be whole pages within these bounds.
    public static let memoryRange: ClosedRange<UInt64> = 4096...(64 << 30)
    public static let pageBytes: UInt64 = 4096

    public init(
        name: String,
        schedulingClass: SchedulingClass,
        priority: Int,
        weight: Int = PartitionConfig.defaultWeight,
        memoryBytes: UInt64,
        secret: String,
        secretFile: String? = nil,
        interruptLines: Int = PartitionConfig.defaultInterruptLines,
        mayInterrupt: [String] = [],
        mayMessage: [String] = [],
        mayOpenLinks: Bool = false,
        devices: [DeviceGrant] = [],
        restart: RestartPolicy = RestartPolicy(),
        allowTakeover: Bool = false,
        heartbeatMs: Int? = nil,
        launch: LaunchConfig? = nil
    ) {
        self.launch = launch
        self.name = name
        self.schedulingClass = schedulingClass
        self.priority = priority
        self.weight = weight
        self.memoryBytes = memoryBytes
        self.secret = secret
        self.secretFile = secretFile
        self.interruptLines = interruptLines
        self.mayInterrupt = mayInterrupt
        self.mayMessage = mayMessage
        self.mayOpenLinks = mayOpenLinks
        self.devices = devices
        self.restart = restart
        self.allowTakeover = allowTakeover
        self.heartbeatMs = heartbeatMs
    }

    /// The grant for device `name`, if the partition has one.
    public func grant(for device: String) -> DeviceGrant? {
        devices.first { $0.device == device }
    }
}

/// How the scheduler treats a partition.
public enum SchedulingClass: String, Sendable, Equatable, CaseIterable {
    /// Strict priority; preempts every fair-share partition.
    case realTime = "real-time"
    /// Weighted fair share below the real-time partitions.
    case fairShare = "fair-share"
}

/// A partition's right to use a device.
public struct DeviceGrant: Sendable, Equatable, Hashable {
    /// Name of a device in `devices` (segment, modem or framebuffer).
    public var device: String
    /// Whether the partition has the device to itself.
    public var access: DeviceAccess

    public init(device: String, access: DeviceAccess) {
        self.device = device
        self.access = access
    }
}

/// Dedicated devices belong to exactly one partition; shared ones may be granted to several.
public enum DeviceAccess: String, Sendable, Equatable, Hashable, CaseIterable {
    case dedicated
    case shared
}

/// What happens when a partition's guest fails (disconnects uncleanly or misses heartbeats).
public struct RestartPolicy: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// Leave the partition down.
        case never
        /// Restart after a failure, not after a clean stop.
        case onFailure = "on-failure"
        /// Restart whenever the guest stops.
        case always
    }

    public var mode: Mode
    /// At most this many restarts within `windowSeconds`; then the partition stays down.
    public var maxRestarts: Int
    public var windowSeconds: Int
    /// First restart delay; doubles on each further restart up to `backoffMaxMs`.
    public var backoffInitialMs: Int
    public var backoffMaxMs: Int

    public static let maxRestartsRange = 0...1000
    public static let windowRange = 1...86400
    public static let backoffRange = 0...3_600_000

    public init(
        mode: Mode = .onFailure, maxRestarts: Int = 3, windowSeconds: Int = 60, backoffInitialMs: Int = 100,
        backoffMaxMs: Int = 10000
    ) {
        self.mode = mode
        self.maxRestarts = maxRestarts
        self.windowSeconds = windowSeconds
        self.backoffInitialMs = backoffInitialMs
        self.backoffMaxMs = backoffMaxMs
    }
}
