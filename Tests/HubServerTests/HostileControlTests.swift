import EventLoop
import Glibc
import JSON
import PlatformConfig
import Synchronization
import TestSupport
import Testing

/// Hostile control peers (`Protocols/control.md` §2.3, §2.6, §2.7, §4.3): each test would crash, freeze or
/// exhaust the hub before the mechanism it checks existed, and ends with the loop leak check.
@Suite(.serialized) struct HostileControlTests {
    /// Writes `bytes` repeatedly until the peer stops taking them (it closed) or `total` bytes went out.
    private static func flood(_ client: LineClient, _ bytes: [UInt8], total: Int) {
        var sent = 0
        while sent < total {
            let written = bytes.withUnsafeBytes { send(client.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            sent += written
        }
    }

    @Test func overlongLineWhileThePeerKeepsSendingDoesNotReachTheClosedSession() throws {
        let hub = try HubHarness { $0.hub.limits.controlMaxLineBytes = 4096 }
        let bystander = try LineClient(unixPath: hub.controlUnix)
        _ = try bystander.readJSON()
        for _ in 0..<3 {
            let hostile = try LineClient(unixPath: hub.controlUnix)
            _ = try hostile.readJSON()
            // Far past the limit, with no newline: the hub refuses the line and closes while bytes keep coming.
            Self.flood(hostile, [UInt8](repeating: 0x41, count: 64 << 10), total: 4 << 20)
            let refusal = try hostile.readJSON()
            #expect(refusal["error"]?["data"]?["reason"] == "line_too_long")
            #expect(refusal["error"]?["data"]?["limit"] == "controlMaxLineBytes")
        }
        #expect(try bystander.call("hub.info")["result"] != nil)
        let counters = try bystander.call("hub.controlClients", id: 2)["result"]?["counters"]
        #expect(counters?["linesTooLong"] == 3)
        #expect(hub.stop() == 0)
    }

    /// The deterministic form of the crash: the final answer (`line_too_long`) waits behind answers the peer has
    /// not read, so the connection stays open while the closed session is gone, and the peer keeps sending.
    @Test func overlongLineBehindUnreadAnswersWhileThePeerKeepsSending() throws {
        let hub = try HubHarness {
            $0.hub.limits.controlMaxLineBytes = 4096
            $0.hub.limits.controlWriteStallTimeoutMs = 60_000
        }
        let bystander = try LineClient(unixPath: hub.controlUnix)
        _ = try bystander.readJSON()
        let hostile = try LineClient(unixPath: hub.controlUnix)
        _ = try hostile.readJSON()
        var requests: [UInt8] = []
        for id in 0..<2 { requests += Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"fb.region"}"#.utf8) + [0x0a] }
        hostile.sendRaw(requests)
        usleep(300_000)
        hostile.sendRaw([UInt8](repeating: 0x41, count: 5000))
        usleep(100_000)
        // More bytes after the refusal, without blocking once the hub stops taking them.
        let chunk = [UInt8](repeating: 0x42, count: 1024)
        for _ in 0..<500 {
            _ = chunk.withUnsafeBytes { send(hostile.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            usleep(1000)
        }
        #expect(try bystander.call("hub.info")["result"] != nil)
        let clients = try #require(try bystander.call("hub.controlClients", id: 2)["result"]?["clients"]?.arrayValue)
        #expect(clients.contains { $0["state"] == "closing" })
        #expect(hub.stop() == 0)
    }

    @Test func shutdownWhileClientsKeepSendingRequests() throws {
        let hub = try HubHarness()
        let stop = Atomic<Bool>(false)
        let running = Atomic<Int>(0)
        for _ in 0..<4 {
            let client = try LineClient(unixPath: hub.controlUnix)
            _ = try client.readJSON()
            let fd = client.fd
            let box = UncheckedBox(client)
            running.add(1, ordering: .sequentiallyConsistent)
            spawnThread {
                let line = Array(#"{"jsonrpc":"2.0","id":1,"method":"hub.info"}"#.utf8) + [0x0a]
                let batch = Array([[UInt8]](repeating: line, count: 200).joined())
                var sink = [UInt8](repeating: 0, count: 1 << 16)
                while !stop.load(ordering: .sequentiallyConsistent) {
                    let written = batch.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if written <= 0 { break }
                    // Read some answers, so the hub keeps taking requests up to the moment it stops.
                    _ = sink.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                }
                _ = box
                running.subtract(1, ordering: .sequentiallyConsistent)
            }
        }
        usleep(200_000)
        // The hub closes every session (flushing its last answers) while the clients keep sending.
        #expect(hub.stop() == 0)
        stop.store(true, ordering: .sequentiallyConsistent)
        while running.load(ordering: .sequentiallyConsistent) > 0 { usleep(1000) }
    }

    @Test func wrongTokensAreCountedAndTheLastAllowedOneCloses() throws {
        let hub = try HubHarness {
            $0.hub.controlToken = "s3cret-token"
            $0.hub.limits.controlMaxAuthFailures = 3
        }
        for _ in 0..<2 {
            let client = try LineClient(tcpPort: hub.controlTCPPort)
            _ = try client.readJSON()
            for attempt in 1...3 {
                let answer = try client.call(
                    "hub.authenticate", ["token": .string("guess-\(attempt)")], id: Int64(attempt))
                #expect(answer["error"]?["data"]?["reason"] == "bad_token")
                if attempt < 3 {
                    // Still open, still unauthenticated.
                    #expect(try client.call("hub.info", id: 10)["error"]?["data"]?["reason"] == "auth_required")
                }
            }
            #expect(client.isClosedByPeer())
        }
        let local = try LineClient(unixPath: hub.controlUnix)
        _ = try local.readJSON()
        let counters = try local.call("hub.controlClients")["result"]?["counters"]
        #expect(counters?["authFailures"] == 6)
        #expect(counters?["closedForAuthFailures"] == 2)
        #expect(hub.stop() == 0)
    }

    /// Before authentication a connection may send `controlMaxUnauthenticatedLines` lines, well formed or not: the
    /// one that reaches it is answered and the connection closed. Every line was parsed and answered (a 2-byte
    /// line with a 140-byte error), so 56 pending peers that never read made the hub hold 235 MB of answers.
    @Test func linesBeforeAuthenticationAreBoundedAndTheLastOneCloses() throws {
        let hub = try HubHarness {
            $0.hub.controlToken = "s3cret-token"
            $0.hub.limits.controlMaxUnauthenticatedLines = 5
        }
        let client = try LineClient(tcpPort: hub.controlTCPPort)
        _ = try client.readJSON()
        for _ in 0..<100 { client.sendLine("x") }
        var answers = 0
        while let line = client.readLine() {
            #expect(line.contains("-32700"), "\(line)")
            answers += 1
        }
        #expect(answers == 5)
        #expect(client.isClosedByPeer())
        // Requests count alike, and authenticating in time ends the count.
        let patient = try LineClient(tcpPort: hub.controlTCPPort)
        _ = try patient.readJSON()
        for id in 1...4 {
            #expect(try patient.call("hub.info", id: Int64(id))["error"]?["data"]?["reason"] == "auth_required")
        }
        #expect(try patient.call("hub.authenticate", ["token": "s3cret-token"], id: 5)["result"] != nil)
        for id in 6...20 { #expect(try patient.call("hub.info", id: Int64(id))["result"] != nil) }
        let local = try LineClient(unixPath: hub.controlUnix)
        _ = try local.readJSON()
        #expect(try local.call("hub.controlClients")["result"]?["counters"]?["closedUnauthenticated"] == 1)
        // A Unix endpoint greets with "auth":"none": hub.authenticate succeeds there whatever the token.
        #expect(try local.call("hub.authenticate", ["token": "anything"], id: 2)["result"]?["authenticated"] == true)
        #expect(hub.stop() == 0)
    }

    @Test func beforeAuthenticationUnknownAndKnownMethodsGetTheSameAnswer() throws {
        let hub = try HubHarness { $0.hub.controlToken = "s3cret-token" }
        let client = try LineClient(tcpPort: hub.controlTCPPort)
        _ = try client.readJSON()
        let known = try client.call("hub.methods", id: 1)
        let unknown = try client.call("no.such.method", id: 2)
        #expect(known["error"]?["code"] == -32000)
        #expect(unknown["error"]?["code"] == -32000)
        #expect(known["error"] == unknown["error"])
        #expect(try client.call("hub.authenticate", ["token": "s3cret-token"], id: 3)["result"] != nil)
        #expect(try client.call("no.such.method", id: 4)["error"]?["code"] == -32601)
        #expect(try client.call("hub.controlClients", id: 5)["result"]?["counters"]?["unauthenticatedRequests"] == 2)
        #expect(hub.stop() == 0)
    }

    @Test func beforeAuthenticationOnlyShortLinesAreTaken() throws {
        let hub = try HubHarness {
            $0.hub.controlToken = "s3cret-token"
            $0.hub.limits.controlMaxUnauthenticatedLineBytes = 1024
        }
        let long = String(repeating: "x", count: 8000)
        let stranger = try LineClient(tcpPort: hub.controlTCPPort)
        _ = try stranger.readJSON()
        stranger.sendLine(#"{"jsonrpc":"2.0","id":"\#(long)","method":"hub.info"}"#)
        let refusal = try stranger.readJSON()
        #expect(refusal["error"]?["data"]?["reason"] == "line_too_long")
        #expect(refusal["error"]?["data"]?["limit"] == "controlMaxUnauthenticatedLineBytes")
        #expect(refusal["error"]?["data"]?["value"] == 1024)
        #expect(stranger.isClosedByPeer())

        // Once authenticated, the full limit applies, to lines that arrived in the same read too.
        let member = try LineClient(tcpPort: hub.controlTCPPort)
        _ = try member.readJSON()
        member.sendRaw(
            Array(
                (#"{"jsonrpc":"2.0","id":1,"method":"hub.authenticate","params":{"token":"s3cret-token"}}"# + "\n"
                    + #"{"jsonrpc":"2.0","id":"\#(long)","method":"hub.info"}"# + "\n").utf8))
        #expect(try member.readJSON()["result"]?["authenticated"] == true)
        let info = try member.readJSON()
        #expect(info["id"]?.stringValue == long)
        #expect(info["result"] != nil)
        #expect(hub.stop() == 0)
    }

    /// Every number from a request is range-checked before it is converted: each of these used to trap
    /// (`UInt64(1e20)`) or is refused with a precise -32602 naming the parameter.
    @Test func outOfRangeNumbersAreRefusedNotConverted() throws {
        let hub = try HubHarness()
        let client = try LineClient(unixPath: hub.controlUnix)
        _ = try client.readJSON()
        let cases: [(method: String, params: String, param: String)] = [
            (
                "eth.setImpairments", #"{"segment":"lan0","port":"linux","egress":{"rateBitsPerSecond":1e20}}"#,
                "egress.rateBitsPerSecond"
            ),
            (
                "eth.setImpairments", #"{"segment":"lan0","port":"linux","egress":{"rateBitsPerSecond":-1}}"#,
                "egress.rateBitsPerSecond"
            ),
            (
                "eth.setImpairments", #"{"segment":"lan0","port":"linux","ingress":{"rateBitsPerSecond":1.5}}"#,
                "ingress.rateBitsPerSecond"
            ),
            (
                "eth.setImpairments", #"{"segment":"lan0","port":"linux","egress":{"delayMs":1e300}}"#,
                "egress.delayMs"
            ),
            (
                "eth.setImpairments", #"{"segment":"lan0","port":"linux","egress":{"jitterMs":-0.5}}"#,
                "egress.jitterMs"
            ),
            (
                "eth.setImpairments",
                #"{"segment":"lan0","port":"linux","egress":{"burstBytes":9223372036854775807}}"#, "egress.burstBytes"
            ),
            (
                "eth.setImpairments", #"{"segment":"lan0","port":"linux","egress":{"backlogBytes":1e19}}"#,
                "egress.backlogBytes"
            ),
            ("eth.setImpairments", #"{"segment":"lan0","port":"linux","egress":{"loss":1e20}}"#, "egress.loss"),
            ("irq.raise", #"{"partition":"rtos","line":1.5,"as":"tester"}"#, "line"),
            ("irq.raise", #"{"partition":"rtos","line":1e20,"as":"tester"}"#, "line"),
            ("fb.pixel", #"{"x":-1,"y":0}"#, "x"),
            ("fb.pixel", #"{"x":0,"y":18446744073709551616}"#, "y"),
            ("events.recent", #"{"limit":1e20}"#, "limit"),
            ("events.recent", #"{"since":-1}"#, "since"),
            ("events.recent", #"{"since":1e19}"#, "since"),
            ("events.wait", #"{"filter":{},"timeoutMs":-1}"#, "timeoutMs"),
            ("events.wait", #"{"filter":{},"timeoutMs":1e20}"#, "timeoutMs"),
            ("modem.signal", #"{"rssi":99.5}"#, "rssi"),
            ("eth.capture.start", #"{"segment":"lan0","path":"/tmp/x.pcap","snapLength":1e20}"#, "snapLength"),
        ]
        for (index, item) in cases.enumerated() {
            client.sendLine(#"{"jsonrpc":"2.0","id":\#(index),"method":"\#(item.method)","params":\#(item.params)}"#)
            let answer = try client.readJSON()
            #expect(answer["id"] == .int(Int64(index)))
            #expect(answer["error"]?["code"] == -32602, "\(item.method) \(item.params): \(answer)")
            #expect(answer["error"]?["data"]?["param"] == .string(item.param), "\(item.params): \(answer)")
            #expect(answer["error"]?["data"]?["expected"]?.stringValue?.contains("...") == true, "\(answer)")
        }
        // The port's impairments are untouched and the hub still serves.
        let ports = try client.call("eth.ports", ["segment": "lan0"], id: 100)
        #expect(ports["result"] != nil)
        #expect(hub.stop() == 0)
    }

    @Test func hugeEventFiltersAreRefusedWithTheirLimit() throws {
        let hub = try HubHarness {
            $0.hub.limits.controlMaxFilterEntries = 32
            $0.hub.limits.controlMaxFilterEntryBytes = 64
        }
        let client = try LineClient(unixPath: hub.controlUnix)
        _ = try client.readJSON()
        let many = JSON.array((0..<100_000).map { .string("k\($0 % 1000)") })
        for (id, method) in [(1, "events.recent"), (2, "events.subscribe")] {
            let answer = try client.call(method, ["filter": ["kinds": many]], id: Int64(id))
            #expect(answer["error"]?["code"] == -32004)
            #expect(answer["error"]?["data"]?["limit"] == "controlMaxFilterEntries")
            #expect(answer["error"]?["data"]?["param"] == "filter.kinds")
            #expect(answer["error"]?["data"]?["got"] == 100_000)
        }
        let longName = try client.call(
            "events.recent", ["filter": ["partitions": [.string(String(repeating: "p", count: 65))]]], id: 3)
        #expect(longName["error"]?["data"]?["limit"] == "controlMaxFilterEntryBytes")
        // Within the bounds, prefix and exact patterns still select what they name.
        let fine = try client.call(
            "events.recent", ["filter": ["kinds": ["nothing.*", "hub.started", "client.*"]]], id: 4)
        let kinds = try #require(fine["result"]?["events"]?.arrayValue).compactMap { $0["kind"]?.stringValue }
        #expect(kinds.first == "hub.started" && kinds.contains("client.connected"))
        #expect(Set(kinds).isSubset(of: ["hub.started", "client.connected", "client.disconnected"]))
        #expect(try client.call("hub.controlClients", id: 5)["result"]?["counters"]?["filtersRefused"] == 3)
        #expect(hub.stop() == 0)
    }

    /// A client pipelines whole-screen reads and never reads the answers: the hub stops handling its requests
    /// once the unsent answers pass the budget, keeps serving others, and disconnects it after the stall deadline.
    @Test func pipelinedRequestsOfAClientThatNeverReadsAreHeldBackThenCutOff() throws {
        let high = 4 << 20
        let hub = try HubHarness { $0.hub.limits.controlWriteStallTimeoutMs = 1500 }
        let observer = try LineClient(unixPath: hub.controlUnix)
        _ = try observer.readJSON()
        let hostile = try LineClient(unixPath: hub.controlUnix)
        _ = try hostile.readJSON()
        // 100 whole-screen reads: ~150 MB of answers without backpressure.
        var batch: [UInt8] = []
        for id in 0..<100 { batch += Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"fb.region"}"#.utf8) + [0x0a] }
        hostile.sendRaw(batch)
        // Answers go out one pass at a time (controlAnswerBytesPerPass): wait until the budget is reached.
        let held = try #require(
            waitForClient(observer) { $0["requests"]?.int64Value ?? 0 > 0 && $0["state"] == "held_back" })
        let unsent = try #require(held["unsentBytes"]?.int64Value)
        let answered = try #require(held["requests"]?.int64Value)
        // At most one answer past the budget is queued; the other requests wait, unhandled.
        #expect(unsent <= Int64(high + (2 << 20)), "\(held)")
        #expect(answered < 10, "\(held)")
        #expect(held["bufferedRequestBytes"]?.int64Value ?? 0 > 0)
        #expect(try observer.call("fb.pixel", ["x": 1, "y": 1], id: 2)["result"] != nil)
        // After the stall deadline the hub lets it go.
        var gone = false
        for attempt in 0..<50 where !gone {
            usleep(100_000)
            let now = try #require(try observer.call("hub.controlClients", id: Int64(10 + attempt))["result"])
            gone = !(now["clients"]?.arrayValue ?? []).contains { $0["id"] == held["id"] }
            if gone { #expect(now["counters"]?["writeStalls"] == 1) }
        }
        #expect(gone)
        #expect(hub.stop() == 0)
    }

    /// Unfinished lines are charged as they are read (`controlReadBytesPerRead` a read, `Protocols/control.md` §2.7):
    /// a client streaming a long line without its newline spends the budget and waits for turns like one sending
    /// requests, so the loop's reading and scanning of it is bounded per pass; it is still read to the end and
    /// answered. Before, bytes before a newline were never charged, and such a client never waited.
    @Test func bytesOfUnfinishedLinesAreChargedToTheBudgetAsTheyAreRead() throws {
        let hub = try HubHarness {
            $0.hub.limits.controlAnswerBytesPerPass = 4096
            $0.hub.limits.controlReadBytesPerRead = 1024
        }
        let observer = try LineClient(unixPath: hub.controlUnix)
        _ = try observer.readJSON()
        func budgetWaits(_ id: Int64) throws -> Int64 {
            let counters = try observer.call("hub.controlClients", id: id)["result"]?["counters"]
            return try #require(counters?["budgetWaits"]?.int64Value)
        }
        let before = try budgetWaits(1)
        let streamer = try LineClient(unixPath: hub.controlUnix)
        _ = try streamer.readJSON()
        // 256 KiB of one request line, its newline not sent: 64 budgets' worth, read 1 KiB at a time.
        let head = Array(#"{"jsonrpc":"2.0","id":7,"method":"hub.info","params":{"pad":""#.utf8)
        streamer.sendRaw(head + [UInt8](repeating: UInt8(ascii: "a"), count: 256 << 10))
        let streaming = try #require(
            waitForClient(observer) { $0["bufferedRequestBytes"]?.int64Value ?? 0 >= Int64(head.count + (256 << 10)) })
        #expect(streaming["requests"] == 0)
        // About one wait per budget read; the observer's few calls account for a handful at most.
        #expect(try budgetWaits(2) - before >= 32)
        streamer.sendRaw(Array(#""}}"#.utf8) + [0x0a])
        #expect(try streamer.readJSON()["id"] == 7)
        #expect(hub.stop() == 0)
    }

    /// Pipelined requests with large answers are handled a pass's worth at a time (`controlAnswerBytesPerPass`):
    /// the rest waits for the next loop pass, and every request is still answered, in order.
    @Test func largeAnswersAreSpreadOverLoopPassesAndAllArrive() throws {
        let hub = try HubHarness { $0.hub.limits.controlAnswerBytesPerPass = 4096 }
        let client = try LineClient(unixPath: hub.controlUnix)
        _ = try client.readJSON()
        // Each answer is a 40x40 region: 4,800 RGB bytes, 6,400 in base64, over the per-pass budget on its own.
        var batch: [UInt8] = []
        for id in 0..<20 {
            batch +=
                Array(
                    #"{"jsonrpc":"2.0","id":\#(id),"method":"fb.region","params":{"x":0,"y":0,"width":40,"height":40}}"#
                        .utf8) + [0x0a]
        }
        client.sendRaw(batch)
        for id in 0..<20 {
            let answer = try client.readJSON()
            #expect(answer["id"]?.int64Value == Int64(id))
            #expect(answer["result"]?["width"] == 40)
        }
        let counters = try #require(try client.call("hub.controlClients", id: 99)["result"]?["counters"])
        #expect(counters["passesYielded"]?.int64Value ?? 0 >= 19, "\(counters)")
        #expect(hub.stop() == 0)
    }

    /// A session closed after its final answer (`line_too_long`) whose peer never reads is not held forever.
    @Test func aClosingSessionWhosePeerNeverReadsIsCutOffAtTheDeadline() throws {
        let hub = try HubHarness {
            $0.hub.limits.controlWriteStallTimeoutMs = 3000
            $0.hub.limits.controlMaxLineBytes = 4096
        }
        let observer = try LineClient(unixPath: hub.controlUnix)
        _ = try observer.readJSON()
        let hostile = try LineClient(unixPath: hub.controlUnix)
        _ = try hostile.readJSON()
        var bytes: [UInt8] = []
        for id in 0..<2 { bytes += Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"fb.region"}"#.utf8) + [0x0a] }
        bytes += [UInt8](repeating: 0x41, count: 5000)
        hostile.sendRaw(bytes)
        let closing = try #require(waitForClient(observer) { $0["state"] == "closing" })
        #expect(closing["unsentBytes"]?.int64Value ?? 0 > 0)
        var gone = false
        for attempt in 0..<100 where !gone {
            usleep(100_000)
            let now = try #require(try observer.call("hub.controlClients", id: Int64(10 + attempt))["result"])
            gone = !(now["clients"]?.arrayValue ?? []).contains { $0["id"] == closing["id"] }
        }
        #expect(gone)
        #expect(hub.stop() == 0)
    }

    /// `events.subscribe {since: 0}` with more held events than the outbox holds: a client that reads gets
    /// every one, in order, exactly as many as `replayed` said, and no `events.missed`.
    @Test func aReplayLargerThanTheOutboxReachesAReadingClientWhole() throws {
        let hub = try HubHarness { $0.hub.limits.controlOutboxEvents = 16 }
        let producer = try LineClient(unixPath: hub.controlUnix)
        _ = try producer.readJSON()
        var batch: [UInt8] = []
        for id in 0..<300 {
            batch +=
                Array(
                    #"{"jsonrpc":"2.0","id":\#(id),"method":"irq.raise","params":{"partition":"linux","line":\#(id % 8),"as":"tester"}}"#
                        .utf8) + [0x0a]
        }
        producer.sendRaw(batch)
        for _ in 0..<300 { _ = try producer.readJSON() }
        let subscriber = try LineClient(unixPath: hub.controlUnix)
        _ = try subscriber.readJSON()
        let answer = try subscriber.call("events.subscribe", ["since": 0], id: 1)
        let lastSeq = try #require(answer["result"]?["lastSeq"]?.int64Value)
        let replayed = try #require(answer["result"]?["replayed"]?.int64Value)
        #expect(lastSeq > 100)
        #expect(replayed == lastSeq)
        var seqs: [Int64] = []
        for _ in 0..<replayed {
            let message = try subscriber.readJSON()
            #expect(message["method"] == "event", "\(message)")
            seqs.append(message["params"]?["seq"]?.int64Value ?? -1)
        }
        #expect(seqs == Array(1...lastSeq))
        // Live events follow the replay.
        _ = try producer.call("irq.raise", ["partition": "linux", "line": 1, "as": "tester"], id: 999)
        let live = try subscriber.readJSON()
        #expect(live["method"] == "event")
        #expect(live["params"]?["seq"]?.int64Value ?? 0 > lastSeq)
        #expect(hub.stop() == 0)
    }
}

/// Keeps a value alive inside a thread's closure.
private final class UncheckedBox<T>: @unchecked Sendable {  // SAFETY: only kept alive, never used across threads.
    let value: T
    init(_ value: T) { self.value = value }
}

/// Polls `hub.controlClients` until a client matches (the hub handles requests a pass at a time, and a sanitizer
/// build's passes are slow); nil after 30 s.
private func waitForClient(_ observer: LineClient, _ matches: (JSON) -> Bool) throws -> JSON? {
    let deadline = MonotonicClock.nanoseconds() + 30_000_000_000
    var id: Int64 = 1000
    while MonotonicClock.nanoseconds() < deadline {
        id += 1
        let clients = try observer.call("hub.controlClients", id: id)["result"]?["clients"]?.arrayValue ?? []
        if let found = clients.first(where: matches) { return found }
        usleep(20_000)
    }
    return nil
}
