import CUV

/// Watches an arbitrary file descriptor (a tap device, an eventfd, a pty) for readiness.
/// The descriptor stays owned by the caller; closing the poll does not close it.
package final class FileDescriptorPoll: LoopHandle {
    package struct Events: OptionSet, Sendable {
        package let rawValue: Int32
        package init(rawValue: Int32) { self.rawValue = rawValue }
        package static let readable = Events(rawValue: Int32(UV_READABLE.rawValue))
        package static let writable = Events(rawValue: Int32(UV_WRITABLE.rawValue))
        package static let disconnect = Events(rawValue: Int32(UV_DISCONNECT.rawValue))
    }

    package let fileDescriptor: Int32
    private var callback: ((Events, LoopError?) -> Void)?

    package init(loop: Loop, fileDescriptor: Int32) throws(LoopError) {
        self.fileDescriptor = fileDescriptor
        super.init(loop: loop, type: UV_POLL)
        try LoopError.check(uv_poll_init(loop.raw, pointer(as: uv_poll_t.self), fileDescriptor), "uv_poll_init")
        didOpen()
    }

    /// Starts or changes the watched events.
    package func start(_ events: Events, _ handler: @escaping (Events, LoopError?) -> Void) throws(LoopError) {
        guard isOpen else { return }
        callback = handler
        let result = uv_poll_start(pointer(as: uv_poll_t.self), events.rawValue) { poll, status, events in
            // SAFETY: uv_poll_t begins with the uv_handle_t fields; the owner lives until its close callback.
            let handle = UnsafeMutableRawPointer(poll!).assumingMemoryBound(to: uv_handle_t.self)
            let owner = LoopHandle.owner(of: handle, as: FileDescriptorPoll.self)
            owner.callback?(Events(rawValue: events), status < 0 ? LoopError(code: status, operation: "poll") : nil)
        }
        try LoopError.check(result, "uv_poll_start")
    }

    package func stop() {
        guard isOpen else { return }
        uv_poll_stop(pointer(as: uv_poll_t.self))
    }

    override func willClose() { uv_poll_stop(pointer(as: uv_poll_t.self)) }
    override func didClose() { callback = nil }
}
