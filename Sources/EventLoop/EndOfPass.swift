import CUV

/// Runs a callback once at the end of a loop pass, after the pass's I/O callbacks (libuv's check phase).
///
/// The hub hands out deliveries here. Unlike a zero-delay `Timer`, which libuv 1.44 runs again within the same
/// timer phase when its callback restarts it, a pass armed from its own callback runs at the end of the *next*
/// pass, so every connection is polled between two passes. While armed, the loop does not block in poll.
package final class EndOfPass: LoopHandle {
    private var callback: (() -> Void)?
    /// What `arm()` runs: given once, kept across passes (nothing stored and released per pass).
    private var standingBody: (() -> Void)?
    /// An idle handle: while one is active libuv polls without waiting, so an armed pass runs promptly.
    private let keepPolling: PollWithoutWaiting

    /// `standingBody`, when given, is what `arm()` runs at the end of each pass it is armed for.
    package init(loop: Loop, standingBody: (() -> Void)? = nil) throws(LoopError) {
        self.standingBody = standingBody
        keepPolling = try PollWithoutWaiting(loop: loop)
        super.init(loop: loop, type: UV_CHECK)
        do {
            try LoopError.check(uv_check_init(loop.raw, pointer(as: uv_check_t.self)), "uv_check_init")
        } catch {
            keepPolling.close()
            throw error
        }
        didOpen()
    }

    /// Runs `body` at the end of this pass (or of the next one, when called from the check phase itself).
    /// Arming again before it ran replaces the callback.
    package func arm(_ body: @escaping () -> Void) {
        guard isOpen else { return }
        callback = body
        start()
    }

    /// Runs the standing body given at `init` at the end of this pass (as `arm(_:)` does with a body). A body
    /// given to `arm(_:)` and not yet run is replaced by it.
    package func arm() {
        guard isOpen else { return }
        callback = nil
        start()
    }

    private func start() {
        guard uv_is_active(handle) == 0 else { return }
        uv_check_start(pointer(as: uv_check_t.self)) { check in
            // SAFETY: uv_check_t begins with the uv_handle_t fields; the owner lives until its close callback.
            let handle = UnsafeMutableRawPointer(check!).assumingMemoryBound(to: uv_handle_t.self)
            LoopHandle.withOwner(of: handle, as: EndOfPass.self) { $0.fire() }
        }
        keepPolling.start()
    }

    /// Whether a callback waits for the end of the pass.
    package var isArmed: Bool { isOpen && uv_is_active(handle) != 0 }

    private func fire() {
        uv_check_stop(pointer(as: uv_check_t.self))
        keepPolling.stop()
        guard let body = callback else {
            standingBody?()
            return
        }
        callback = nil
        body()
    }

    override func willClose() {
        uv_check_stop(pointer(as: uv_check_t.self))
        keepPolling.close()
    }

    override func didClose() {
        callback = nil
        standingBody = nil
    }
}

/// An idle handle with nothing to do: its only effect is that the loop polls without blocking while it is active.
final class PollWithoutWaiting: LoopHandle {
    init(loop: Loop) throws(LoopError) {
        super.init(loop: loop, type: UV_IDLE)
        try LoopError.check(uv_idle_init(loop.raw, pointer(as: uv_idle_t.self)), "uv_idle_init")
        didOpen()
    }

    func start() {
        guard isOpen else { return }
        uv_idle_start(pointer(as: uv_idle_t.self)) { _ in }
    }

    func stop() {
        guard isOpen else { return }
        uv_idle_stop(pointer(as: uv_idle_t.self))
    }

    override func willClose() { uv_idle_stop(pointer(as: uv_idle_t.self)) }
}
