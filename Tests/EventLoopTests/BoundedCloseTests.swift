import EventLoop
import Glibc
import Testing

/// `Connection.closeAfterWrites(within:)`: a peer that reads gets every queued byte and then the end of the
/// stream; one that never reads is closed at the deadline, its unread bytes dropped, instead of holding them and
/// the socket for as long as it stays connected.
@Suite struct BoundedCloseTests {
    @Test func aPeerThatNeverReadsIsClosedAtTheDeadline() throws {
        signal(SIGPIPE, SIG_IGN)
        var closedAfterMs: UInt64?
        var peerDescriptor: Int32 = -1
        try withLoop(timeoutMilliseconds: 5000) { loop, finish in
            let (connection, peer) = try adoptedSocketPair(loop: loop)
            peerDescriptor = peer
            connection.write([UInt8](repeating: 7, count: 256 << 10))
            #expect(connection.queuedWriteBytes > 0)
            let started = MonotonicClock.nanoseconds()
            connection.closeAfterWrites(within: 100)
            let poll = try Timer(loop: loop)
            poll.start(afterMilliseconds: 5, repeatMilliseconds: 5) {
                guard connection.isClosed else { return }
                closedAfterMs = (MonotonicClock.nanoseconds() - started) / 1_000_000
                poll.close()
                finish()
            }
        }
        close(peerDescriptor)
        // Closed at its deadline, not before (the kernel had taken what it could) and not never.
        let after = try #require(closedAfterMs)
        #expect(after >= 90 && after < 2000, "closed after \(after) ms")
    }

    @Test func aPeerThatReadsGetsEveryByteThenTheEnd() throws {
        signal(SIGPIPE, SIG_IGN)
        let sent = (0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        var received: [UInt8] = []
        var sawEnd = false
        var peerDescriptor: Int32 = -1
        try withLoop(timeoutMilliseconds: 5000) { loop, finish in
            let (connection, peer) = try adoptedSocketPair(loop: loop)
            peerDescriptor = peer
            connection.write(sent)
            connection.closeAfterWrites(within: 2000)
            let reader = try Timer(loop: loop)
            reader.start(afterMilliseconds: 1, repeatMilliseconds: 1) {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = read(peer, &buffer, buffer.count)
                    if count > 0 {
                        received += buffer[..<count]
                    } else {
                        if count == 0 { sawEnd = true }
                        break
                    }
                }
                guard sawEnd, connection.isClosed else { return }
                reader.close()
                finish()
            }
        }
        close(peerDescriptor)
        #expect(sawEnd && received == sent)
    }
}
