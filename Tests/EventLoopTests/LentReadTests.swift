import EventLoop
import Glibc
import Testing

/// `Connection.onBytes`: each read is lent (the loop's read buffer, no copy), at most `maxReadBytes` at a time,
/// instead of `onData`; the bytes are the stream's, in order, whatever the peer's write sizes; a peer killed
/// mid-stream ends it once.
@Suite struct LentReadTests {
    @Test func lentReadsCarryTheStreamInOrderInBoundedReadsAndEndOnce() throws {
        signal(SIGPIPE, SIG_IGN)
        var sent: [UInt8] = []
        var received: [UInt8] = []
        var largestRead = 0
        var copiedReads = 0
        var ends = 0
        try withLoop(timeoutMilliseconds: 10_000) { loop, finish in
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            let connection = try Connection.adopting(fileDescriptor: fds[0], loop: loop)
            connection.maxReadBytes = 7
            connection.onData = { _ in copiedReads += 1 }
            connection.onBytes = { bytes in
                largestRead = max(largestRead, bytes.count)
                received += bytes
            }
            connection.onEnd = { error in
                #expect(error == nil)
                ends += 1
                connection.close()
                finish()
            }
            try connection.startReading()
            // Writes of 1 to 300 bytes, then the peer dies with its last write only half done.
            for index in 0..<200 {
                let chunk = (0..<(1 + index * 3 % 300)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ index) }
                sent += chunk
                #expect(write(fds[1], chunk, chunk.count) == chunk.count)
            }
            let half: [UInt8] = [0xDE, 0xAD]
            sent += half
            #expect(write(fds[1], half, half.count) == 2)
            close(fds[1])
        }
        #expect(received == sent)
        #expect(largestRead <= 7)
        #expect(copiedReads == 0, "onData ran although onBytes was set")
        #expect(ends == 1)
    }
}
