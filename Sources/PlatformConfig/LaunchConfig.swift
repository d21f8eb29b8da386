/// How `hubd` starts, watches and restarts a partition's guest process (`Deploy/config-reference.md`,
/// partitions[].launch). Absent: the partition's guest is started by someone else and simply attaches.
package struct LaunchConfig: Sendable, Equatable {
    /// The program and its arguments; the first element is the executable (absolute, or found on PATH).
    /// Empty when `qemu` describes the guest instead.
    package var command: [String]
    /// Boot a QEMU guest instead of running a command: the hub builds QEMU's command line.
    package var qemu: QemuLaunch?
    /// Extra environment entries, `KEY=VALUE`. The hub adds `HANDSETHUB_GUEST_ENDPOINT`,
    /// `HANDSETHUB_PARTITION` and `HANDSETHUB_SECRET` (never on the command line, where other users could read it).
    package var environment: [String]
    /// Working directory; default: the hub's.
    package var workingDirectory: String?
    /// Also append the guest's stdout and stderr to this file.
    package var logFile: String?
    /// The most `logFile` holds: a write that would take it past this renames it to `logFile.1` first.
    package var logFileMaxBytes: Int
    /// Bytes of recent output kept per partition for `partition.logs`.
    package var logRingBytes: Int
    /// A started guest that has not attached within this time is declared failed to attach.
    package var attachTimeoutMs: Int
    /// Start the guest when the hub starts (else only on `partition.start`).
    package var autoStart: Bool

    package static let defaultLogRingBytes = 64 << 10
    package static let defaultLogFileMaxBytes = 8 << 20
    package static let logFileMaxRange = (4 << 10)...(64 << 30)
    package static let logRingRange = 1024...(16 << 20)
    package static let defaultAttachTimeoutMs = 10_000
    package static let attachTimeoutRange = 100...600_000

    package init(
        command: [String], environment: [String] = [], workingDirectory: String? = nil, logFile: String? = nil,
        logFileMaxBytes: Int = LaunchConfig.defaultLogFileMaxBytes,
        logRingBytes: Int = LaunchConfig.defaultLogRingBytes,
        attachTimeoutMs: Int = LaunchConfig.defaultAttachTimeoutMs,
        autoStart: Bool = true
    ) {
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.logFile = logFile
        self.logFileMaxBytes = logFileMaxBytes
        self.logRingBytes = logRingBytes
        self.attachTimeoutMs = attachTimeoutMs
        self.autoStart = autoStart
    }
}

/// A QEMU guest as a partition (`Deploy/config-reference.md`, partitions[].launch.qemu): its NIC is one of the
/// platform's Ethernet stream ports and its serial line is the partition's modem or its console. A QEMU guest does not
/// speak the guest protocol, so it counts as running once QEMU has started; its serial console output goes to the
/// partition's log.
package struct QemuLaunch: Sendable, Equatable {
    package enum Serial: String, Sendable, CaseIterable {
        /// The serial line is the guest's console, captured in the partition's log.
        case console
        /// The serial line is the partition's modem (through the modem's first Unix AT listener).
        case modem
    }

    package var binary: String
    package var kernel: String
    package var initrd: String?
    package var append: String
    package var memoryMiB: Int
    /// `SEGMENT/PORT`: a `stream` port of that segment whose listener QEMU connects to.
    package var nic: String
    /// The NIC's MAC address; QEMU's default when nil.
    package var mac: String?
    package var serial: Serial
    /// Extra QEMU arguments, appended as given.
    package var extraArguments: [String]

    package static let memoryRange = 16...65536

    package init(
        binary: String = "qemu-system-x86_64", kernel: String, initrd: String? = nil, append: String = "console=ttyS0",
        memoryMiB: Int = 256, nic: String, mac: String? = nil, serial: Serial = .console, extraArguments: [String] = []
    ) {
        self.binary = binary
        self.kernel = kernel
        self.initrd = initrd
        self.append = append
        self.memoryMiB = memoryMiB
        self.nic = nic
        self.mac = mac
        self.serial = serial
        self.extraArguments = extraArguments
    }
}
