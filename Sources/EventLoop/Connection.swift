import CUV
import Glibc

/// A connected byte stream: TCP (IPv4/IPv6, `TCP_NODELAY`) or a Unix socket, or a child's pipe.
///
/// Reads arrive through `onData` as byte slices, as large as the kernel hands over, so a caller can
/// handle every frame one read delivered in one go. Writes are queued by libuv; `queuedWriteBytes`
/// and the watermark callbacks let a producer pause when a peer reads slowly and resume later.
///
/// Small writes made while the kernel refuses bytes (libuv holds some unsent) are gathered into one buffer here
/// and handed to libuv as one write once its queue has drained. A libuv write costs a request, a callback and a
/// private copy, a few hundred bytes whatever its size: queued one per small write, a peer that did not read
/// cost about 20 times the bytes it was owed, so byte limits on unsent output did not bound memory. A write of
/// `gatherBelowBytes` or more goes to libuv as it is (its overhead is small beside it, and gathering would copy
/// it twice), after whatever was gathered before it.
package final class Connection: LoopHandle {
    package enum Kind: Sendable { case tcp, unix }

    package let kind: Kind
    // SAFETY (the three `@exclusivity(unchecked)` callbacks below): set and read on the loop's thread only, and a
    // read copies the closure out before calling it, so a callback that replaces or clears its own slot (or
    // another's) writes while no access is open. Checked, they were two runtime calls per read of every stream.
    /// Bytes received. The slice is only the bytes of this read.
    @exclusivity(unchecked) package var onData: ((ArraySlice<UInt8>) -> Void)?
    /// Bytes received, lent: the read buffer itself, valid during the call only (nothing copied or allocated per
    /// read). When set, it is called instead of `onData`; the callee copies what it keeps.
    @exclusivity(unchecked) package var onBytes: ((UnsafeRawBufferPointer) -> Void)?
    /// The peer closed its side (`nil`) or reading failed. Called once; the connection is not closed for you.
    @exclusivity(unchecked) package var onEnd: ((LoopError?) -> Void)?
    /// The write queue grew past `highWatermark`.
    package var onHighWatermark: (() -> Void)?
    /// The write queue drained to `lowWatermark` or below after having passed `highWatermark`.
    package var onLowWatermark: (() -> Void)?
    /// A write failed (the peer vanished, usually). Reported once per connection.
    package var onWriteError: ((LoopError) -> Void)?

    // SAFETY (every `@exclusivity(unchecked)` below): a connection is used on its loop's thread only, and these
    // scalars are read or written whole, never across a call that could reach them again. A checked access is a
    // runtime call each, and a stream port makes several per read.
    @exclusivity(unchecked) package var highWatermark = 1 << 20
    @exclusivity(unchecked) package var lowWatermark = 256 * 1024
    /// Bytes handed to `write` whose completion has not been reported yet.
    @exclusivity(unchecked) package private(set) var queuedWriteBytes = 0
    @exclusivity(unchecked) package private(set) var isAboveHighWatermark = false
    @exclusivity(unchecked) package private(set) var bytesRead: UInt64 = 0
    @exclusivity(unchecked) package private(set) var bytesWritten: UInt64 = 0
    @exclusivity(unchecked) private var reading = false
    @exclusivity(unchecked) private var ended = false
    @exclusivity(unchecked) private var writeFailed = false
    /// Bytes written while libuv held unsent bytes, in order, not yet handed to libuv; and their completions.
    private var gathered: [UInt8] = []
    private var gatheredCompletions: [(LoopError?) -> Void] = []
    /// Writes smaller than this are gathered while libuv holds unsent bytes.
    package static let gatherBelowBytes = 4096
    /// Gathered bytes are handed to libuv once they reach this, even while it still holds unsent bytes: one
    /// request per 64 KiB costs nothing beside them, and a slow reader's progress shows in `bytesWritten` as
    /// each completes (one gathered request of megabytes completed only when all of it was read).
    package static let gatherUpToBytes = 64 << 10

    var stream: UnsafeMutablePointer<uv_stream_t> { pointer(as: uv_stream_t.self) }

    init(loop: Loop, kind: Kind) throws(LoopError) {
        self.kind = kind
        super.init(loop: loop, type: kind == .tcp ? UV_TCP : UV_NAMED_PIPE)
        switch kind {
        case .tcp: try LoopError.check(uv_tcp_init(loop.raw, pointer(as: uv_tcp_t.self)), "uv_tcp_init")
        case .unix: try LoopError.check(uv_pipe_init(loop.raw, pointer(as: uv_pipe_t.self), 0), "uv_pipe_init")
        }
        didOpen()
    }

    /// Wraps an existing file descriptor (a socketpair end, a pty master) as a stream.
    package static func adopting(fileDescriptor fd: Int32, loop: Loop) throws(LoopError) -> Connection {
        let connection = try Connection(loop: loop, kind: .unix)
        let result = uv_pipe_open(connection.pointer(as: uv_pipe_t.self), fd)
        if result < 0 {
            connection.close()
            throw LoopError(code: result, operation: "uv_pipe_open")
        }
        return connection
    }

    /// The peer's address for TCP connections (nil for Unix sockets).
    package var peerAddress: InetAddress? {
        guard kind == .tcp, isOpen else { return nil }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { pointer in
            // SAFETY: sockaddr_storage is large enough for any address the kernel returns.
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                guard uv_tcp_getpeername(self.pointer(as: uv_tcp_t.self), address, &length) == 0 else { return nil }
                return inetAddress(from: address)
            }
        }
    }

    /// The socket's descriptor (for `sendmsg` with ancillary data, which libuv cannot send on a plain stream).
    /// -1 once closed.
    package var fileDescriptor: Int32 {
        guard isOpen else { return -1 }
        var fd: uv_os_fd_t = -1
        // SAFETY: the handle is open; uv_fileno only reads it.
        let handle = UnsafeMutableRawPointer(stream).assumingMemoryBound(to: uv_handle_t.self)
        return uv_fileno(handle, &fd) == 0 ? fd : -1
    }

    /// Bytes written but not yet handed to the kernel (libuv's and those gathered behind them). When 0, a raw write
    /// on `fileDescriptor` keeps the stream's byte order.
    package var unsentBytes: Int {
        guard isOpen else { return 0 }
        return uv_stream_get_write_queue_size(stream) + gathered.count
    }

    /// Bytes gathered behind libuv's unsent ones, waiting for its queue to drain.
    package var gatheredBytes: Int { gathered.count }
    /// Writes handed to libuv whose callback has not run: each holds a request and a copy of its bytes.
    @exclusivity(unchecked) package private(set) var writesInFlight = 0

    func enableNoDelay() { _ = uv_tcp_nodelay(pointer(as: uv_tcp_t.self), 1) }

    // MARK: Reading

    /// Most bytes one read hands to `onData` (at most the loop's shared read buffer). With a small value and
    /// `stopReading` from `onData`, a server takes one bounded slice of a busy peer's input per loop pass.
    @exclusivity(unchecked) package var maxReadBytes = Int.max

    /// A read of at least this many bytes makes the stream *busy* (`Sources/ARCHITECTURE.md`, "Busy streams"): it
    /// leaves the poll and is read directly once per pass (`BusyStreams`), until a read finds nothing and the poll
    /// watches it again. A peer that keeps the socket full then writes into a socket nobody waits on, which costs
    /// its writes no wake-up. A read that fills all it asked for (`maxReadBytes`, at most the loop's read buffer)
    /// counts as reaching it: more is waiting, however small the reads are sized. `Int.max` (the default): never.
    @exclusivity(unchecked) package var busyReadBytes = Int.max
    /// Read directly each pass while reading, not through libuv (`busyReadBytes`).
    @exclusivity(unchecked) package private(set) var isBusy = false
    /// How many times the stream became busy.
    @exclusivity(unchecked) package private(set) var busyPeriods: UInt64 = 0
    /// No read before this `MonotonicClock` time (`holdReads`); 0: none asked for since the stream last became
    /// idle.
    @exclusivity(unchecked) private(set) var readDue: UInt64 = 0
    /// How many times the owner held the next read (`holdReads`).
    @exclusivity(unchecked) package private(set) var readHolds: UInt64 = 0
    /// The read being delivered filled all it asked for.
    @exclusivity(unchecked) private var deliveringFullRead = false

    /// Holds the next read until `deadline` (`MonotonicClock` nanoseconds), so what the peer sends meanwhile is
    /// read in one read, not in one per wake-up (`Sources/ARCHITECTURE.md`, "Busy streams"). For an owner that
    /// just read several messages at once: the peer is writing faster than it is read, and waiting a few
    /// microseconds more lets the kernel gather a larger batch, which costs every side fewer system calls and
    /// wake-ups. Asked during the delivery of a read that filled all it asked for, it holds nothing: more is
    /// waiting already. The stream leaves the poll as a busy one does and is read directly at the deadline (a
    /// `PreciseTimer` wakes the loop); a read there that finds nothing returns it to the poll. Reading stopped
    /// meanwhile keeps the deadline for when it starts again. The end of the stream or an error is noticed at the
    /// deadline too.
    package func holdReads(until deadline: UInt64) {
        // A read that filled all it asked for left more waiting: nothing to gather, the next read is due now (and
        // the stream becomes busy by the rule for full reads).
        guard !deliveringFullRead, isOpen, !ended, let streams = loop.busyStreams else { return }
        readDue = max(deadline, 1)
        readHolds &+= 1
        guard !isBusy else {
            if reading { streams.deadlineChanged(to: readDue) }
            return
        }
        // Out of the poll as a busy stream is, counted in `readHolds` rather than `busyPeriods`.
        leavePoll(for: streams)
    }

    /// Starts delivering reads to `onData`.
    package func startReading() throws(LoopError) {
        guard isOpen, !reading else { return }
        if isBusy {
            reading = true
            loop.busyStreams?.add(self)
            return
        }
        let result = uv_read_start(
            stream,
            { handle, _, buffer in
                // SAFETY: the owner is alive while the handle is open; its loop's read buffer outlives it.
                LoopHandle.withOwner(of: handle!, as: Connection.self) { owner in
                    buffer!.pointee = uv_buf_init(
                        owner.loop.readBuffer.baseAddress!.assumingMemoryBound(to: CChar.self),
                        UInt32(max(1, min(owner.maxReadBytes, owner.loop.readBuffer.count))))
                }
            },
            { stream, count, buffer in
                // SAFETY: uv_stream_t begins with the uv_handle_t fields.
                let handle = UnsafeMutableRawPointer(stream!).assumingMemoryBound(to: uv_handle_t.self)
                LoopHandle.withOwner(of: handle, as: Connection.self) { owner in
                    owner.didRead(count: count, base: buffer?.pointee.base, asked: Int(buffer?.pointee.len ?? 0))
                }
            })
        try LoopError.check(result, "uv_read_start")
        reading = true
    }

    /// Stops reading; the kernel buffers (and TCP flow control) hold the peer back until `startReading`.
    package func stopReading() {
        guard reading, isOpen else { return }
        reading = false
        if isBusy {
            loop.existingBusyStreams?.remove(self)
            return
        }
        uv_read_stop(stream)
    }

    package var isReading: Bool { reading }

    /// Stops reading and forgets every callback: for an owner that lets go of the connection while its queued
    /// writes drain, so that nothing the connection does later can call into a freed owner.
    package func detachCallbacks() {
        stopReading()
        onData = nil
        onBytes = nil
        onEnd = nil
        onWriteError = nil
        onHighWatermark = nil
        onLowWatermark = nil
    }

    /// `asked`: the size of the read, what `count` would be had the socket held more.
    private func didRead(count: Int, base: UnsafeMutablePointer<CChar>?, asked: Int) {
        if count > 0, let base {
            bytesRead &+= UInt64(count)
            deliveringFullRead = count >= asked
            defer { deliveringFullRead = false }
            if let onBytes {
                // SAFETY: the read filled `count` bytes of the loop's read buffer; it is lent for this call only, and
                // no other read reuses it before the call returns (one thread, reads one at a time).
                onBytes(UnsafeRawBufferPointer(start: base, count: count))
            } else {
                // SAFETY: the read filled `count` bytes of the loop's read buffer, which we copy before returning.
                let bytes = Array(UnsafeRawBufferPointer(start: base, count: count))
                onData?(bytes[...])
            }
            if busyReadBytes != .max && count >= min(busyReadBytes, asked) && !isBusy { becomeBusy() }
        } else if count < 0 {
            reading = false
            uv_read_stop(stream)
            let error = LoopError(code: Int32(count), operation: "read")
            reportEnd(error.isEndOfFile ? nil : error)
        }
    }

    /// A full read: more is likely waiting. The stream leaves libuv's reading (and, at the next event libuv sees
    /// for it, the epoll set) and is read directly from the next pass on.
    private func becomeBusy() {
        guard isOpen, !ended, let streams = loop.busyStreams else { return }
        busyPeriods &+= 1
        leavePoll(for: streams)
    }

    /// Busy (or held): read by `streams`, not by libuv, from now on.
    private func leavePoll(for streams: BusyStreams) {
        isBusy = true
        // The owner may have stopped reading during the delivery (its slice used): libuv is stopped already.
        guard reading else { return }
        uv_read_stop(stream)
        streams.add(self)
    }

    /// Out of the busy list and back to libuv's reading when it is next started.
    private func leaveBusy() {
        isBusy = false
        readDue = 0
        loop.existingBusyStreams?.remove(self)
    }

    /// The stream is watched by the poll again; reading resumes there if it was on.
    private func endBusy() {
        leaveBusy()
        guard reading else { return }
        reading = false
        do {
            try startReading()
        } catch {
            reportEnd(error)
        }
    }

    /// One direct read of a busy stream (`BusyStreams`, once per pass, or at its deadline): what it got is delivered as any read; an
    /// empty socket ends the busy period, the end of the stream or an error ends reading as libuv would report it.
    func readDirectly() {
        guard isBusy, reading, isOpen else {
            // Listed means busy, reading and open; should that ever not hold, leave the list rather than keep
            // the loop polling for a read that will not come.
            loop.existingBusyStreams?.remove(self)
            return
        }
        let fd = fileDescriptor
        let wanted = max(1, min(maxReadBytes, loop.readBuffer.count))
        // SAFETY: the loop's read buffer holds at least `wanted` bytes and is used by one read at a time.
        let count = Glibc.read(fd, loop.readBuffer.baseAddress!, wanted)
        if count > 0 {
            didRead(count: count, base: loop.readBuffer.baseAddress!.assumingMemoryBound(to: CChar.self), asked: wanted)
            return
        }
        let code = count == 0 ? 0 : errno
        if code == EINTR { return }
        if code == EAGAIN || code == EWOULDBLOCK { return endBusy() }
        // The end of the stream or a read error: reported as libuv reports them (UV_EOF, a negative errno).
        leaveBusy()
        reading = false
        let error = LoopError(code: code == 0 ? Int32(UV_EOF.rawValue) : -code, operation: "read")
        reportEnd(error.isEndOfFile ? nil : error)
    }

    /// Whether the peer closed its side and nothing it sent is left unread, checked without reading (a one-byte
    /// `MSG_PEEK`): its end of stream may not be reported yet — within one poll, a listener's event can come
    /// before the end of a stream that was busy a moment ago — and a one-peer port lets a new peer take over
    /// such a connection at once. False while bytes wait, and for descriptors that are not sockets.
    package var peerHasHungUp: Bool {
        guard isOpen, !ended else { return true }
        let fd = fileDescriptor
        guard fd >= 0 else { return true }
        var byte: UInt8 = 0
        // SAFETY: at most one byte into a local; MSG_PEEK leaves the stream as it was.
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    private func reportEnd(_ error: LoopError?) {
        guard !ended else { return }
        ended = true
        onEnd?(error)
    }

    // MARK: Writing

    /// Queues one buffer. Returns false when the connection is no longer open.
    @discardableResult
    package func write(_ bytes: [UInt8], completion: ((LoopError?) -> Void)? = nil) -> Bool {
        write(buffers: CollectionOfOne(bytes), completion: completion)
    }

    /// Queues several buffers as one write (one syscall when the socket has room).
    @discardableResult
    package func write<C: Collection>(buffers: C, completion: ((LoopError?) -> Void)? = nil) -> Bool
    where C.Element: Collection, C.Element.Element == UInt8 {
        guard isOpen, !writeFailed else { return false }
        if !gathered.isEmpty || uv_stream_get_write_queue_size(stream) > 0 {
            var count = 0
            for buffer in buffers { count += buffer.count }
            if count == 0 {
                // Nothing to order behind anything: done now, as an empty write is when nothing is queued.
                completion?(nil)
                return true
            }
            if count < Self.gatherBelowBytes {
                // The kernel is refusing bytes: libuv would only queue this behind them. Gather it instead.
                for buffer in buffers { gathered.append(contentsOf: buffer) }
                if let completion { gatheredCompletions.append(completion) }
                noteQueued(count)
                if gathered.count >= Self.gatherUpToBytes { submitGathered() }
                return true
            }
            // Large: queued in libuv as it is, behind what was gathered before it.
            submitGathered()
        }
        return submit(WriteRequest(buffers: buffers, completion: completion))
    }

    /// Hands one request to libuv.
    private func submit(_ request: WriteRequest) -> Bool {
        let completion = request.completion
        guard request.byteCount > 0 else {
            completion?(nil)
            return true
        }
        var buffer = uv_buf_init(
            request.bytes.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(request.byteCount))
        // SAFETY: balanced by `takeRetainedValue` in the write callback; the request owns its bytes until then.
        request.request.pointee.data = Unmanaged.passRetained(request).toOpaque()
        let result = uv_write(request.request, stream, &buffer, 1) { request, status in
            // SAFETY: `data` holds the retained WriteRequest; the handle's owner is alive until its close callback,
            // which libuv runs only after every pending write callback.
            let owned = Unmanaged<WriteRequest>.fromOpaque(request!.pointee.data!).takeRetainedValue()
            let handle = UnsafeMutableRawPointer(request!.pointee.handle!).assumingMemoryBound(to: uv_handle_t.self)
            let owner = LoopHandle.owner(of: handle, as: Connection.self)
            owner.didWrite(owned, status: status)
        }
        if result < 0 {
            Unmanaged<WriteRequest>.fromOpaque(request.request.pointee.data!).release()
            failWrites(LoopError(code: result, operation: "uv_write"))
            completion?(LoopError(code: result, operation: "uv_write"))
            return false
        }
        writesInFlight += 1
        noteQueued(request.byteCount)
        return true
    }

    private func noteQueued(_ count: Int) {
        queuedWriteBytes += count
        if !isAboveHighWatermark && queuedWriteBytes > highWatermark {
            isAboveHighWatermark = true
            onHighWatermark?()
        }
    }

    /// The gathered bytes as one libuv write, with one completion that reports to each gathered write's.
    private func submitGathered() {
        guard !gathered.isEmpty else { return }
        let completions = gatheredCompletions
        let request = WriteRequest(
            buffers: CollectionOfOne(gathered),
            completion: completions.isEmpty ? nil : { error in for completion in completions { completion(error) } })
        let count = gathered.count
        gathered.removeAll(keepingCapacity: false)
        gatheredCompletions.removeAll()
        // Counted when gathered; `submit` counts it again.
        queuedWriteBytes -= count
        _ = submit(request)
    }

    /// Gathered writes that will not be written (the connection closed or a write failed): their bytes leave the
    /// queue and their completions hear why.
    private func dropGathered(_ error: LoopError) {
        guard !gathered.isEmpty else { return }
        queuedWriteBytes -= gathered.count
        let completions = gatheredCompletions
        gathered = []
        gatheredCompletions = []
        for completion in completions { completion(error) }
    }

    /// Writes `bytes` now, as far as the kernel takes them without waiting (`uv_try_write`: no copy, no request,
    /// no callback a pass later), and queues only the rest, copied, behind them. The fast path is taken only while
    /// nothing is queued (libuv refuses it otherwise), so bytes keep their order with every other write. A
    /// failure other than a full socket is left to the queued write, which reports it through `onWriteError`
    /// from its callback, exactly as `write` does. For producers that follow `queuedWriteBytes` and the
    /// watermarks rather than a completion. Returns false when the connection is closed or a write failed.
    @discardableResult
    package func writeNow(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard isOpen, !writeFailed else { return false }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        var taken = 0
        if queuedWriteBytes == 0 {
            // SAFETY: libuv only reads `bytes.count` bytes from `base` during the call; nothing is retained.
            var buffer = uv_buf_init(
                UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CChar.self)), UInt32(bytes.count))
            let result = uv_try_write(stream, &buffer, 1)
            if result > 0 {
                taken = Int(result)
                bytesWritten &+= UInt64(taken)
            }
        }
        guard taken < bytes.count else { return true }
        return write(buffers: CollectionOfOne(UnsafeRawBufferPointer(rebasing: bytes[taken...])))
    }

    /// `writeNow` of an array's bytes, which are read during the call only.
    @discardableResult
    package func writeNow(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { writeNow($0) } }

    private func didWrite(_ request: WriteRequest, status: Int32) {
        writesInFlight -= 1
        queuedWriteBytes -= request.byteCount
        let error = status < 0 ? LoopError(code: status, operation: "write") : nil
        if error == nil { bytesWritten &+= UInt64(request.byteCount) }
        request.completion?(error)
        if let error, !error.isCancelled { failWrites(error) }
        // After a failure or a close, the gathered bytes stay until the handle is closed (`didClose`): libuv
        // reports its own queued, earlier writes first, so completions keep the order of the writes.
        if !gathered.isEmpty, !writeFailed, isOpen, uv_stream_get_write_queue_size(stream) == 0 {
            // libuv has nothing unsent: the gathered bytes go as one write, tried at once.
            submitGathered()
        }
        if isAboveHighWatermark && queuedWriteBytes <= lowWatermark {
            isAboveHighWatermark = false
            if isOpen { onLowWatermark?() }
        }
    }

    private func failWrites(_ error: LoopError) {
        guard !writeFailed else { return }
        writeFailed = true
        onWriteError?(error)
    }

    /// `closeAfterWrites`, bounded: a peer that has not taken the queued bytes within `milliseconds` does not
    /// read, and waiting for it would hold them and the socket for as long as it likes; it is then closed, the
    /// rest dropped. With nothing queued the kernel has the last bytes already, and the close is at once.
    package func closeAfterWrites(within milliseconds: UInt64) {
        guard isOpen, queuedWriteBytes > 0, let deadline = try? Timer(loop: loop) else { return closeAfterWrites() }
        deadline.start(afterMilliseconds: milliseconds) { [weak self] in self?.close() }
        // A stopping hub's loop must not wait for it (the shutdown closes every handle anyway).
        deadline.unreference()
        closeAfterWrites { deadline.close() }
    }

    /// Waits for queued writes to finish, shuts the sending side down, then closes.
    /// Used to deliver a final error frame before hanging up.
    package func closeAfterWrites(then callback: (() -> Void)? = nil) {
        guard isOpen else {
            close(then: callback)
            return
        }
        // libuv shuts down after its queued writes: the gathered bytes join them first.
        if !writeFailed { submitGathered() }
        let request = ShutdownRequest(callback: callback)
        // SAFETY: balanced by `takeRetainedValue` in the shutdown callback.
        request.request.pointee.data = Unmanaged.passRetained(request).toOpaque()
        let result = uv_shutdown(request.request, stream) { request, _ in
            // SAFETY: as above; the handle's owner lives until its close callback.
            let owned = Unmanaged<ShutdownRequest>.fromOpaque(request!.pointee.data!).takeRetainedValue()
            let handle = UnsafeMutableRawPointer(request!.pointee.handle!).assumingMemoryBound(to: uv_handle_t.self)
            LoopHandle.owner(of: handle, as: Connection.self).close(then: owned.callback)
        }
        if result < 0 {
            Unmanaged<ShutdownRequest>.fromOpaque(request.request.pointee.data!).release()
            close(then: callback)
        }
    }

    override func willClose() {
        reading = false
        if isBusy { leaveBusy() }
    }

    override func didClose() {
        // libuv cancelled its queued writes, reported before this close callback; the gathered ones, written
        // after them, are cancelled now, in that order.
        dropGathered(LoopError(code: Int32(UV_ECANCELED.rawValue), operation: "write"))
        onData = nil
        onBytes = nil
        onEnd = nil
        onHighWatermark = nil
        onLowWatermark = nil
        onWriteError = nil
    }
}

/// A write in flight: the request and a private copy of its bytes, alive until libuv's callback.
final class WriteRequest {
    let request: UnsafeMutablePointer<uv_write_t>
    let bytes: UnsafeMutableRawBufferPointer
    let byteCount: Int
    let completion: ((LoopError?) -> Void)?

    init<C: Collection>(buffers: C, completion: ((LoopError?) -> Void)?)
    where C.Element: Collection, C.Element.Element == UInt8 {
        request = .allocate(capacity: 1)
        request.initialize(to: uv_write_t())
        var total = 0
        for buffer in buffers { total += buffer.count }
        byteCount = total
        bytes = .allocate(byteCount: max(total, 1), alignment: 16)
        var offset = 0
        for buffer in buffers {
            let target = UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + buffer.count])
            copyBytes(buffer, into: target)
            offset += buffer.count
        }
        self.completion = completion
    }

    deinit {
        request.deallocate()
        bytes.deallocate()
    }
}

final class ShutdownRequest {
    let request: UnsafeMutablePointer<uv_shutdown_t>
    let callback: (() -> Void)?

    init(callback: (() -> Void)?) {
        request = .allocate(capacity: 1)
        request.initialize(to: uv_shutdown_t())
        self.callback = callback
    }

    deinit { request.deallocate() }
}

/// Copies a byte collection into raw memory: one memcpy for contiguous storage (arrays and slices,
/// the common case), element by element otherwise. Generic code across module boundaries is not
/// specialised, so the fast path matters on every write.
func copyBytes<C: Collection>(_ source: C, into target: UnsafeMutableRawBufferPointer) where C.Element == UInt8 {
    let copied: Void? = source.withContiguousStorageIfAvailable { contiguous in
        // SAFETY: the target was sized for exactly `source.count` bytes by the caller.
        if let base = contiguous.baseAddress, contiguous.count > 0 {
            target.baseAddress!.copyMemory(from: base, byteCount: contiguous.count)
        }
    }
    if copied == nil { _ = target.initializeMemory(as: UInt8.self, from: source) }
}
