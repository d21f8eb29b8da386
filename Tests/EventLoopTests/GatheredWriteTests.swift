import EventLoop
import Glibc
import Testing

/// `Connection` gathers writes made while the kernel refuses bytes into one buffer and hands it to libuv as one
/// write once libuv's queue drains: a peer that does not read costs about the bytes it is owed, not a request
/// and a callback per small write, and the bytes, their order and every completion are kept.
@Suite struct GatheredWriteTests {
    @Test func smallWritesToAPeerThatDoesNotReadHoldOneRequestNotOneEach() throws {
        signal(SIGPIPE, SIG_IGN)
        var expected: [UInt8] = []
        var received: [UInt8] = []
        var inFlightWhileBlocked = -1
        var gatheredWhileBlocked = 0
        var completions: [Int] = []
        var failures = 0
        try withLoop(timeoutMilliseconds: 20_000) { loop, finish in
            let (connection, peer) = try adoptedSocketPair(loop: loop)
            connection.highWatermark = Int.max
            // 20,000 answers of 6 to 9 bytes, each with its completion, while the peer reads nothing.
            for index in 0..<20_000 {
                let bytes = Array("\r\nOK\(index % 1000)\r\n".utf8)
                expected += bytes
                connection.write(bytes) { error in
                    if error == nil { completions.append(index) } else { failures += 1 }
                }
            }
            #expect(connection.queuedWriteBytes <= expected.count)
            var ticks = 0
            let reader = try Timer(loop: loop)
            reader.start(afterMilliseconds: 1, repeatMilliseconds: 1) {
                ticks += 1
                if ticks == 1 { return }  // timers run before the pending phase with the first writes' callbacks
                if ticks == 2 {
                    // The writes the kernel took at once have had their callbacks; the peer has not read: without
                    // gathering, each write past the socket's buffers was a request of its own.
                    inFlightWhileBlocked = connection.writesInFlight
                    gatheredWhileBlocked = connection.gatheredBytes
                    #expect(connection.unsentBytes >= gatheredWhileBlocked)
                    return
                }
                guard Self.drained(connection, peer, into: &received, expected: expected.count) else { return }
                reader.close()
                finish()
            }
        }
        // The first write, then one request per `gatherUpToBytes` gathered: a handful for these 168 KB, where
        // each write past the socket's buffers was a request of its own.
        let bound = 2 + expected.count / Connection.gatherUpToBytes
        #expect(
            inFlightWhileBlocked >= 1 && inFlightWhileBlocked <= bound,
            "\(inFlightWhileBlocked) writes in flight, \(gatheredWhileBlocked) gathered")
        #expect(gatheredWhileBlocked > 0, "the socket's buffers took nearly everything: nothing was gathered")
        #expect(received == expected, "bytes were garbled, lost or reordered")
        #expect(completions == Array(0..<20_000), "completions missing or out of order")
        #expect(failures == 0)
    }

    /// A large write is handed to libuv as it is (gathering would copy it twice for a few hundred bytes saved),
    /// behind what was gathered before it; the bytes keep the order of the calls.
    @Test func largeWritesGoAsTheyAreBehindWhatWasGathered() throws {
        signal(SIGPIPE, SIG_IGN)
        var expected: [UInt8] = []
        var received: [UInt8] = []
        var inFlight = -1
        var gatheredAfterLarge = -1
        try withLoop(timeoutMilliseconds: 20_000) { loop, finish in
            let (connection, peer) = try adoptedSocketPair(loop: loop)
            connection.highWatermark = Int.max
            for round in 0..<3 {
                for index in 0..<2000 {
                    let bytes = Array("\(round).\(index);".utf8)
                    expected += bytes
                    connection.write(bytes)
                }
                let large = (0..<(64 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ round) }
                expected += large
                connection.write(large)
                if round == 0 { gatheredAfterLarge = connection.gatheredBytes }
            }
            var ticks = 0
            let reader = try Timer(loop: loop)
            reader.start(afterMilliseconds: 1, repeatMilliseconds: 1) {
                ticks += 1
                if ticks == 1 { return }
                if ticks == 2 { inFlight = connection.writesInFlight }
                guard Self.drained(connection, peer, into: &received, expected: expected.count) else { return }
                reader.close()
                finish()
            }
        }
        #expect(gatheredAfterLarge == 0, "a large write first hands what was gathered to libuv")
        // Per round: the small writes gathered into one request, then the large one: six, and the first writes'.
        #expect(inFlight >= 2 && inFlight <= 8, "\(inFlight) writes in flight")
        #expect(received == expected, "bytes were garbled, lost or reordered")
    }

    /// Reads what the peer has; once it holds `expected` bytes and nothing is queued, closes both ends: true.
    private static func drained(_ connection: Connection, _ peer: Int32, into received: inout [UInt8], expected: Int)
        -> Bool
    {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while case let count = read(peer, &buffer, buffer.count), count > 0 { received += buffer[..<count] }
        guard received.count >= expected, connection.queuedWriteBytes == 0 else { return false }
        connection.close()
        close(peer)
        return true
    }

    @Test func gatheredWritesAreCancelledWhenTheConnectionClosesAndWrittenBeforeAShutdown() throws {
        signal(SIGPIPE, SIG_IGN)
        var cancelled = 0
        var queuedAfterClose = -1
        var tail: [UInt8] = []
        var expectedTail: [UInt8] = []
        try withLoop(timeoutMilliseconds: 20_000) { loop, finish in
            // A close drops what was gathered: every completion hears it, and nothing stays counted as queued.
            let (closing, closingPeer) = try adoptedSocketPair(loop: loop)
            for _ in 0..<5000 {
                closing.write(Array("\r\nRING\r\n".utf8)) { error in
                    if error?.isCancelled == true { cancelled += 1 }
                }
            }
            #expect(closing.gatheredBytes > 0)
            closing.close()
            close(closingPeer)
            // closeAfterWrites: the gathered bytes are written before the sending side shuts down.
            let (draining, drainingPeer) = try adoptedSocketPair(loop: loop)
            for index in 0..<5000 {
                let bytes = Array("line \(index)\r\n".utf8)
                expectedTail += bytes
                draining.write(bytes)
            }
            #expect(draining.gatheredBytes > 0)
            draining.closeAfterWrites()
            let reader = try Timer(loop: loop)
            reader.start(afterMilliseconds: 1, repeatMilliseconds: 1) {
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(drainingPeer, &buffer, buffer.count)
                    if count > 0 {
                        tail += buffer[..<count]
                        continue
                    }
                    if count == 0 {  // the end of the stream: everything before it came
                        // By now libuv has cancelled the closed connection's own requests too.
                        queuedAfterClose = closing.queuedWriteBytes
                        reader.close()
                        close(drainingPeer)
                        finish()
                    }
                    return
                }
            }
        }
        #expect(cancelled > 0 && cancelled <= 5000)
        #expect(queuedAfterClose == 0)
        #expect(tail == expectedTail, "the shutdown came before the gathered bytes")
    }
}
