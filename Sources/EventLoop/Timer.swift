import CUV

/// A one-shot or repeating timer on the loop's millisecond clock.
package final class Timer: LoopHandle {
    private var callback: (() -> Void)?

    package init(loop: Loop) throws(LoopError) {
        super.init(loop: loop, type: UV_TIMER)
        try LoopError.check(uv_timer_init(loop.raw, pointer(as: uv_timer_t.self)), "uv_timer_init")
        didOpen()
    }

    /// Fires after `milliseconds`, then every `repeatMilliseconds` if that is non-zero. Restarting replaces the callback.
    package func start(
        afterMilliseconds milliseconds: UInt64, repeatMilliseconds: UInt64 = 0, _ fire: @escaping () -> Void
    ) {
        guard isOpen else { return }
        callback = fire
        uv_timer_start(
            pointer(as: uv_timer_t.self),
            { timer in
                // SAFETY: uv_timer_t begins with the uv_handle_t fields; the owner lives until its close callback.
                let handle = UnsafeMutableRawPointer(timer!).assumingMemoryBound(to: uv_handle_t.self)
                LoopHandle.withOwner(of: handle, as: Timer.self) { $0.callback?() }
            }, milliseconds, repeatMilliseconds)
    }

    package func stop() {
        guard isOpen else { return }
        uv_timer_stop(pointer(as: uv_timer_t.self))
    }

    /// Whether the timer will fire again.
    package var isActive: Bool { isOpen && uv_is_active(handle) != 0 }

    /// Convenience: a one-shot timer that closes itself after firing.
    @discardableResult
    package static func once(loop: Loop, afterMilliseconds milliseconds: UInt64, _ fire: @escaping () -> Void)
        throws(LoopError) -> Timer
    {
        let timer = try Timer(loop: loop)
        timer.start(afterMilliseconds: milliseconds) { [unowned timer] in
            timer.close()
            fire()
        }
        return timer
    }

    override func willClose() { uv_timer_stop(pointer(as: uv_timer_t.self)) }
    override func didClose() { callback = nil }
}
