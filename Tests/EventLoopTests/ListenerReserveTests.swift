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
