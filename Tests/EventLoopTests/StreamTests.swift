import Endpoints
import EventLoop
import Glibc
import Testing

@Suite struct StreamTests {
    /// An echo server on port 0 (or a fresh Unix path) and a client that checks its bytes come back.
    private func echoRoundTrip(address: Endpoint) throws {
        let payload = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var echoed: [UInt8] = []
        try withLoop { loop, finish in
            let listener = try Listener(loop: loop, address: address) { connection in
                connection.onData = { bytes in connection.write(Array(bytes)) }
                connection.onEnd = { _ in connection.closeAfterWrites() }
                try? connection.startReading()
            }
            Connection.connect(loop: loop, to: listener.boundAddress) { result in
                guard case .success(let client) = result else {
                    Issue.record("connect failed: \(result)")
                    finish()
                    return
                }
                client.onData = { bytes in
                    echoed += bytes
                    if echoed.count == payload.count {
                        client.close()
                        listener.close()
                        finish()
                    }
                }
                try? client.startReading()
                // Vectored: the payload goes as three buffers in one write.
                client.write(buffers: [payload[..<1000], payload[1000..<150_000], payload[150_000...]])
            }
        }
        #expect(echoed == payload)
    }

    /// With `maxReadBytes`, no read hands over more than that, and every byte still arrives in order.
    @Test func readsAreBoundedByMaxReadBytes() throws {
        let payload = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var received: [UInt8] = []
        var largestRead = 0
        let directory = "/tmp/handsethub-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let path = directory + "/slices.sock"
        defer { removeSocketDirectory(directory, socket: path) }
        try withLoop { loop, finish in
            let listener = try Listener(loop: loop, address: .unix(path: path)) { connection in
                connection.maxReadBytes = 1000
                connection.onData = { bytes in
                    largestRead = max(largestRead, bytes.count)
                    received += bytes
                    if received.count == payload.count {
                        connection.close()
                        finish()
                    }
                }
                try? connection.startReading()
            }
            Connection.connect(loop: loop, to: listener.boundAddress) { result in
                guard case .success(let client) = result else { return finish() }
                client.write(payload) { _ in client.closeAfterWrites() }
                listener.close()
            }
        }
        #expect(received == payload)
        #expect(largestRead <= 1000 && largestRead > 0)
    }

    @Test func echoOverTCPv4() throws { try echoRoundTrip(address: .tcp(host: "127.0.0.1", port: 0)) }

    @Test func echoOverTCPv6() throws {
        // Some sandboxes have no IPv6 loopback; the test is meaningful only where ::1 exists.
        let probe = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        close(probe)
        try #require(bound == 0, "no IPv6 loopback on this machine")
        try echoRoundTrip(address: .tcp(host: "::1", port: 0))
    }

    @Test func echoOverUnixSocket() throws {
        let directory = "/tmp/handsethub-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let path = directory + "/echo.sock"
        defer { removeSocketDirectory(directory, socket: path) }
        try echoRoundTrip(address: .unix(path: path))
        #expect(access(path, F_OK) != 0, "closing the listener removes its socket file")
    }

    @Test func boundPortIsReported() throws {
        try withLoop { loop, finish in
            let listener = try Listener(loop: loop, address: .tcp(host: "127.0.0.1", port: 0)) { $0.close() }
            guard case .tcp(_, let port) = listener.boundAddress else { throw LoopError(code: -1, operation: "kind") }
            #expect(port != 0)
            #expect(throws: LoopError.self) {
                _ = try Listener(loop: loop, address: listener.boundAddress) { $0.close() }
            }
            listener.close()
            finish()
        }
    }

    @Test func connectToNothingFailsCleanly() throws {
        try withLoop { loop, finish in
            Connection.connect(loop: loop, to: .unix(path: "/tmp/handsethub-no-such-socket-\(getpid())")) { result in
                if case .failure(let error) = result {
                    #expect(error.name == "ENOENT")
                } else {
                    Issue.record("connect unexpectedly succeeded")
                }
                finish()
            }
        }
    }

    /// Writes still pending when a connection closes complete or report ECANCELED, always before the close callback.
    @Test func pendingWritesFinishBeforeCloseCallback() throws {
        var order: [String] = []
        try withLoop { loop, finish in
            var server: Connection?
            let listener = try Listener(loop: loop, address: .tcp(host: "127.0.0.1", port: 0)) { connection in
                server = connection  // never reads, so large writes stay queued
            }
            Connection.connect(loop: loop, to: listener.boundAddress) { result in
                guard case .success(let client) = result else { return }
                let big = [UInt8](repeating: 7, count: 8 << 20)
                for index in 0..<4 {
                    client.write(big) { error in
                        order.append(error == nil ? "write\(index)-ok" : "write\(index)-\(error!.name)")
                    }
                }
                client.close {
                    order.append("closed")
                    server?.close()
                    listener.close()
                    finish()
                }
            }
        }
        #expect(order.last == "closed")
        #expect(order.count == 5)
        #expect(order.contains { $0.hasSuffix("ECANCELED") }, "32 MiB cannot all be in the socket buffer: \(order)")
    }

    /// A reader that stops reading makes the writer cross its high watermark; once the reader
    /// drains, the low-watermark callback fires and the writer resumes.
    @Test func watermarksPauseAndResumeAProducer() throws {
        var events: [String] = []
        var received = 0
        let chunk = [UInt8](repeating: 1, count: 64 * 1024)
        let total = 256
        let directory = "/tmp/handsethub-wm-\(getpid())"
        defer { removeSocketDirectory(directory, socket: directory + "/w.sock") }
        try withLoop(timeoutMilliseconds: 10_000) { loop, finish in
            var server: Connection?
            let listener = try Listener(loop: loop, address: .unix(path: directory + "/w.sock")) {
                connection in
                server = connection
                connection.onData = { bytes in
                    received += bytes.count
                    if received == chunk.count * total {
                        connection.close()
                        finish()
                    }
                }
            }
            Connection.connect(loop: loop, to: listener.boundAddress) { result in
                guard case .success(let client) = result else { return }
                client.highWatermark = 512 * 1024
                client.lowWatermark = 128 * 1024
                var sent = 0
                var paused = false
                func produce() {
                    while sent < total && !paused {
                        client.write(chunk)
                        sent += 1
                    }
                    if sent == total { client.closeAfterWrites() }
                }
                client.onHighWatermark = {
                    events.append("high")
                    paused = true
                    // The slow reader wakes up only after the producer has been told to pause.
                    if events.filter({ $0 == "high" }).count == 1 {
                        _ = try? Timer.once(loop: loop, afterMilliseconds: 50) { try? server?.startReading() }
                    }
                }
                client.onLowWatermark = {
                    events.append("low")
                    paused = false
                    produce()
                }
                produce()
                listener.close()
            }
        }
        #expect(received == chunk.count * total)
        #expect(events.first == "high")
        #expect(events.contains("low"))
    }

    @Test func peerHangUpIsReportedOnce() throws {
        var ends = 0
        try withLoop { loop, finish in
            let listener = try Listener(loop: loop, address: .tcp(host: "127.0.0.1", port: 0)) { connection in
                connection.close()
            }
            Connection.connect(loop: loop, to: listener.boundAddress) { result in
                guard case .success(let client) = result else { return }
                client.onEnd = { error in
                    ends += 1
                    #expect(error == nil || error!.name == "ECONNRESET")
                    client.close()
                    listener.close()
                    finish()
                }
                try? client.startReading()
            }
        }
        #expect(ends == 1)
    }
}
