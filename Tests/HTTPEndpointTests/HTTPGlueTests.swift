import ControlWire
import DeviceKit
import DeviceKitTesting
import EventLoop
import Glibc
import HTTPEndpoint
import JSON
import PlatformConfig
import Testing

/// The HTTP listener's glue (`Protocols/http.md`) driven in process without sockets: clients are
/// `FakeByteStream`s on the device's fake listener, the hub's control answers come from
/// `FakeDeviceHost.otherMethods`.
@Suite struct HTTPGlueTests {
    static let local = Endpoint.tcp(host: "127.0.0.1", port: 9100)
    static let remote = Endpoint.tcp(host: "0.0.0.0", port: 9100)
    static let token = "a-metrics-token-0123456789"

    struct Bench {
        let host: FakeDeviceHost
        let device = HTTPDevice()
        let caller = FakeControlCaller()

        init(_ adjust: (inout PlatformConfiguration) -> Void = { _ in }) throws {
            var configuration = PlatformConfiguration.reference
            configuration.hub.httpEndpoints = [HTTPGlueTests.local]
            adjust(&configuration)
            host = try FakeDeviceHost(configuration: configuration)
            host.otherMethods = HTTPGlueTests.hubAnswers
            try device.start(host: host)
        }

        /// Sends `request` (optionally a byte at a time) and returns what the device wrote and whether it closed.
        func exchange(_ request: String, on endpoint: Endpoint = HTTPGlueTests.local, byteAtATime: Bool = false)
            throws -> (text: String, closed: Bool)
        {
            let client = try #require(host.connect(to: endpoint, kind: .tcp))
            if byteAtATime {
                for byte in request.utf8 { client.receive([byte]) }
            } else {
                client.receive(Array(request.utf8))
            }
            host.runPasses(2)
            return (String(decoding: client.takeWritten(), as: UTF8.self), !client.isOpen)
        }

        func status() -> JSON? {
            guard case .result(let result) = caller.call(host.methods, "http.status", [:]) else { return nil }
            return result
        }

        func stop() -> Int32 {
            device.stop()
            return host.shutdown()
        }
    }

    /// What the hub's own methods answer, as far as `/metrics` reads them (`Protocols/control.md`).
    static func hubAnswers(_ method: String, _ params: JSON?) -> JSON? {
        switch method {
        case "hub.info":
            return [
                "version": "9.9.9", "platform": "test \"handset\"", "uptimeMs": 1500,
                "loop": ["passes": 10, "longestPassUs": 2000, "p99PassUs": 1000, "stalls": 1],
            ]
        case "partition.list":
            return ["partitions": [["name": "rtos", "attached": true], ["name": "linux", "attached": false]]]
        case "partition.get":
            let name = params?["name"]?.stringValue ?? ""
            return [
                "name": .string(name), "state": name == "rtos" ? "running" : "waiting",
                "supervisor": name == "rtos" ? ["restarts": 2] : .null,
                "counters": ["irqRaised": 5, "irqDelivered": 4, "msgQueued": 7, "msgDelivered": 6],
            ]
        default:
            return newDeviceAnswers(method, params)
        }
    }

    /// The devices merged after `/metrics` first shipped: power, error logs, policy, provisioning, link rates.
    static func newDeviceAnswers(_ method: String, _ params: JSON?) -> JSON? {
        switch method {
        case "link.list":
            return ["links": [["name": "rtos-linux"]]]
        case "link.get":
            return [
                "name": "rtos-linux",
                "queues": [
                    ["from": "rtos", "to": "linux", "depth": 1, "capacity": 8, "rateLimited": 0],
                    ["from": "linux", "to": "rtos", "depth": 0, "capacity": 8, "rateLimited": 3],
                ],
                "counters": ["sent": 9, "delivered": 8, "dropped": 1, "rateLimited": 3, "sequenceGaps": 1],
            ]
        case "power.status":
            return [
                "platform": "idle", "battery": ["levelPercent": 42.5], "drawMw": 1250,
                "partitions": ["rtos": ["state": "idle"], "linux": ["state": "off"]],
                "counters": ["timeInStateMs": ["on": 1500, "idle": 250, "suspend": 0], "wakeups": ["irq": 4]],
            ]
        case "errors.status":
            return [
                "partitions": ["rtos": ["count": 3, "dropped": 2], "linux": ["count": 0, "dropped": 0]],
                "counters": ["reportsRateLimited": 7],
            ]
        case "policy.status":
            return ["profile": "in-call", "activations": 2, "refused": 1]
        case "provisioning.status":
            return [
                "budgets": [["authority": "fleet"], ["authority": "lab"]],
                "partitions": [
                    ["partition": "fleet-a", "authority": "fleet"], ["partition": "fleet-b", "authority": "fleet"],
                ],
                "counters": ["provisioned": 2, "deprovisioned": 0, "refused": 5],
            ]
        default:
            return nil
        }
    }

    @Test func healthzIsOkAndTheConnectionCloses() throws {
        let bench = try Bench()
        let answer = try bench.exchange("GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
        #expect(answer.text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.text.hasSuffix("Connection: close\r\n\r\nok\n"))
        #expect(answer.closed)
        #expect(bench.status()?["answers"]?["200"] == 1)
        #expect(bench.stop() == 0)
    }

    @Test func readyzFollowsTheHub() throws {
        let bench = try Bench()
        bench.host.isReady = false
        #expect(try bench.exchange("GET /readyz HTTP/1.1\r\nHost: h\r\n\r\n").text.hasPrefix("HTTP/1.1 503 "))
        bench.host.isReady = true
        #expect(try bench.exchange("GET /readyz HTTP/1.1\r\nHost: h\r\n\r\n").text.hasPrefix("HTTP/1.1 200 "))
        #expect(bench.stop() == 0)
    }

    @Test func metricsByteAtATimeCarryTheHubsAnswers() throws {
        let bench = try Bench()
        let answer = try bench.exchange("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n", byteAtATime: true)
        #expect(answer.text.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        let body = answer.text.split(separator: "\r\n\r\n", maxSplits: 1).last.map(String.init) ?? ""
        let lines = body.split(separator: "\n").map(String.init)
        #expect(lines.contains(#"handsethub_info{version="9.9.9",platform="test \"handset\""} 1"#))
        #expect(lines.contains(#"handsethub_partition_state{partition="rtos",state="running"} 1"#))
        #expect(lines.contains(#"handsethub_partition_restarts_total{partition="rtos"} 2"#))
        #expect(lines.contains(#"handsethub_partition_interrupts_total{partition="rtos",outcome="raised"} 5"#))
        #expect(lines.contains("handsethub_loop_pass_longest_seconds 0.002"))
        #expect(lines.contains("handsethub_loop_stalls_total 1"))
        // One HELP and one TYPE per family.
        let types = lines.filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(Set(types).count == types.count)
        #expect(types.contains("handsethub_http_requests_total"))
        #expect(bench.stop() == 0)
    }

    @Test func metricsCoverPowerErrorLogsPolicyProvisioningAndLinkRates() throws {
        let bench = try Bench()
        let answer = try bench.exchange("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n")
        let body = answer.text.split(separator: "\r\n\r\n", maxSplits: 1).last.map(String.init) ?? ""
        let lines = Set(body.split(separator: "\n").map(String.init))
        for line in [
            #"handsethub_power_platform_state{state="idle"} 1"#, #"handsethub_power_platform_state{state="on"} 0"#,
            "handsethub_power_battery_level_ratio 0.425", "handsethub_power_draw_watts 1.25",
            #"handsethub_power_state_seconds_total{state="on"} 1.5"#,
            #"handsethub_power_wakeups_total{source="irq"} 4"#,
            #"handsethub_power_wakeups_total{source="call"} 0"#,
            #"handsethub_power_partition_state{partition="rtos",state="idle"} 1"#,
            #"handsethub_power_partition_state{partition="linux",state="off"} 1"#,
            #"handsethub_power_partition_state{partition="linux",state="active"} 0"#,
            #"handsethub_errorlog_entries{partition="rtos"} 3"#,
            #"handsethub_errorlog_dropped_total{partition="rtos"} 2"#,
            "handsethub_errorlog_reports_rate_limited_total 7",
            #"handsethub_policy_profile_info{profile="in-call"} 1"#, "handsethub_policy_activations_total 2",
            "handsethub_policy_refusals_total 1",
            #"handsethub_provisioned_partitions{authority="fleet"} 2"#,
            #"handsethub_provisioned_partitions{authority="lab"} 0"#,
            #"handsethub_provisioning_commands_total{outcome="refused"} 5"#,
            #"handsethub_link_rate_limited_total{link="rtos-linux",from="linux",to="rtos"} 3"#,
            #"handsethub_link_rate_limited_total{link="rtos-linux",from="rtos",to="linux"} 0"#,
            // Full or too large (1), over the rate budget (3), out of sequence (1): every refusal.
            #"handsethub_link_refused_total{link="rtos-linux"} 5"#,
        ] {
            #expect(lines.contains(line), "\(line)")
        }
        let types = body.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(Set(types).count == types.count)
        #expect(bench.stop() == 0)
    }

    @Test func theBasePolicyIsProfileBase() throws {
        let bench = try Bench()
        bench.host.otherMethods = { method, params in
            method == "policy.status"
                ? ["profile": .null, "activations": 0, "refused": 0] : HTTPGlueTests.hubAnswers(method, params)
        }
        let answer = try bench.exchange("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(answer.text.contains("\nhandsethub_policy_profile_info{profile=\"base\"} 1\n"))
        #expect(bench.stop() == 0)
    }

    @Test func headAnswersWithoutBody() throws {
        let bench = try Bench()
        let answer = try bench.exchange("HEAD /healthz HTTP/1.0\r\n\r\n")
        #expect(answer.text.hasPrefix("HTTP/1.1 200 OK\r\n") && answer.text.hasSuffix("\r\n\r\n"))
        #expect(answer.text.contains("Content-Length: 3\r\n"))
        #expect(bench.stop() == 0)
    }

    @Test func everythingElseIsRefusedWithItsStatus() throws {
        let bench = try Bench()
        let cases: [(String, String)] = [
            ("GET /nothing HTTP/1.1\r\nHost: h\r\n\r\n", "404"),
            ("POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", "405"),
            ("GET / HTTP/3.0\r\n\r\n", "505"),
            ("\u{16}\u{03}\u{01} garbage\r\n\r\n", "400"),
            ("GET /metrics HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", "413"),
            ("GET /" + String(repeating: "a", count: 5000) + " HTTP/1.1\r\nHost: h\r\n\r\n", "414"),
            ("GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 40) + "\r\n", "431"),
        ]
        for (request, status) in cases {
            let answer = try bench.exchange(request)
            #expect(answer.text.hasPrefix("HTTP/1.1 \(status) "), "\(request.prefix(40))")
            #expect(answer.closed)
        }
        let answer = try bench.exchange("PUT / HTTP/1.1\r\n")
        #expect(answer.text.contains("\r\nAllow: GET, HEAD\r\n"))
        #expect(bench.status()?["answers"]?["431"] == 1)
        #expect(bench.status()?["refusals"]?["method not allowed"] == 2)
        #expect(bench.stop() == 0)
    }

    @Test func offLoopbackMetricsAskForTheTokenAndProbesDoNot() throws {
        let bench = try Bench { configuration in
            configuration.hub.httpEndpoints = [HTTPGlueTests.remote]
            configuration.hub.httpToken = HTTPGlueTests.token
        }
        let request = { (authorization: String?) in
            "GET /metrics HTTP/1.1\r\nHost: h\r\n" + (authorization.map { "Authorization: \($0)\r\n" } ?? "") + "\r\n"
        }
        let missing = try bench.exchange(request(nil), on: Self.remote)
        #expect(missing.text.hasPrefix("HTTP/1.1 401 "))
        #expect(missing.text.contains("WWW-Authenticate: Bearer realm=\"handsethub\"\r\n"))
        #expect(
            try bench.exchange(request("Bearer wrong-token-0123456789ab"), on: Self.remote).text.hasPrefix(
                "HTTP/1.1 401 "))
        #expect(try bench.exchange(request("Bearer \(Self.token)x"), on: Self.remote).text.hasPrefix("HTTP/1.1 401 "))
        #expect(try bench.exchange(request("Basic \(Self.token)"), on: Self.remote).text.hasPrefix("HTTP/1.1 401 "))
        #expect(try bench.exchange(request("Bearer \(Self.token)"), on: Self.remote).text.hasPrefix("HTTP/1.1 200 "))
        #expect(
            try bench.exchange("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", on: Self.remote).text.hasPrefix(
                "HTTP/1.1 200 "))
        #expect(bench.stop() == 0)
    }

    @Test func theControlTokenStandsInForAMissingHTTPToken() throws {
        let bench = try Bench { configuration in
            configuration.hub.httpEndpoints = [HTTPGlueTests.remote]
            configuration.hub.controlToken = HTTPGlueTests.token
        }
        let request = "GET /metrics HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer \(Self.token)\r\n\r\n"
        #expect(try bench.exchange(request, on: Self.remote).text.hasPrefix("HTTP/1.1 200 "))
        #expect(
            try bench.exchange("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n", on: Self.remote).text.hasPrefix(
                "HTTP/1.1 401 "))
        #expect(bench.stop() == 0)
    }

    @Test func metricsOverTheirLimitAre500AndCounted() throws {
        let bench = try Bench { $0.hub.limits.httpMaxResponseBytes = 64 << 10 }
        let many = (0..<300).map { index -> JSON in ["name": .string("partition-\(index)"), "attached": false] }
        bench.host.otherMethods = { method, params in
            method == "partition.list" ? ["partitions": .array(many)] : HTTPGlueTests.hubAnswers(method, params)
        }
        let answer = try bench.exchange("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(answer.text.hasPrefix("HTTP/1.1 500 "))
        #expect(bench.status()?["metricsTooLarge"] == 1)
        #expect(bench.stop() == 0)
    }

    /// `hub.info` answering an uptime that grows by a second at every call: each build of `/metrics` then carries
    /// its own `handsethub_uptime_seconds`, so a reused text is told from a new one.
    /// With `gatherMicroseconds`, each call also takes that long: a platform whose metrics take long to gather.
    static func countingUptime(_ bench: Bench, gatherMicroseconds: UInt32 = 0) {
        var calls = 0
        bench.host.otherMethods = { method, params in
            guard method == "hub.info" else { return HTTPGlueTests.hubAnswers(method, params) }
            calls += 1
            if gatherMicroseconds > 0 { usleep(gatherMicroseconds) }
            return ["version": "9.9.9", "platform": "p", "uptimeMs": .int(Int64(calls) * 1000)]
        }
    }

    /// Runs the bench's loop for `milliseconds` (from `start`), a tick timer keeping it from waiting past the end.
    static func runLoop(_ bench: Bench, for milliseconds: UInt64, from start: UInt64 = MonotonicClock.nanoseconds())
        throws
    {
        let tick = try Timer(loop: bench.host.loop)
        tick.start(afterMilliseconds: 5, repeatMilliseconds: 5) {}
        while MonotonicClock.nanoseconds() - start < milliseconds * 1_000_000 {
            _ = bench.host.loop.runOnce(wait: true)
        }
        tick.close()
    }

    static func uptime(in answer: String) -> String? {
        answer.split(separator: "\n").first { $0.hasPrefix("handsethub_uptime_seconds ") }.map(String.init)
    }

    @Test func clientsAnsweredInOnePassShareOneBuildOfTheMetrics() throws {
        let bench = try Bench()
        Self.countingUptime(bench)
        let clients = try (0..<8).map { _ in try #require(bench.host.connect(to: Self.local, kind: .tcp)) }
        for client in clients { client.receive(Array("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n".utf8)) }
        bench.host.runPasses(2)
        let answers = clients.map { String(decoding: $0.takeWritten(), as: UTF8.self) }
        #expect(answers.allSatisfy { $0.hasPrefix("HTTP/1.1 200 ") })
        // One build, whose text all eight carry: eight builds in one pass held the loop eight times as long.
        #expect(Set(answers.map(Self.uptime)) == ["handsethub_uptime_seconds 1"])
        #expect(bench.status()?["metricsBuilt"] == 1 && bench.status()?["metricsReused"] == 7)
        #expect(bench.stop() == 0)
    }

    @Test func theMetricsAreBuiltAgainOnceTheReusePeriodHasPassed() throws {
        let bench = try Bench { $0.hub.limits.httpMetricsReuseMs = 50 }
        Self.countingUptime(bench)
        let request = "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(Self.uptime(in: try bench.exchange(request).text) == "handsethub_uptime_seconds 1")
        #expect(Self.uptime(in: try bench.exchange(request).text) == "handsethub_uptime_seconds 1")
        // The timer lets the text go at the end of the period; the next request builds a new one.
        try Self.runLoop(bench, for: 80)
        #expect(Self.uptime(in: try bench.exchange(request).text) == "handsethub_uptime_seconds 2")
        #expect(bench.status()?["metricsBuilt"] == 2 && bench.status()?["metricsReused"] == 1)
        #expect(bench.stop() == 0)
    }

    /// The period counts from the build's end, not from the start of the pass that built it: a build that held
    /// the loop 200 ms is still served 250 ms after it ended with a period of 400 ms (the loop's timer, counting
    /// from the pass's start, fired at about 200 ms).
    @Test func theReusePeriodCountsFromTheEndOfASlowBuild() throws {
        let bench = try Bench { $0.hub.limits.httpMetricsReuseMs = 400 }
        Self.countingUptime(bench, gatherMicroseconds: 200_000)
        let request = "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(Self.uptime(in: try bench.exchange(request).text) == "handsethub_uptime_seconds 1")
        try Self.runLoop(bench, for: 250)
        #expect(Self.uptime(in: try bench.exchange(request).text) == "handsethub_uptime_seconds 1")
        #expect(bench.status()?["metricsBuilt"] == 1 && bench.status()?["metricsReused"] == 1)
        #expect(bench.stop() == 0)
    }

    @Test func aReusePeriodOfZeroBuildsForEveryRequest() throws {
        let bench = try Bench { $0.hub.limits.httpMetricsReuseMs = 0 }
        Self.countingUptime(bench)
        let request = "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(Self.uptime(in: try bench.exchange(request).text) == "handsethub_uptime_seconds 1")
        #expect(Self.uptime(in: try bench.exchange(request).text) == "handsethub_uptime_seconds 2")
        #expect(bench.status()?["metricsBuilt"] == 2 && bench.status()?["metricsReused"] == 0)
        #expect(bench.stop() == 0)
    }

    @Test func aSlowClientGets408AtTheHandshakeDeadline() throws {
        let bench = try Bench { $0.hub.limits.httpHandshakeMs = 100 }
        let client = try #require(bench.host.connect(to: Self.local, kind: .tcp))
        client.receive(Array("GET /metrics HTTP/1.1\r\nHo".utf8))
        bench.host.runPasses(2)
        #expect(client.takeWritten().isEmpty && client.isOpen)
        // The loop waits for the deadline's timer.
        for _ in 0..<20 where client.isOpen { _ = bench.host.loop.runOnce(wait: true) }
        #expect(String(decoding: client.takeWritten(), as: UTF8.self).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(!client.isOpen)
        let gate = try #require(bench.host.admission.gates.first { $0.name == "http" })
        #expect(gate.refusals[.handshakeTimeout] == 1 && gate.pending == 0)
        #expect(bench.stop() == 0)
    }

    @Test func idleConnectionsBeyondThePendingBudgetEvictTheOldest() throws {
        let bench = try Bench { $0.hub.limits.httpMaxPending = 4 }
        let clients = try (0..<10).map { _ in try #require(bench.host.connect(to: Self.local, kind: .tcp)) }
        bench.host.runPasses(1)
        #expect(clients.prefix(6).allSatisfy { !$0.isOpen })
        #expect(clients.suffix(4).allSatisfy { $0.isOpen })
        let gate = try #require(bench.host.admission.gates.first { $0.name == "http" })
        #expect(gate.pending == 4 && gate.refusals[.evicted] == 6)
        // A real request still gets through.
        #expect(try bench.exchange("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n").text.hasPrefix("HTTP/1.1 200 "))
        #expect(bench.stop() == 0)
    }

    @Test func noEndpointsNoListener() throws {
        let bench = try Bench { $0.hub.httpEndpoints = [] }
        #expect(bench.host.listeners.isEmpty && bench.host.methods.isEmpty)
        #expect(bench.stop() == 0)
    }
}
