import EventLoop
import Glibc
import Testing

/// `Connection.writeNow`: bytes go straight to the socket while nothing is queued, the rest is queued behind
/// them, so no byte is lost, doubled or reordered whatever the peer does (never reads, reads a byte at a time,
/// goes away), and mixing it with `write` keeps the order of the calls.
@Suite struct WriteNowTests {
    /// Chunk `index`: a length and bytes no other chunk has at the same offset, so a reordering shows.
    private static func chunk(_ index: Int) -> [UInt8] {
        let length = 1 + (index &* 733) % 3000
        return (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index &* 7 &+ ($0 >> 8)) }
    }

    @Test func bytesWrittenNowAndQueuedReachAPeerReadingAByteAtATimeWholeAndInOrder() throws {
        signal(SIGPIPE, SIG_IGN)
        var expected: [UInt8] = []
        var received: [UInt8] = []
        var queuedWhileBlocked = 0
        var writeErrors = 0
        var wentStraightThrough = false
        try withLoop(timeoutMilliseconds: 20_000) { loop, finish in
            let (connection, peer) = try adoptedSocketPair(loop: loop)
            connection.onWriteError = { _ in writeErrors += 1 }
            // The peer does not read yet: the socket fills, later bytes are queued behind.
            for index in 0..<120 {
                let bytes = Self.chunk(index)
                expected += bytes
                if index % 3 == 2 {
                    connection.write(bytes)
                } else {
                    #expect(connection.writeNow(bytes))
                }
            }
            queuedWhileBlocked = connection.queuedWriteBytes
            var next = 120
            let reader = try Timer(loop: loop)
            reader.start(afterMilliseconds: 1, repeatMilliseconds: 1) {
                var byte: UInt8 = 0
                // A byte per read, a few hundred per tick: the slowest reader that still finishes.
                for _ in 0..<600 where read(peer, &byte, 1) == 1 { received.append(byte) }
                // More writes while the queue drains, some while it is empty again.
                if received.count > expected.count / 2 && next < 200 {
                    let bytes = Self.chunk(next)
                    expected += bytes
                    #expect(connection.writeNow(bytes))
                    next += 1
                }
                guard received.count >= expected.count && next == 200 && connection.queuedWriteBytes == 0 else {
                    return
                }
                // Nothing queued: a small write is taken by the kernel at once, with no request left pending.
                let last: [UInt8] = [0xAB, 0xCD, 0xEF]
                expected += last
                #expect(connection.writeNow(last))
                wentStraightThrough = connection.queuedWriteBytes == 0
                var tail: [UInt8] = [0, 0, 0, 0]
                let count = read(peer, &tail, 4)
                if count > 0 { received += tail[..<count] }
                reader.close()
                connection.close()
                close(peer)
                finish()
            }
        }
        #expect(queuedWhileBlocked > 0, "the peer's socket never filled: the queued path was not exercised")
        #expect(received.count == expected.count)
        #expect(received == expected, "bytes were garbled, lost or reordered")
        #expect(wentStraightThrough, "an empty queue did not let the bytes go straight to the socket")
        #expect(writeErrors == 0)
    }

    @Test func aPeerThatGoesAwayMidStreamIsOneWriteErrorAndLaterWritesAreRefused() throws {
        signal(SIGPIPE, SIG_IGN)
        var errors = 0
        var refusedAfter = false
        try withLoop { loop, finish in
            let (connection, peer) = try adoptedSocketPair(loop: loop)
            connection.onWriteError = { _ in errors += 1 }
            var index = 0
            while connection.queuedWriteBytes == 0 && index < 1000 {
                #expect(connection.writeNow(Self.chunk(index)))
                index += 1
            }
            // Killed with bytes still queued.
            close(peer)
            let check = try Timer(loop: loop)
            check.start(afterMilliseconds: 5, repeatMilliseconds: 5) {
                guard errors > 0 else {
                    _ = connection.writeNow(Self.chunk(index))
                    return
                }
                refusedAfter = !connection.writeNow([1, 2, 3])
                check.close()
                connection.close()
                finish()
            }
        }
        #expect(errors == 1, "a vanished peer is reported once")
        #expect(refusedAfter)
    }

    @Test func aPeerGoneBeforeAnythingWasQueuedIsReportedThroughOnWriteError() throws {
        signal(SIGPIPE, SIG_IGN)
        var errors = 0
        var accepted = false
        var refusedAfter = false
        try withLoop { loop, finish in
            let (connection, peer) = try adoptedSocketPair(loop: loop)
            connection.onWriteError = { _ in errors += 1 }
            close(peer)
            // The kernel refuses at once (EPIPE): the write is queued and fails from its callback, as `write` does.
            accepted = connection.writeNow([1, 2, 3, 4])
            let check = try Timer(loop: loop)
            check.start(afterMilliseconds: 2, repeatMilliseconds: 2) {
                guard errors > 0 else { return }
                refusedAfter = !connection.writeNow([5])
                check.close()
                connection.close()
                finish()
            }
        }
        #expect(accepted && errors == 1 && refusedAfter)
    }
}
