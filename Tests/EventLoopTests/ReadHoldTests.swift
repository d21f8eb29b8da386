import EventLoop
import Glibc
import Testing

/// `Connection.holdReads(until:)`: the next read waits for the deadline, out of the poll, and then carries what
/// arrived meanwhile in one read. While only held streams wait, the loop blocks (no pass spins) and still runs to
/// the deadline when nothing else keeps it alive; a held stream found empty returns to the poll; the end of the
/// stream is reported once; stopping and starting keeps the deadline; nothing is lost or reordered.
@Suite struct ReadHoldTests {
    private static let millisecond: UInt64 = 1_000_000

    private func pair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        return (fds[0], fds[1])
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        #expect(write(fd, bytes, bytes.count) == bytes.count)
    }

    /// CPU time this thread has used, in nanoseconds.
    private func threadCPU() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// On a loop run as the hub runs it (`Loop.run`, blocking in the poll whenever nothing is due), so the CPU
    /// the thread uses while the read is held shows whether any pass spun meanwhile.
    @Test func aHeldReadWaitsForItsDeadlineAndCarriesWhatArrivedMeanwhileInOneRead() throws {
        var reads: [(at: UInt64, bytes: [UInt8])] = []
        var deadline: UInt64 = 0
        var heldWithoutSpinning = false
        var cpuDuringHold: UInt64 = 0
        var cpuAtHold: UInt64 = 0
        let (ours, peer) = pair()
        defer { close(peer) }
        let loop = try Loop()
        let connection = try Connection.adopting(fileDescriptor: ours, loop: loop)
        connection.onBytes = { bytes in
            reads.append((MonotonicClock.nanoseconds(), Array(bytes)))
            if reads.count == 1 {
                deadline = MonotonicClock.nanoseconds() + 60 * Self.millisecond
                connection.holdReads(until: deadline)
                // Three writes while the read is held: they must arrive together, at the deadline.
                send(peer, [1, 2, 3])
                send(peer, [4, 5])
                send(peer, [6])
                heldWithoutSpinning = connection.isBusy && !loop.readsBusyStreams && loop.waitsForHeldStream
                cpuAtHold = threadCPU()
            } else {
                cpuDuringHold = threadCPU() - cpuAtHold
                connection.close()
            }
        }
        try connection.startReading()
        send(peer, [0])
        // Returns once the connection closed and nothing is left active (the held read's wake-up included).
        loop.run()
        #expect(loop.shutdown() == 0)
        #expect(reads.count == 2)
        #expect(reads.first?.bytes == [0])
        #expect(reads.last?.bytes == [1, 2, 3, 4, 5, 6])
        #expect((reads.last?.at ?? 0) >= deadline)
        #expect(heldWithoutSpinning)
        // 60 ms held: a loop that polled without waiting would have burnt most of it.
        #expect(cpuDuringHold < 15 * Self.millisecond, "held for 60 ms, used \(cpuDuringHold) ns of CPU")
    }

    @Test func aHeldStreamFoundEmptyAtItsDeadlineReturnsToThePollAndIsReadPromptlyThen() throws {
        var reads: [[UInt8]] = []
        var backInThePoll = false
        var sentLateAt: UInt64 = 0
        var lateReadDelay: UInt64 = .max
        let (ours, peer) = pair()
        defer { close(peer) }
        try withLoop(timeoutMilliseconds: 10_000) { loop, finish in
            let connection = try Connection.adopting(fileDescriptor: ours, loop: loop)
            let later = try Timer(loop: loop)
            connection.onBytes = { bytes in
                reads.append(Array(bytes))
                if reads.count == 1 {
                    connection.holdReads(until: MonotonicClock.nanoseconds() + 5 * Self.millisecond)
                    // Long after the deadline, whose read found nothing: the stream is watched by the poll again.
                    later.start(afterMilliseconds: 60) {
                        backInThePoll = !connection.isBusy && !loop.waitsForHeldStream
                        sentLateAt = MonotonicClock.nanoseconds()
                        send(peer, [9, 9])
                    }
                } else {
                    lateReadDelay = MonotonicClock.nanoseconds() - sentLateAt
                    later.close()
                    connection.close()
                    finish()
                }
            }
            try connection.startReading()
            send(peer, [1])
        }
        #expect(reads == [[1], [9, 9]])
        #expect(backInThePoll)
        // Read from the poll's wake-up, not at some later deadline (generous for a loaded machine).
        #expect(lateReadDelay < 40 * Self.millisecond)
    }

    @Test func theEndOfAHeldStreamIsReportedOnceAtTheDeadline() throws {
        var ends = 0
        var endedAt: UInt64 = 0
        var deadline: UInt64 = 0
        var received: [UInt8] = []
        let (ours, peer) = pair()
        try withLoop(timeoutMilliseconds: 10_000) { loop, finish in
            let connection = try Connection.adopting(fileDescriptor: ours, loop: loop)
            connection.onBytes = { bytes in
                received += bytes
                guard received.count == 1 else { return }
                deadline = MonotonicClock.nanoseconds() + 30 * Self.millisecond
                connection.holdReads(until: deadline)
                send(peer, [2, 3])
                close(peer)
            }
            connection.onEnd = { error in
                #expect(error == nil)
                ends += 1
                endedAt = MonotonicClock.nanoseconds()
                connection.close()
                finish()
            }
            try connection.startReading()
            send(peer, [1])
        }
        #expect(received == [1, 2, 3])
        #expect(ends == 1)
        #expect(endedAt >= deadline)
    }

    /// As an Ethernet port does with its slice: reading stopped during the delivery and started again at the end
    /// of the pass. The deadline still holds.
    @Test func stoppingAndStartingAHeldStreamKeepsItsDeadline() throws {
        var reads: [(at: UInt64, bytes: [UInt8])] = []
        var deadline: UInt64 = 0
        let (ours, peer) = pair()
        defer { close(peer) }
        try withLoop(timeoutMilliseconds: 10_000) { loop, finish in
            let connection = try Connection.adopting(fileDescriptor: ours, loop: loop)
            let nextPass = try EndOfPass(loop: loop)
            connection.onBytes = { bytes in
                reads.append((MonotonicClock.nanoseconds(), Array(bytes)))
                guard reads.count == 1 else {
                    nextPass.close()
                    connection.close()
                    return finish()
                }
                deadline = MonotonicClock.nanoseconds() + 40 * Self.millisecond
                connection.holdReads(until: deadline)
                connection.stopReading()
                send(peer, [7])
                nextPass.arm { try? connection.startReading() }
            }
            try connection.startReading()
            send(peer, [5])
        }
        #expect(reads.map(\.bytes) == [[5], [7]])
        #expect((reads.last?.at ?? 0) >= deadline)
    }

    /// `Loop.run` returns when no active handle is left: a held stream's pending wake-up must count, as its
    /// reading handle did, or the loop would end with the peer's bytes unread.
    @Test func aHeldStreamAloneKeepsTheLoopRunningToItsDeadline() throws {
        let loop = try Loop()
        let (ours, peer) = pair()
        let connection = try Connection.adopting(fileDescriptor: ours, loop: loop)
        var received: [UInt8] = []
        var ended = false
        connection.onBytes = { bytes in
            received += bytes
            if received.count == 1 {
                connection.holdReads(until: MonotonicClock.nanoseconds() + 20 * Self.millisecond)
                send(peer, [2])
                close(peer)
            }
        }
        connection.onEnd = { _ in
            ended = true
            connection.close()
        }
        try connection.startReading()
        send(peer, [1])
        loop.run()
        #expect(received == [1, 2])
        #expect(ended)
        #expect(connection.readHolds == 1)
        #expect(loop.shutdown() == 0)
    }

    /// Bursts from another thread, every read held a little: every byte arrives once, in order, and the stream
    /// ends once; closing while held leaves no handle open (`withLoop`'s leak check).
    @Test func holdingEveryReadLosesNothingAndEndsOnce() throws {
        signal(SIGPIPE, SIG_IGN)
        var received: [UInt8] = []
        var ends = 0
        var holds: UInt64 = 0
        let (ours, peer) = pair()
        let writer = BusyStreamTests.Thread {
            var sent: [UInt8] = []
            for burst in 0..<200 {
                let bytes = (0..<(1 + burst * 37 % 3000)).map { UInt8(truncatingIfNeeded: $0 &+ burst) }
                sent += bytes
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes { write(peer, $0.baseAddress, $0.count) }
                    if written > 0 { offset += written } else if errno != EINTR { return sent }
                }
                if burst % 7 == 0 { usleep(500) }
            }
            close(peer)
            return sent
        }
        try withLoop(timeoutMilliseconds: 30_000) { loop, finish in
            let connection = try Connection.adopting(fileDescriptor: ours, loop: loop)
            connection.maxReadBytes = 1500
            connection.onBytes = { bytes in
                received += bytes
                connection.holdReads(until: MonotonicClock.nanoseconds() + 100_000)
            }
            connection.onEnd = { error in
                #expect(error == nil)
                ends += 1
                holds = connection.readHolds
                connection.close()
                finish()
            }
            try connection.startReading()
        }
        let sent = writer.join()
        #expect(received == sent)
        #expect(ends == 1)
        #expect(holds > 10)
    }

    /// A read that filled all it asked for left more in the socket: there is nothing to gather, so a hold asked
    /// during it is not taken and the rest is read at once.
    @Test func aHoldAskedDuringAFullReadIsNotTaken() throws {
        var reads: [(at: UInt64, bytes: [UInt8])] = []
        let (ours, peer) = pair()
        defer { close(peer) }
        try withLoop(timeoutMilliseconds: 10_000) { loop, finish in
            let connection = try Connection.adopting(fileDescriptor: ours, loop: loop)
            connection.maxReadBytes = 4
            connection.onBytes = { bytes in
                reads.append((MonotonicClock.nanoseconds(), Array(bytes)))
                connection.holdReads(until: MonotonicClock.nanoseconds() + 200 * Self.millisecond)
                guard reads.reduce(0, { $0 + $1.bytes.count }) == 6 else { return }
                #expect(connection.readHolds == 1, "only the last, short read held")
                connection.close()
                finish()
            }
            try connection.startReading()
            send(peer, [1, 2, 3, 4, 5, 6])
        }
        #expect(reads.map(\.bytes) == [[1, 2, 3, 4], [5, 6]])
        #expect(reads.count == 2 && reads[1].at - reads[0].at < 100 * Self.millisecond)
    }

    /// Many streams held in one pass, the later ones with earlier deadlines (each hold is taken in one step, and
    /// the wake-up must move to the earliest): every stream's next read comes at or after its own deadline, and
    /// none is lost.
    @Test func manyStreamsHeldInOnePassAreEachReadAtTheirOwnDeadline() throws {
        let count = 200
        var pairs: [(ours: Int32, peer: Int32)] = []
        for _ in 0..<count { pairs.append(pair()) }
        defer { for pair in pairs { close(pair.peer) } }
        var deadlines = [UInt64](repeating: 0, count: count)
        var secondReadAt = [UInt64](repeating: 0, count: count)
        var finished = 0
        let loop = try Loop()
        var connections: [Connection] = []
        let start = MonotonicClock.nanoseconds()
        for (index, pair) in pairs.enumerated() {
            let connection = try Connection.adopting(fileDescriptor: pair.ours, loop: loop)
            var reads = 0
            connection.onBytes = { _ in
                reads += 1
                if reads == 1 {
                    // Later streams hold to earlier deadlines: 40 ms down to 20 ms after the start.
                    deadlines[index] = start + (40 - UInt64(index * 20 / count)) * Self.millisecond
                    connection.holdReads(until: deadlines[index])
                    send(pair.peer, [2])
                } else {
                    secondReadAt[index] = MonotonicClock.nanoseconds()
                    finished += 1
                    connection.close()
                }
            }
            try connection.startReading()
            connections.append(connection)
        }
        for pair in pairs { send(pair.peer, [1]) }
        loop.run()
        #expect(loop.shutdown() == 0)
        #expect(finished == count)
        let early = (0..<count).filter { secondReadAt[$0] < deadlines[$0] }
        #expect(early.isEmpty, "read before their deadline: \(early.prefix(5))")
        // Nor long after it: deadlines 20 ms apart, so a wake-up left at the first (latest) one would make the
        // typical stream 10 ms late. The median, so that a loaded machine's odd late pass does not decide.
        let lateness = (0..<count).map { secondReadAt[$0] &- deadlines[$0] }.sorted()
        #expect(lateness[count / 2] < 5 * Self.millisecond, "median lateness \(lateness[count / 2]) ns")
        #expect(connections.allSatisfy { $0.readHolds == 1 })
    }

    /// A held stream closed before its deadline: nothing fires into it, and the loop is left with no handle.
    @Test func closingAHeldStreamBeforeItsDeadlineLeavesNothing() throws {
        let (ours, peer) = pair()
        defer { close(peer) }
        var closedWhileHeld = false
        try withLoop(timeoutMilliseconds: 5_000) { loop, finish in
            let connection = try Connection.adopting(fileDescriptor: ours, loop: loop)
            connection.onBytes = { _ in
                connection.holdReads(until: MonotonicClock.nanoseconds() + 30 * Self.millisecond)
                send(peer, [2])
                closedWhileHeld = loop.waitsForHeldStream
                connection.close()
                let after = try? Timer(loop: loop)
                after?.start(afterMilliseconds: 60) {
                    after?.close()
                    finish()
                }
            }
            try connection.startReading()
            send(peer, [1])
        }
        #expect(closedWhileHeld)
    }
}
