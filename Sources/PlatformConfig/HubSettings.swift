/// How the hub itself is reached and bounded.
public struct HubSettings: Sendable, Equatable {
    /// The JSON-RPC control API listens on each of these. Default: loopback TCP 7400 and a Unix socket.
    public var controlEndpoints: [Endpoint]
    /// Shared secret control clients present; required when any control TCP endpoint is not loopback.
    public var controlToken: String?
    /// The guest protocol listens on each of these. Default: loopback TCP 7401 and a Unix socket.
    public var guestEndpoints: [Endpoint]
    /// A connection that has not completed its handshake by then is closed.
    public var handshakeTimeoutMs: Int
    /// Bounds on every queue and buffer the hub keeps.
    public var limits: Limits
    /// `SCHED_FIFO` priority for the hub's loop thread, 1...99, or 0 to leave it at normal scheduling. The hub is
    /// the platform's hypervisor: real-time partitions launched at `SCHED_FIFO` wait for it on every interrupt and
    /// message, so it should run at or above them (see `Deploy/config-reference.md`).
    public var realTimePriority: Int
    /// Where the hub keeps what must survive it (software slots and their journal); nil: nothing is kept.
    public var stateDirectory: String?
    /// The software slots of launched partitions (active with `stateDirectory`).
    public var software = SoftwareSettings()

    public static let defaultControlEndpoints: [Endpoint] = [
        .tcp(host: "127.0.0.1", port: 7400), .unix(path: "/tmp/handsethub/control.sock"),
    ]
    public static let defaultGuestEndpoints: [Endpoint] = [
        .tcp(host: "127.0.0.1", port: 7401), .unix(path: "/tmp/handsethub/guest.sock"),
    ]
    public static let defaultHandshakeTimeoutMs = 5000
    public static let handshakeTimeoutRange = 100...600_000
    public static let realTimePriorityRange = 0...99

    public init(
        controlEndpoints: [Endpoint] = HubSettings.defaultControlEndpoints,
        controlToken: String? = nil,
        guestEndpoints: [Endpoint] = HubSettings.defaultGuestEndpoints,
        handshakeTimeoutMs: Int = HubSettings.defaultHandshakeTimeoutMs,
        limits: Limits = Limits(),
        realTimePriority: Int = 0
    ) {
        self.controlEndpoints = controlEndpoints
        self.controlToken = controlToken
        self.guestEndpoints = guestEndpoints
        self.handshakeTimeoutMs = handshakeTimeoutMs
        self.limits = limits
        self.realTimePriority = realTimePriority
    }
}
