import CUV

/// One libuv loop. Everything that touches hub state runs on the thread that calls `run()`.
///
/// Not `Sendable`: the only way in from another thread is a `LoopDoor`.
package final class Loop {
    let raw: UnsafeMutablePointer<uv_loop_t>
    /// One read buffer shared by every stream and datagram socket on this loop: a read callback
    /// consumes its bytes before the next read can start, so a single buffer is enough and saves
    /// an allocation per read.
    let readBuffer: UnsafeMutableRawBufferPointer
    package private(set) var isClosed = false
    /// Created on first use. An open handle keeps itself alive (`LoopHandle`), so the loop holds it weakly.
    private weak var openBusyStreams: BusyStreams?

    package static let readBufferSize = 256 * 1024

    package init() throws(LoopError) {
        raw = .allocate(capacity: 1)
        let result = uv_loop_init(raw)
        if result < 0 {
            raw.deallocate()
            throw LoopError(code: result, operation: "uv_loop_init")
        }
        readBuffer = .allocate(byteCount: Loop.readBufferSize, alignment: 16)
    }

    deinit {
        if !isClosed {
            // A loop dropped while handles are still open cannot be freed safely; leaking is the
            // lesser evil, and `close()` exists so callers never get here.
            if uv_loop_close(raw) != 0 { return }
        }
        raw.deallocate()
        readBuffer.deallocate()
    }

    /// Runs until there is nothing left to do or `stop()` is called.
    @discardableResult
    package func run() -> Bool { uv_run(raw, UV_RUN_DEFAULT) != 0 }

    /// Runs one pass, waiting for events only when `wait` is true. Returns whether handles remain active.
    @discardableResult
    package func runOnce(wait: Bool = true) -> Bool { uv_run(raw, wait ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0 }

    /// Makes `run()` return after the current pass.
    package func stop() { uv_stop(raw) }

    /// The streams read directly each pass (`Connection.busyReadBytes`); nil once the loop is closed or if the
    /// idle handle could not be made (the stream then stays watched by the poll).
    var busyStreams: BusyStreams? {
        if let openBusyStreams, openBusyStreams.isOpen { return openBusyStreams }
        guard !isClosed, let made = try? BusyStreams(loop: self) else { return nil }
        openBusyStreams = made
        return made
    }

    /// `busyStreams` if it was made and is open; never makes one (for streams leaving it).
    var existingBusyStreams: BusyStreams? { openBusyStreams.flatMap { $0.isOpen ? $0 : nil } }

    /// Whether a busy stream waits for its next direct read, so passes do not block in the poll (for tests and
    /// diagnostics: false whenever no busy stream is reading).
    package var readsBusyStreams: Bool { existingBusyStreams?.isPolling ?? false }

    /// Whether the loop will wake at a held stream's deadline (`Connection.holdReads`; for tests and diagnostics).
    package var waitsForHeldStream: Bool { existingBusyStreams?.isWaitingForHeldStream ?? false }

    /// The loop's cached millisecond clock (updated once per pass).
    package var nowMilliseconds: UInt64 { uv_now(raw) }

    /// Asks every open handle to close. Run the loop afterwards so the close callbacks fire.
    package func closeAllHandles() {
        uv_walk(
            raw,
            { handle, _ in
                guard let handle, uv_is_closing(handle) == 0 else { return }
                if let data = handle.pointee.data {
                    // SAFETY: every handle this module opens stores its retained owner in `data`.
                    Unmanaged<LoopHandle>.fromOpaque(data).takeUnretainedValue().close()
                } else {
                    uv_close(handle, nil)
                }
            }, nil)
    }

    /// Closes every handle, runs until their callbacks have fired, and closes the loop.
    /// Returns `uv_loop_close`'s result: 0 means nothing leaked.
    @discardableResult
    package func shutdown() -> Int32 {
        closeAllHandles()
        while uv_run(raw, UV_RUN_DEFAULT) != 0 {}
        return close()
    }

    /// Closes the loop; returns libuv's result (`UV_EBUSY` while handles or requests are alive).
    @discardableResult
    package func close() -> Int32 {
        guard !isClosed else { return 0 }
        let result = uv_loop_close(raw)
        if result == 0 { isClosed = true }
        return result
    }

    /// Number of handles libuv still knows about (open or closing), for leak checks in tests.
    package var handleCount: Int {
        var count = 0
        withUnsafeMutablePointer(to: &count) { pointer in
            uv_walk(raw, { _, arg in arg!.assumingMemoryBound(to: Int.self).pointee += 1 }, pointer)
        }
        return count
    }
}

/// The process-wide monotonic clock, in nanoseconds.
package enum MonotonicClock {
    package static func nanoseconds() -> UInt64 { uv_hrtime() }
}
