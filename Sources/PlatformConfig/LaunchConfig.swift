/// How `hubd` starts, watches and restarts a partition's guest process (issue 8). Absent: the
/// partition's guest is started by someone else and simply attaches.
public struct LaunchConfig: Sendable, Equatable {
    /// The program and its arguments; the first element is the executable (absolute, or found on PATH).
    public var command: [String]
    /// Extra environment entries, `KEY=VALUE`. The hub adds `HANDSETHUB_GUEST_ENDPOINT`,
    /// `HANDSETHUB_PARTITION` and `HANDSETHUB_SECRET` (never on the command line, where other users could read it).
    public var environment: [String]
    /// Working directory; default: the hub's.
    public var workingDirectory: String?
    /// Also append the guest's stdout and stderr to this file.
    public var logFile: String?
    /// Bytes of recent output kept per partition for `partition.logs`.
    public var logRingBytes: Int
    /// A started guest that has not attached within this time is declared failed to attach.
    public var attachTimeoutMs: Int
    /// Start the guest when the hub starts (else only on `partition.start`).
    public var autoStart: Bool

    public static let defaultLogRingBytes = 64 << 10
    public static let logRingRange = 1024...(16 << 20)
    public static let defaultAttachTimeoutMs = 10_000
    public static let attachTimeoutRange = 100...600_000

    public init(
        command: [String], environment: [String] = [], workingDirectory: String? = nil, logFile: String? = nil,
        logRingBytes: Int = LaunchConfig.defaultLogRingBytes,
        attachTimeoutMs: Int = LaunchConfig.defaultAttachTimeoutMs,
        autoStart: Bool = true
    ) {
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.logFile = logFile
        self.logRingBytes = logRingBytes
        self.attachTimeoutMs = attachTimeoutMs
        self.autoStart = autoStart
    }
}
