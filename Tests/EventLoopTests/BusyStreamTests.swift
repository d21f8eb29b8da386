import EventLoop
import Glibc
import Testing

/// `Connection.busyReadBytes`: a stream whose read reaches the threshold leaves the poll and is read directly once
/// per pass until a read finds it empty. Nothing of the stream may be lost, doubled or reordered across the
/// switches between the two ways of reading, stopping and starting must hold while busy, the end of the stream
/// must be reported once, and a busy stream that is not reading must not keep the loop from blocking.
@Suite struct BusyStreamTests {
    /// Chunk `index`: a length and bytes no other chunk has at the same offset, so a reordering shows.
    private static func chunk(_ index: Int) -> [UInt8] {
        let length = 1 + (index &* 733) % 9000
        return (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index &* 7 &+ ($0 >> 8)) }
    }

    /// Writes bursts with pauses between them from another thread (so the stream turns busy, runs dry and turns
    /// busy again), then closes its end. Returns what it wrote.
    private static func writeBursts(to fd: Int32, bursts: Int) -> Thread {
        Thread {
            var sent: [UInt8] = []
            for burst in 0..<bursts {
                for index in 0..<6 {
                    let bytes = chunk(burst * 6 + index)
                    sent += bytes
                    var offset = 0
                    while offset < bytes.count {
                        let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                        if written > 0 { offset += written } else if errno != EINTR { return sent }
                    }
                }
                usleep(3_000)
            }
            close(fd)
            return sent
        }
    }

    /// A thread that returns what its body returns (Foundation-free).
    final class Thread {
        private var thread = pthread_t()
        private let body: () -> [UInt8]
        private var result: [UInt8] = []
        init(_ body: @escaping () -> [UInt8]) {
            self.body = body
            let box = Unmanaged.passRetained(self).toOpaque()
            // SAFETY: the retained box is released by the thread when its body has run.
            pthread_create(
                &thread, nil,
                { raw in
                    let owner = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
                    owner.result = owner.body()
                    return nil
                }, box)
        }
        func join() -> [UInt8] {
            pthread_join(thread, nil)
            return result
        }
    }

    /// Where two byte sequences first differ (nil when equal): a failure names an offset, not a megabyte of bytes.
    private func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        if let index = (0..<min(a.count, b.count)).first(where: { a[$0] != b[$0] }) { return index }
        return a.count == b.count ? nil : min(a.count, b.count)
    }

    private func busyStream(
        stoppingEachPass: Bool, threshold: Int, maxRead: Int
    ) throws -> (received: [UInt8], sent: [UInt8], ends: Int, periods: UInt64, largestRead: Int) {
        signal(SIGPIPE, SIG_IGN)
        var received: [UInt8] = []
        var ends = 0
        var periods: UInt64 = 0
        var largestRead = 0
        var writer: Thread?
        try withLoop(timeoutMilliseconds: 30_000) { loop, finish in
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            let connection = try Connection.adopting(fileDescriptor: fds[0], loop: loop)
            connection.maxReadBytes = maxRead
            connection.busyReadBytes = threshold
            let nextPass = try EndOfPass(loop: loop)
            connection.onBytes = { bytes in
                largestRead = max(largestRead, bytes.count)
                received += bytes
                guard stoppingEachPass else { return }
                // As an Ethernet stream port does with its slice: no further read this pass.
                connection.stopReading()
                nextPass.arm { try? connection.startReading() }
            }
            connection.onEnd = { error in
                #expect(error == nil)
                ends += 1
                periods = connection.busyPeriods
                connection.close()
                nextPass.close()
                finish()
            }
            try connection.startReading()
            writer = Self.writeBursts(to: fds[1], bursts: 40)
        }
        let sent = writer?.join() ?? []
        return (received, sent, ends, periods, largestRead)
    }

    @Test func aBusyStreamCarriesEveryByteInOrderAcrossBusyPeriodsAndEndsOnce() throws {
        let run = try busyStream(stoppingEachPass: false, threshold: 512, maxRead: 4096)
        #expect(run.sent.count > 100_000)
        #expect(firstDifference(run.received, run.sent) == nil)
        #expect(run.ends == 1)
        // Bursts with pauses: busy, dry (back to the poll), busy again.
        #expect(run.periods >= 2)
        #expect(run.largestRead <= 4096)
    }

    @Test func stoppingAndStartingEveryPassWhileBusyLosesNothing() throws {
        let run = try busyStream(stoppingEachPass: true, threshold: 512, maxRead: 3000)
        #expect(firstDifference(run.received, run.sent) == nil)
        #expect(run.ends == 1)
        #expect(run.periods >= 2)
        #expect(run.largestRead <= 3000)
    }

    @Test func readsBelowTheThresholdNeverMakeTheStreamBusy() throws {
        // Unbounded reads (the loop's read buffer, far above any burst): none fills what it asked for either.
        let run = try busyStream(stoppingEachPass: false, threshold: 1 << 20, maxRead: .max)
        #expect(firstDifference(run.received, run.sent) == nil)
        #expect(run.periods == 0)
    }

    /// Reads sized below the threshold (an Ethernet port's small slice) could never reach it: a read that fills
    /// what it asked for shows more is waiting, and makes the stream busy as a large read would.
    @Test func aReadThatFillsItsSizeMakesTheStreamBusyWhenTheThresholdIsAboveIt() throws {
        let run = try busyStream(stoppingEachPass: true, threshold: 1 << 20, maxRead: 2048)
        #expect(firstDifference(run.received, run.sent) == nil)
        #expect(run.ends == 1)
        #expect(run.periods >= 2)
        #expect(run.largestRead <= 2048)
    }

    @Test func fullReadsNeverMakeTheStreamBusyWhenBusyReadingIsOff() throws {
        let run = try busyStream(stoppingEachPass: true, threshold: .max, maxRead: 2048)
        #expect(firstDifference(run.received, run.sent) == nil)
        #expect(run.periods == 0)
    }

    /// A busy stream whose owner stops reading (a paused sender) leaves the loop free to block; starting again
    /// reads what waited, and closing it while busy leaves no handle open (the leak check of `withLoop`).
    @Test func aStoppedBusyStreamLetsTheLoopBlockAndClosingItLeavesNothing() throws {
        signal(SIGPIPE, SIG_IGN)
        var received = 0
        var sawPolling = false
        var stoppedLoopBlocks = false
        try withLoop(timeoutMilliseconds: 10_000) { loop, finish in
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            let connection = try Connection.adopting(fileDescriptor: fds[0], loop: loop)
            connection.maxReadBytes = 1000
            connection.busyReadBytes = 1000
            let block = [UInt8](repeating: 7, count: 50_000)
            #expect(write(fds[1], block, block.count) == block.count)
            let check = try Timer(loop: loop)
            connection.onBytes = { bytes in
                received += bytes.count
                if connection.isBusy && loop.readsBusyStreams { sawPolling = true }
                guard received >= 10_000, connection.isReading, !check.isActive else { return }
                connection.stopReading()
                // Busy, not reading: nothing to read directly, so the loop must not spin without waiting.
                stoppedLoopBlocks = connection.isBusy && !loop.readsBusyStreams
                check.start(afterMilliseconds: 20) {
                    try? connection.startReading()
                    #expect(loop.readsBusyStreams)
                    check.start(afterMilliseconds: 50) {
                        // Everything written was read; closing while still busy.
                        connection.close()
                        check.close()
                        close(fds[1])
                        finish()
                    }
                }
            }
            try connection.startReading()
        }
        #expect(sawPolling)
        #expect(stoppedLoopBlocks)
        #expect(received == 50_000)
    }

    /// A loop whose only work is a busy stream keeps running until the stream ends (`Loop.run` returns when no
    /// active handle is left: the busy stream's idle handle must count, as its reading handle did).
    @Test func aBusyStreamAloneKeepsTheLoopRunningToTheEndOfTheStream() throws {
        signal(SIGPIPE, SIG_IGN)
        let loop = try Loop()
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let connection = try Connection.adopting(fileDescriptor: fds[0], loop: loop)
        connection.maxReadBytes = 1000
        connection.busyReadBytes = 1000
        var received = 0
        var ended = false
        connection.onBytes = { received += $0.count }
        connection.onEnd = { _ in
            ended = true
            connection.close()
        }
        let block = [UInt8](repeating: 3, count: 60_000)
        #expect(write(fds[1], block, block.count) == block.count)
        close(fds[1])
        try connection.startReading()
        loop.run()
        #expect(received == 60_000)
        #expect(ended)
        #expect(connection.busyPeriods >= 1)
        #expect(loop.shutdown() == 0)
    }

    /// `peerHasHungUp`: true once the peer closed and nothing it sent is unread, checked without reading.
    @Test func aHungUpPeerIsSeenWithoutReadingOnlyOnceNothingIsLeftToRead() throws {
        let loop = try Loop()
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let connection = try Connection.adopting(fileDescriptor: fds[0], loop: loop)
        #expect(!connection.peerHasHungUp)
        let bytes: [UInt8] = [1, 2, 3]
        #expect(write(fds[1], bytes, 3) == 3)
        close(fds[1])
        // Bytes still wait: not hung up for the port's purposes (and peeking did not consume them).
        #expect(!connection.peerHasHungUp)
        #expect(!connection.peerHasHungUp)
        var drained = [UInt8](repeating: 0, count: 8)
        #expect(read(connection.fileDescriptor, &drained, 8) == 3)
        #expect(Array(drained[..<3]) == bytes)
        #expect(connection.peerHasHungUp)
        connection.close()
        #expect(loop.shutdown() == 0)
    }
}
