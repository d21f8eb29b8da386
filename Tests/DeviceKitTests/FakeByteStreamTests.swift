import DeviceKit
import DeviceKitTesting
import Testing

/// The fake stream behaves as the glue expects of a connection: reads only while reading, at most
/// `maxReadBytes` each; a slow peer crosses the watermarks; a hang-up ends the stream.
@Suite struct FakeByteStreamTests {
    @Test func bytesArriveOnlyWhileReadingInReadsOfAtMostMaxReadBytes() throws {
        let stream = FakeByteStream()
        var reads: [[UInt8]] = []
        stream.onData = { reads.append(Array($0)) }
        stream.maxReadBytes = 2
        stream.receive([1, 2, 3, 4, 5])
        #expect(reads.isEmpty && stream.unread == [1, 2, 3, 4, 5], "nothing is read before startReading")
        try stream.startReading()
        #expect(reads == [[1, 2], [3, 4], [5]])
        stream.stopReading()
        stream.receive([6])
        #expect(reads.count == 3 && stream.unread == [6])
    }

    @Test func aSlowPeerPassesTheHighWatermarkAndDrainingCallsLowWatermark() {
        let stream = FakeByteStream()
        var drained = 0
        stream.onLowWatermark = { drained += 1 }
        stream.highWatermark = 4
        stream.lowWatermark = 1
        stream.peerReads = false
        stream.write([1, 2, 3])
        #expect(!stream.isAboveHighWatermark)
        stream.write([4, 5])
        #expect(stream.isAboveHighWatermark && stream.queuedWriteBytes == 5)
        stream.drain()
        #expect(!stream.isAboveHighWatermark && drained == 1)
        #expect(stream.takeWritten() == [1, 2, 3, 4, 5])
    }

    @Test func aHangUpEndsTheStreamAndAFailedWriteIsReported() throws {
        let stream = FakeByteStream()
        var ended = false
        var writeErrors = 0
        stream.onEnd = { _ in ended = true }
        stream.onWriteError = { _ in writeErrors += 1 }
        try stream.startReading()
        stream.failWrites()
        #expect(!stream.write([1]))
        #expect(writeErrors == 1)
        stream.end()
        #expect(ended)
        stream.close()
        #expect(!stream.isOpen && !stream.write([2]))
    }
}
