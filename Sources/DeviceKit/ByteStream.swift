import EventLoop
import PlatformConfig

/// A connected byte stream as a device's glue sees it: what it read, writing with backpressure, closing.
///
/// The hub hands devices EventLoop's `Connection` through this protocol, so device glue can be driven in tests
/// by `DeviceKitTesting.FakeByteStream` (bytes pushed in, written bytes read back, a slow or vanished peer
/// simulated) without sockets. Callbacks run on the loop thread. The backpressure contract is `Connection`'s
/// (`Sources/ARCHITECTURE.md`, "Backpressure"): once `queuedWriteBytes` passes `highWatermark` the stream is
/// `isAboveHighWatermark` until it drains to `lowWatermark`, when `onLowWatermark` runs.
package protocol ByteStream: AnyObject {
    /// Whether the peer is on TCP or a Unix socket (admission reserves a share for Unix peers).
    var kind: Connection.Kind { get }
    /// The peer's address for logs, or nil (Unix sockets).
    var peerDescription: String? { get }
    /// Whether the stream is still open.
    var isOpen: Bool { get }

    /// Bytes of one read (at most `maxReadBytes`), while reading.
    var onData: ((ArraySlice<UInt8>) -> Void)? { get set }
    /// Bytes of one read, lent for the call only (the read buffer itself); called instead of `onData` when set.
    var onBytes: ((UnsafeRawBufferPointer) -> Void)? { get set }
    /// The peer ended the stream (nil) or reading failed. Runs once.
    var onEnd: ((LoopError?) -> Void)? { get set }
    /// A write failed (the peer went away): the owner closes.
    var onWriteError: ((LoopError) -> Void)? { get set }
    /// Unsent bytes fell to `lowWatermark` after passing `highWatermark`.
    var onLowWatermark: (() -> Void)? { get set }
    var highWatermark: Int { get set }
    var lowWatermark: Int { get set }
    /// Most bytes one read hands to `onData`: with `stopReading` from `onData`, one bounded slice per pass.
    var maxReadBytes: Int { get set }
    /// A read at least this large makes the stream busy: read once per pass outside the poll until it is empty
    /// (`Connection.busyReadBytes`). `Int.max`: never.
    var busyReadBytes: Int { get set }
    /// How many times the stream became busy.
    var busyPeriods: UInt64 { get }
    /// Holds the next read until `deadline` (`MonotonicClock` nanoseconds), so that what the peer sends meanwhile
    /// arrives in one read (`Connection.holdReads`).
    func holdReads(until deadline: UInt64)
    /// How many times `holdReads` held the next read.
    var readHolds: UInt64 { get }
    /// The peer closed its side and nothing it sent is left to read, though the end may not be reported yet
    /// (`Connection.peerHasHungUp`): a one-peer port lets a new peer take over.
    var peerHasHungUp: Bool { get }

    func startReading() throws(LoopError)
    func stopReading()
    var isReading: Bool { get }

    /// Queues `bytes` for the peer. False when the stream is closed or a write already failed.
    func write(_ bytes: [UInt8], completion: ((LoopError?) -> Void)?) -> Bool
    /// Writes `bytes` at once as far as the peer's socket takes them and queues the rest behind, with no
    /// completion: the same order, watermarks and failure reporting (`onWriteError`) as `write`, without a queued
    /// request when the socket has room (`Connection.writeNow`). False when closed or a write already failed.
    /// The bytes are lent: read during the call only (what is queued is copied).
    func writeNow(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// Bytes queued and not yet taken by the kernel.
    var queuedWriteBytes: Int { get }
    /// Whether unsent bytes passed `highWatermark` and have not drained to `lowWatermark` since.
    var isAboveHighWatermark: Bool { get }

    /// Closes now; what is queued is dropped.
    func close(then callback: (() -> Void)?)
    /// Closes once what is queued has been written.
    func closeAfterWrites(then callback: (() -> Void)?)
}

extension ByteStream {
    /// Queues `bytes` for the peer. False when the stream is closed or a write already failed.
    @discardableResult
    package func write(_ bytes: [UInt8]) -> Bool { write(bytes, completion: nil) }
    package func close() { close(then: nil) }
    /// `writeNow` of an array's (or a slice's) bytes, read during the call only.
    package func writeNow(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { writeNow($0) } }
    package func writeNow(_ bytes: ArraySlice<UInt8>) -> Bool { bytes.withUnsafeBytes { writeNow($0) } }
    package func closeAfterWrites() { closeAfterWrites(then: nil) }
}

extension Connection: ByteStream {
    package var peerDescription: String? { peerAddress?.description }
}

/// A listener a device opened through `DeviceHost.listen`: where it is bound, and closing it.
package protocol StreamListener: AnyObject {
    /// The address bound (with the real port when the configuration said port 0).
    var boundEndpoint: Endpoint { get }
    func close(then callback: (() -> Void)?)
}

extension StreamListener {
    package func close() { close(then: nil) }
}

extension Listener: StreamListener {
    package var boundEndpoint: Endpoint { boundAddress.endpoint }
}
