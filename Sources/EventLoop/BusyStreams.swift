import CUV

/// The busy streams of one loop (`Connection.busyReadBytes`, `Sources/ARCHITECTURE.md`, "Busy streams"): each is
/// read directly once per pass in libuv's idle phase, just before the poll, which does not block while any is
/// listed. A stream leaves the list when it stops reading or a read finds it empty.
final class BusyStreams: LoopHandle {
    /// The busy streams that want their next read, in the order they became so.
    private var streams: [Connection] = []
    /// `streams` as the pass began, reused: a read may add or remove streams while the pass walks them.
    private var walking: [Connection] = []

    init(loop: Loop) throws(LoopError) {
        super.init(loop: loop, type: UV_IDLE)
        try LoopError.check(uv_idle_init(loop.raw, pointer(as: uv_idle_t.self)), "uv_idle_init")
        didOpen()
        // Referenced: while a stream is listed the active idle handle keeps the loop running, as a reading
        // stream's own handle did before it became busy; with none listed it is inactive and keeps nothing alive.
    }

    func add(_ stream: Connection) {
        guard isOpen else { return }
        streams.append(stream)
        guard streams.count == 1 else { return }
        uv_idle_start(pointer(as: uv_idle_t.self)) { idle in
            // SAFETY: uv_idle_t begins with the uv_handle_t fields; the owner lives until its close callback.
            let handle = UnsafeMutableRawPointer(idle!).assumingMemoryBound(to: uv_handle_t.self)
            LoopHandle.withOwner(of: handle, as: BusyStreams.self) { $0.readEach() }
        }
    }

    func remove(_ stream: Connection) {
        guard let index = streams.firstIndex(where: { $0 === stream }) else { return }
        streams.remove(at: index)
        if streams.isEmpty && isOpen { uv_idle_stop(pointer(as: uv_idle_t.self)) }
    }

    /// Whether a busy stream waits for its read, so the loop polls without blocking.
    var isPolling: Bool { isOpen && uv_is_active(handle) != 0 }

    private func readEach() {
        walking.append(contentsOf: streams)
        // Each reads only while still listed (busy and reading): one that an earlier read ended is skipped.
        for stream in walking { stream.readDirectly() }
        walking.removeAll(keepingCapacity: true)
    }

    override func willClose() {
        uv_idle_stop(pointer(as: uv_idle_t.self))
        streams.removeAll()
    }
}
