import CUV

/// Runs a callback on the loop when the process receives a signal (SIGINT, SIGTERM, …).
package final class SignalWatcher: LoopHandle {
    package let signalNumber: Int32
    private var callback: ((Int32) -> Void)?

    package init(loop: Loop, signal: Int32, _ handler: @escaping (Int32) -> Void) throws(LoopError) {
        signalNumber = signal
        super.init(loop: loop, type: UV_SIGNAL)
        try LoopError.check(uv_signal_init(loop.raw, pointer(as: uv_signal_t.self)), "uv_signal_init")
        didOpen()
        callback = handler
        let result = uv_signal_start(
            pointer(as: uv_signal_t.self),
            { signalHandle, number in
                // SAFETY: uv_signal_t begins with the uv_handle_t fields; the owner lives until its close callback.
                let handle = UnsafeMutableRawPointer(signalHandle!).assumingMemoryBound(to: uv_handle_t.self)
                LoopHandle.owner(of: handle, as: SignalWatcher.self).callback?(number)
            }, signal)
        if result < 0 {
            close()
            throw LoopError(code: result, operation: "uv_signal_start \(signal)")
        }
    }

    override func willClose() { uv_signal_stop(pointer(as: uv_signal_t.self)) }
    override func didClose() { callback = nil }
}
