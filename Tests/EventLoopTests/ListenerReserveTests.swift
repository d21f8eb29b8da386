import EventLoop
import Glibc
import Testing

@Suite struct ListenerReserveTests {
    /// A peer accepted on a descriptor inside the reserve below the open-file limit is closed at once and reported
    /// as an accept failure (EMFILE); without a reserve the same peer is handed over.
    @Test(arguments: [true, false]) func peersInsideTheDescriptorReserveAreClosedAndReported(reserve: Bool) throws {
        var accepted = 0
        var failures: [LoopError] = []
        var peerSawClose = false
        try withLoop { loop, finish in
            let listener = try Listener(loop: loop, address: .tcp(host: "127.0.0.1", port: 0)) { connection in
                accepted += 1
                connection.close()
            }
            // The whole descriptor range is "reserve": every accepted descriptor falls inside it.
            if reserve { listener.descriptorReserve = Int(ProcessResources.openFileLimit().soft) }
            listener.onAcceptError = { failures.append($0) }
            Connection.connect(loop: loop, to: listener.boundAddress) { result in
                guard case .success(let client) = result else {
                    Issue.record("connect failed: \(result)")
                    finish()
                    return
                }
                client.onEnd = { _ in
                    peerSawClose = true
                    client.close()
                    listener.close()
                    finish()
                }
                try? client.startReading()
            }
        }
        #expect(peerSawClose)
        if reserve {
            #expect(accepted == 0)
            #expect(failures.count == 1)
            #expect(failures.first?.name == "EMFILE")
        } else {
            #expect(accepted == 1)
            #expect(failures.isEmpty)
        }
    }

    /// The soft open-file limit is raised to the hard limit (and never above it).
    @Test func openFileLimitIsRaisedToTheHardLimit() throws {
        // Start below the hard limit, as under systemd's default soft limit of 1024 (half the hard limit here, so
        // tests running meanwhile keep plenty of descriptors).
        var current = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &current) == 0)
        var lowered = current
        lowered.rlim_cur = max(256, current.rlim_max / 2)
        #expect(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered) == 0)
        let limit = ProcessResources.raiseOpenFileLimit()
        #expect(limit.softBefore == UInt64(lowered.rlim_cur))
        #expect(limit.failure == nil)
        #expect(limit.soft == limit.hard)
        #expect(ProcessResources.openFileLimit().soft == limit.hard)
    }
}

@Suite struct ListenerAcceptBoundTests {
    /// A burst of peers waiting in the backlog is accepted a few per loop pass: the bound, plus the one peer
    /// left pending and taken at the end of the pass. Without a bound the first pass takes them all.
    @Test(arguments: [4, 0]) func aBurstIsAcceptedInSlicesPerPass(bound: Int) throws {
        let loop = try Loop()
        var accepted: [Connection] = []
        let listener = try Listener(loop: loop, address: .tcp(host: "127.0.0.1", port: 0)) { accepted.append($0) }
        listener.maxAcceptsPerPass = bound
        guard case .tcp(_, let port) = listener.boundAddress else {
            Issue.record("not a TCP listener")
            return
        }
        let peers = 20
        var clients: [Int32] = []
        for _ in 0..<peers {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) { pointer in
                // SAFETY: sockaddr_in is a valid sockaddr for AF_INET.
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            #expect(result == 0)
            clients.append(fd)
        }
        var perPass: [Int] = []
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while accepted.count < peers && MonotonicClock.nanoseconds() < deadline {
            let before = accepted.count
            _ = loop.runOnce(wait: false)
            if accepted.count > before { perPass.append(accepted.count - before) }
        }
        #expect(accepted.count == peers)
        if bound > 0 {
            #expect(perPass.allSatisfy { $0 <= bound + 1 }, "accepted per pass: \(perPass)")
            #expect(perPass.count >= peers / (bound + 1))
        } else {
            #expect(perPass == [peers])
        }
        for connection in accepted { connection.close() }
        listener.close()
        for fd in clients { Glibc.close(fd) }
        _ = loop.runOnce(wait: false)
        #expect(loop.shutdown() == 0)
    }
}
