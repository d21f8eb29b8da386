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
    /// The latest `/metrics` text and when its build ended, served again for `httpMetricsReuseMs`
    /// (`currentMetricsText`); `reuseTimer` lets it go when that has passed, so an idle listener holds none.
    private var builtMetrics: (endedNs: UInt64, body: [UInt8])?
    private var reuseTimer: Timer?

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
        do {
            reuseTimer = try Timer(loop: host.loop)
        } catch {
            throw .loop(error)
        }
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
        reuseTimer?.close()
        reuseTimer = nil
        builtMetrics = nil
    }

    /// The `/metrics` text for a request now: the one built within `httpMetricsReuseMs`, else a new one. A build
    /// reads every device's control answers in one loop pass and grows with the platform (ports, links,
    /// partitions); however many clients scrape, the loop pays for at most one build per period, and clients
    /// answered in the same pass share it (the period starts when the build ends) (`Protocols/http.md` §4).
    func currentMetricsText() -> [UInt8] {
        let reuseMs = host.limits.httpMetricsReuseMs
        let started = MonotonicClock.nanoseconds()
        if let builtMetrics, started &- builtMetrics.endedNs < UInt64(reuseMs) &* 1_000_000 {
            counters.metricsReused += 1
            return builtMetrics.body
        }
        let body = metricsText()
        let ended = MonotonicClock.nanoseconds()
        counters.metricsBuilt += 1
        counters.metricsLongestBuildUs = max(counters.metricsLongestBuildUs, (ended &- started) / 1000)
        guard reuseMs > 0 else { return body }
        builtMetrics = (ended, body)
        releaseMetrics(afterMs: UInt64(reuseMs))
        return body
    }

    /// Lets the text go once its period has passed. The timer counts from the loop's time at the start of the
    /// pass, earlier than the build's end by the pass so far: when it fires early, it waits out the rest.
    private func releaseMetrics(afterMs milliseconds: UInt64) {
        reuseTimer?.start(afterMilliseconds: milliseconds) { [unowned self] in
            guard let built = self.builtMetrics else { return }
            let periodNs = UInt64(self.host.limits.httpMetricsReuseMs) &* 1_000_000
            let age = MonotonicClock.nanoseconds() &- built.endedNs
            if age >= periodNs {
                self.builtMetrics = nil
            } else {
                self.releaseMetrics(afterMs: (periodNs - age + 999_999) / 1_000_000)
            }
        }
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
            "metricsReuseMs": .int(Int64(limits.httpMetricsReuseMs)),
        ]
    }

    var headLimits: HTTPHeadLimits {
        let limits = host.limits
        return HTTPHeadLimits(
            maxHeadBytes: limits.httpMaxRequestHeadBytes, maxRequestLineBytes: limits.httpMaxRequestLineBytes,
            maxHeaders: limits.httpMaxHeaders)
    }
}
