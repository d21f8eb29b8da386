/// How the hub itself is reached and bounded.
package struct HubSettings: Sendable, Equatable {
    /// The JSON-RPC control API listens on each of these. Default: loopback TCP 7400 and a Unix socket.
    package var controlEndpoints: [Endpoint]
    /// Shared secret control clients present; required when any control TCP endpoint is not loopback.
    package var controlToken: String?
    /// The guest protocol listens on each of these. Default: loopback TCP 7401 and a Unix socket.
    package var guestEndpoints: [Endpoint]
    /// A connection that has not completed its handshake by then is closed.
    package var handshakeTimeoutMs: Int
    /// Bounds on every queue and buffer the hub keeps.
    package var limits: Limits
    /// `SCHED_FIFO` priority for the hub's loop thread, 1...99, or 0 to leave it at normal scheduling. The hub is
    /// the platform's hypervisor: real-time partitions launched at `SCHED_FIFO` wait for it on every interrupt and
    /// message, so it should run at or above them (see `Deploy/config-reference.md`).
    package var realTimePriority: Int
    /// Where the hub keeps its trusted state (management counters, keys, audit log): a directory no partition
    /// may write (`Protocols/management.md` §5). Nil: no management state, so no authorities may be configured.
    package var stateDirectory: String? = nil
    /// The HTTP listener (`Protocols/http.md`: `/metrics`, `/healthz`, `/readyz`) listens on each of these.
    /// Default: none.
    package var httpEndpoints: [Endpoint] = []
    /// Bearer token `/metrics` asks for on an HTTP endpoint off loopback (`Protocols/http.md` §5); when unset,
    /// `controlToken` is asked for there. One of the two is required when an HTTP TCP endpoint is not loopback.
    package var httpToken: String?
    /// The software slots of launched partitions (active with `stateDirectory`; `Protocols/management.md`, Images).
    package var software = SoftwareSettings()

    /// The token `/metrics` asks for off loopback: `httpToken`, else `controlToken`.
    package var effectiveHTTPToken: String? { httpToken ?? controlToken }

    package static let defaultControlEndpoints: [Endpoint] = [
        .tcp(host: "127.0.0.1", port: 7400), .unix(path: "/tmp/handsethub/control.sock"),
    ]
    package static let defaultGuestEndpoints: [Endpoint] = [
        .tcp(host: "127.0.0.1", port: 7401), .unix(path: "/tmp/handsethub/guest.sock"),
    ]
    package static let defaultHandshakeTimeoutMs = 5000
    package static let handshakeTimeoutRange = 100...600_000
    package static let realTimePriorityRange = 0...99

    package init(
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
