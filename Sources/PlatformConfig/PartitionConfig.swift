/// One guest partition and its policy: scheduling, memory, credentials, what it may reach.
package struct PartitionConfig: Sendable, Equatable {
    /// Unique name; peers, links, regions and devices refer to it.
    package var name: String
    /// Real-time partitions always preempt fair-share ones (YAML key `class`).
    package var schedulingClass: SchedulingClass
    /// 0 is the highest priority, 15 the lowest.
    package var priority: Int
    /// Relative CPU share among fair-share partitions of the same priority.
    package var weight: Int
    /// Guest memory size.
    package var memoryBytes: UInt64
    /// The shared secret the partition's guest authenticates with.
    package var secret: String
    /// When set, `secret` was read from this file at load time, and encoding writes the path, not the secret.
    package var secretFile: String?
    /// Number of cross-interrupt lines of the partition's virtual interrupt controller.
    package var interruptLines: Int
    /// Partitions this one may raise cross-interrupts on.
    package var mayInterrupt: [String]
    /// Partitions this one may send messages to (over a link joining the two).
    package var mayMessage: [String]
    /// Whether the partition's guest may open messaging links at run time (to peers in `mayMessage`).
    package var mayOpenLinks: Bool
    /// Whether the partition's guest may relay management commands to the hub over the `management` device
    /// channel (`Protocols/management.md` §2.3). It relays, it never authorises: every command it relays is
    /// verified like one from the control API.
    package var mayManage = false
    /// Partitions this one may suspend and resume through the guest protocol (`PARTITION_CONTROL`,
    /// `Protocols/power.md` §5): suspend for priority, as a local management agent does during a call.
    package var maySuspend: [String] = []
    /// Whether the partition's guest may activate a policy profile (`POLICY_ACTIVATE`, `Protocols/policy.md`).
    package var mayActivatePolicy = false
    /// Devices the partition may use, and how.
    package var devices: [DeviceGrant]
    /// What the health monitor does when the guest fails.
    package var restart: RestartPolicy
    /// Whether a new guest connection may take over the partition from a connected one.
    package var allowTakeover: Bool
    /// Expected heartbeat period; a guest silent for three periods is declared failed. `nil`: no monitoring.
    package var heartbeatMs: Int?
    /// When set, the hub launches and supervises the partition's guest process.
    package var launch: LaunchConfig?

    package static let priorityRange = 0...15
    package static let defaultWeight = 100
    package static let weightRange = 1...10000
    package static let defaultInterruptLines = 32
    package static let interruptLinesRange = 1...1024
    package static let heartbeatRange = 10...600_000
    /// Guest memory must be whole pages within these bounds.
    package static let memoryRange: ClosedRange<UInt64> = 4096...(64 << 30)
    package static let pageBytes: UInt64 = 4096

    package init(
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
    package func grant(for device: String) -> DeviceGrant? {
        devices.first { $0.device == device }
    }
}

/// How the scheduler treats a partition.
package enum SchedulingClass: String, Sendable, Equatable, CaseIterable {
    /// Strict priority; preempts every fair-share partition.
    case realTime = "real-time"
    /// Weighted fair share below the real-time partitions.
    case fairShare = "fair-share"
}

/// A partition's right to use a device.
package struct DeviceGrant: Sendable, Equatable, Hashable {
    /// Name of a device in `devices` (segment, modem or framebuffer).
    package var device: String
    /// Whether the partition has the device to itself.
    package var access: DeviceAccess

    package init(device: String, access: DeviceAccess) {
        self.device = device
        self.access = access
    }
}

/// Dedicated devices belong to exactly one partition; shared ones may be granted to several.
package enum DeviceAccess: String, Sendable, Equatable, Hashable, CaseIterable {
    case dedicated
    case shared
}

/// What happens when a partition's guest fails (disconnects uncleanly or misses heartbeats).
package struct RestartPolicy: Sendable, Equatable {
    package enum Mode: String, Sendable, Equatable, CaseIterable {
        /// Leave the partition down.
        case never
        /// Restart after a failure, not after a clean stop.
        case onFailure = "on-failure"
        /// Restart whenever the guest stops.
        case always
    }

    package var mode: Mode
    /// At most this many restarts within `windowSeconds`; then the partition stays down.
    package var maxRestarts: Int
    package var windowSeconds: Int
    /// First restart delay; doubles on each further restart up to `backoffMaxMs`.
    package var backoffInitialMs: Int
    package var backoffMaxMs: Int

    package static let maxRestartsRange = 0...1000
    package static let windowRange = 1...86400
    package static let backoffRange = 0...3_600_000

    package init(
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
