import DeviceKit
import EventLoop
import HTTPWire
import JSON
import PlatformConfig

/// The hub's HTTP listener (`Protocols/http.md`): `GET /metrics` (Prometheus text), `GET /healthz`,
/// `GET /readyz`, for monitoring systems and orchestrators. Off by default (`hub.httpEndpoints`).
///
/// Files of this module (`Sources/ARCHITECTURE.md`, "Where a new device goes"): this one (the device, its
/// listeners, start and stop, `hub.limits`), `HTTPAttachments.swift` (one connection: its request head, its
/// route, its answer), `HTTPMethods.swift` (`http.status`), `HTTPCounters.swift` (requests by status, and the
/// metrics gathered from the hub's control answers). It has no guest channel and no `*.wait`, so no
/// `HTTPWaits.swift`.
package final class HTTPDevice: HubDevice {
    package let familyName = "http"
    /// The hub, from `start` on (it outlives its devices).
    private(set) unowned var host: (any DeviceHost)!
    private(set) var gate: AdmissionGate?
    private(set) var listeners: [any StreamListener] = []
    /// Open connections by identity, so `stop` can close them.
    var connections: [ObjectIdentifier: HTTPConnection] = [:]
    let counters = HTTPCounters()

    package init() {}

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        let hub = host.configuration.hub
        guard !hub.httpEndpoints.isEmpty else { return }
        let limits = host.limits
        let gate = host.admissionGate(
            "http",
            AdmissionPolicy(
                maxPending: limits.httpMaxPending, maxAuthenticated: limits.httpMaxClients,
                handshakeMs: limits.httpHandshakeMs, idleMs: limits.httpResponseMs, pendingLimit: "httpMaxPending",
                authenticatedLimit: "httpMaxClients"))
        self.gate = gate
        for (index, endpoint) in hub.httpEndpoints.enumerated() {
            // Off loopback `/metrics` asks for the token (`Protocols/http.md` §5); the probes stay open.
            let token = endpoint.isLoopback ? nil : hub.effectiveHTTPToken
            do {
                let listener = try host.listen(on: endpoint, gate: gate) { [unowned self] stream in
                    self.accept(stream, token: token)
                }
                listeners.append(listener)
            } catch {
                throw .listen(entry: "hub.httpEndpoints[\(index)]", endpoint: endpoint, error)
            }
        }
        host.register(methods)
    }

    package func stop() {
        for listener in listeners { listener.close() }
        listeners.removeAll()
        for connection in Array(connections.values) { connection.close() }
        connections.removeAll()
    }

    /// Where each listener is bound (the real port when the configuration said port 0).
    package var boundEndpoints: [Endpoint] { listeners.map(\.boundEndpoint) }

    package var limitsJSON: JSON {
        let limits = host.limits
        return [
            "endpoints": .int(Int64(listeners.count)),
            "maxRequestHeadBytes": .int(Int64(limits.httpMaxRequestHeadBytes)),
            "maxRequestLineBytes": .int(Int64(limits.httpMaxRequestLineBytes)),
            "maxHeaders": .int(Int64(limits.httpMaxHeaders)),
            "maxResponseBytes": .int(Int64(limits.httpMaxResponseBytes)),
        ]
    }

    var headLimits: HTTPHeadLimits {
        let limits = host.limits
        return HTTPHeadLimits(
            maxHeadBytes: limits.httpMaxRequestHeadBytes, maxRequestLineBytes: limits.httpMaxRequestLineBytes,
            maxHeaders: limits.httpMaxHeaders)
    }
}
