import DeviceKit
import EventLoop

/// An in-memory `ByteStream` for testing device glue without sockets, in the manner of NIO's
/// `EmbeddedChannel`: the test plays the peer.
///
/// - `receive(_:)` delivers bytes as one read (only while the device reads, `maxReadBytes` at a time; what
///   arrives while reading is stopped waits in `unread`, as it would in the kernel, until `startReading`).
/// - `takeWritten()` returns what the device wrote since the last call.
/// - A slow reader: `peerReads = false` keeps written bytes queued (`queuedWriteBytes` grows, the high watermark
///   is passed); `drain()` lets the peer read them all, crossing the low watermark.
/// - `end()` is the peer hanging up; `failWrites()` makes the next write fail as with a vanished peer.
package final class FakeByteStream: ByteStream {
    package let kind: Connection.Kind
    package var peerDescription: String?
    package private(set) var isOpen = true
    package private(set) var closedAfterWrites = false

    package var onData: ((ArraySlice<UInt8>) -> Void)?
    package var onBytes: ((UnsafeRawBufferPointer) -> Void)?
    package var onEnd: ((LoopError?) -> Void)?
    package var onWriteError: ((LoopError) -> Void)?
    package var onLowWatermark: (() -> Void)?
    package var highWatermark = 1 << 20
    package var lowWatermark = 256 * 1024
    package var maxReadBytes = Int.max
    /// Kept as set; a fake stream has no poll to leave, so it never becomes busy.
    package var busyReadBytes = Int.max
    package let busyPeriods: UInt64 = 0
    /// The deadlines `holdReads` was given, in order; a fake stream delivers at once regardless (the test
    /// decides when the peer's bytes arrive).
    package private(set) var readHoldDeadlines: [UInt64] = []
    package var readHolds: UInt64 { UInt64(readHoldDeadlines.count) }
    package func holdReads(until deadline: UInt64) { readHoldDeadlines.append(deadline) }
    /// Set by `hangUpUnseen()`, or once closed.
    package var peerHasHungUp: Bool { hungUpUnseen || !isOpen }
    private var hungUpUnseen = false
    package private(set) var isReading = false

    /// Bytes the peer sent that the device has not read yet (it stopped reading).
    package private(set) var unread: [UInt8] = []
    /// Whether the peer takes what the device writes at once (false: a slow reader, bytes stay queued).
    package var peerReads = true
    private var written: [UInt8] = []
    package private(set) var queuedWriteBytes = 0
    package private(set) var isAboveHighWatermark = false
    private var writesFail = false

    package init(kind: Connection.Kind = .unix, peerDescription: String? = nil) {
        self.kind = kind
        self.peerDescription = peerDescription
    }

    // MARK: The peer's side (the test)

    /// The peer sends `bytes`: delivered now in reads of at most `maxReadBytes` while the device reads, the rest
    /// kept in `unread` until it reads again.
    package func receive(_ bytes: some Sequence<UInt8>) {
        unread.append(contentsOf: bytes)
        deliverUnread()
    }

    /// What the device wrote since the last call (everything, even bytes a slow peer has not read yet).
    package func takeWritten() -> [UInt8] {
        defer { written.removeAll() }
        return written
    }

    /// The slow peer reads everything queued: the queue empties and, if it had passed the high watermark,
    /// `onLowWatermark` runs.
    package func drain() {
        queuedWriteBytes = 0
        if isAboveHighWatermark {
            isAboveHighWatermark = false
            onLowWatermark?()
        }
    }

    /// The peer hangs up (end of stream).
    package func end() {
        guard isOpen, let onEnd else { return }
        isReading = false
        onEnd(nil)
    }

    /// The peer has hung up, but the end is not delivered yet (`peerHasHungUp`; `end()` delivers it).
    package func hangUpUnseen() { hungUpUnseen = true }

    /// The next write fails, as when the peer has gone (`onWriteError` runs, the write returns false).
    package func failWrites() { writesFail = true }

    // MARK: ByteStream

    package func startReading() throws(LoopError) {
        guard isOpen else { return }
        isReading = true
        deliverUnread()
    }

    package func stopReading() { isReading = false }

    package func write(_ bytes: [UInt8], completion: ((LoopError?) -> Void)?) -> Bool {
        guard isOpen else { return false }
        if writesFail {
            let error = LoopError(code: -32, operation: "write")
            completion?(error)
            onWriteError?(error)
            return false
        }
        written.append(contentsOf: bytes)
        if peerReads {
            completion?(nil)
        } else {
            queuedWriteBytes += bytes.count
            if queuedWriteBytes > highWatermark { isAboveHighWatermark = true }
            completion?(nil)
        }
        return true
    }

    /// As `write` without a completion: a real connection's kernel taking part of it at once is invisible here.
    package func writeNow(_ bytes: UnsafeRawBufferPointer) -> Bool { write(Array(bytes), completion: nil) }

    package func close(then callback: (() -> Void)?) {
        isOpen = false
        isReading = false
        onData = nil
        onBytes = nil
        onEnd = nil
        onWriteError = nil
        onLowWatermark = nil
        callback?()
    }

    package func closeAfterWrites(then callback: (() -> Void)?) {
        closedAfterWrites = true
        close(then: callback)
    }

    private func deliverUnread() {
        while isOpen, isReading, !unread.isEmpty, onData != nil || onBytes != nil {
            let count = min(max(1, maxReadBytes), unread.count)
            let chunk = Array(unread[..<count])
            unread.removeFirst(count)
            if let onBytes {
                // A lent buffer, as a connection lends its read buffer: scribbled over once the call returns, so a
                // callee that kept a pointer into it instead of a copy sees garbage.
                var lent = chunk
                lent.withUnsafeMutableBytes { buffer in
                    onBytes(UnsafeRawBufferPointer(buffer))
                    for index in buffer.indices { buffer[index] = 0xEE }
                }
            } else {
                onData?(chunk[...])
            }
        }
    }
}
