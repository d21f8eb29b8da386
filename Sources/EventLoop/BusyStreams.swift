import CUV

/// The busy streams of one loop (`Connection.busyReadBytes`, `Sources/ARCHITECTURE.md`, "Busy streams"): each is
/// read directly once per pass in libuv's idle phase, just before the poll, which does not block while any is
/// due. A stream leaves the list when it stops reading or a read finds it empty.
///
/// A stream whose reads are held (`Connection.holdReads`) is listed too, out of the poll, but is not due until
/// its deadline: while no listed stream is due the poll may block, and a `PreciseTimer` wakes the loop at the
/// earliest deadline, where the due streams are read at once.
final class BusyStreams: LoopHandle {
    /// The busy streams that want their next read, in the order they became so.
    private var streams: [Connection] = []
    /// `streams` as the pass began, reused: a read may add or remove streams while the pass walks them.
    private var walking: [Connection] = []
    /// Wakes the loop at the earliest held stream's deadline; made at the first hold.
    private var wakeUp: PreciseTimer?
    /// Whether the idle handle runs (a listed stream is due): the poll does not block.
    private var polling = false
    /// Reading the due streams: what their reads change is scheduled once, when all are read.
    private var isReading = false

    init(loop: Loop) throws(LoopError) {
        super.init(loop: loop, type: UV_IDLE)
        try LoopError.check(uv_idle_init(loop.raw, pointer(as: uv_idle_t.self)), "uv_idle_init")
        didOpen()
        // Referenced: while a due stream is listed the active idle handle keeps the loop running, as a reading
        // stream's own handle did before it became busy; while only held ones are, the armed wake-up does.
    }

    func add(_ stream: Connection) {
        guard isOpen else { return }
        streams.append(stream)
        noteDeadline(stream.readDue)
    }

    func remove(_ stream: Connection) {
        guard let index = streams.firstIndex(where: { $0 === stream }) else { return }
        streams.remove(at: index)
        guard isOpen else { return }
        if streams.isEmpty {
            stopPolling()
            wakeUp?.disarm()
        }
        // Otherwise what is armed stays: a wake-up for this stream's deadline finds nothing due and is cleared.
    }

    /// A listed stream's deadline moved (`Connection.holdReads` outside this list's reads).
    func deadlineChanged(to due: UInt64) {
        guard isOpen, !isReading else { return }
        noteDeadline(due)
    }

    /// One stream's deadline (0: due now), taken into the schedule without looking at the others: many streams
    /// held in one pass cost one step each, and the full schedule is made once, after the next reads.
    private func noteDeadline(_ due: UInt64) {
        if due == 0 { return startPolling() }
        // Polling: every pass reads what is due until the list's reads schedule the wake-up.
        guard !polling else { return }
        guard let wakeUp = wakeUpTimer() else { return startPolling() }
        if wakeUp.deadline == 0 || due < wakeUp.deadline { wakeUp.arm(at: due) }
    }

    /// Whether a busy stream waits for its read, so the loop polls without blocking.
    var isPolling: Bool { isOpen && polling }

    /// Whether the loop will wake for a held stream's deadline.
    var isWaitingForHeldStream: Bool { isOpen && (wakeUp?.deadline ?? 0) != 0 }

    /// Runs the idle handle while a listed stream is due now, and arms the wake-up for the earliest deadline when
    /// none is: one look at every listed stream, after each round of reads.
    private func schedule(now: UInt64) {
        var earliest = UInt64.max
        for stream in streams {
            let due = stream.readDue
            if due <= now {
                startPolling()
                return
            }
            earliest = min(earliest, due)
        }
        stopPolling()
        guard earliest != .max else {
            wakeUp?.disarm()
            return
        }
        guard let wakeUp = wakeUpTimer() else { return startPolling() }
        wakeUp.arm(at: earliest)
    }

    /// The wake-up, made at the first hold; nil if it cannot be made (out of descriptors), when the held streams
    /// are read on the next passes instead, as busy ones.
    private func wakeUpTimer() -> PreciseTimer? {
        if wakeUp == nil {
            wakeUp = try? PreciseTimer(loop: loop) { [unowned self] in self.readDueStreams() }
        }
        return wakeUp
    }

    private func startPolling() {
        wakeUp?.disarm()
        guard !polling else { return }
        polling = true
        uv_idle_start(pointer(as: uv_idle_t.self)) { idle in
            // SAFETY: uv_idle_t begins with the uv_handle_t fields; the owner lives until its close callback.
            let handle = UnsafeMutableRawPointer(idle!).assumingMemoryBound(to: uv_handle_t.self)
            LoopHandle.withOwner(of: handle, as: BusyStreams.self) { $0.readDueStreams() }
        }
    }

    private func stopPolling() {
        guard polling else { return }
        polling = false
        uv_idle_stop(pointer(as: uv_idle_t.self))
    }

    /// Reads each listed stream that is due (once per pass from the idle handle, or when the wake-up fires),
    /// then schedules the next pass's reads.
    private func readDueStreams() {
        let now = MonotonicClock.nanoseconds()
        walking.append(contentsOf: streams)
        isReading = true
        // Each reads only while still listed (busy and reading): one that an earlier read ended is skipped.
        for stream in walking where stream.readDue <= now { stream.readDirectly() }
        isReading = false
        walking.removeAll(keepingCapacity: true)
        guard isOpen else { return }
        schedule(now: now)
    }

    override func willClose() {
        uv_idle_stop(pointer(as: uv_idle_t.self))
        polling = false
        streams.removeAll()
        wakeUp?.close()
        wakeUp = nil
    }
}
