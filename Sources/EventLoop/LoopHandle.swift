import CUV

/// The common lifetime of every libuv handle (`Sources/ARCHITECTURE.md`, "A handle's lifetime").
///
/// The C memory is allocated by the owner and freed in `deinit`. After `uv_*_init` succeeds the
/// handle stores a retained reference to its owner in `data`; the close callback releases it.
/// So an open handle keeps its owner alive, and the owner outlives every callback libuv can make.
package class LoopHandle {
    package let loop: Loop
    let handle: UnsafeMutablePointer<uv_handle_t>
    private let storage: UnsafeMutableRawPointer

    enum State { case unopened, open, closing, closed }
    private(set) var state: State = .unopened
    private var closeCallbacks: [() -> Void] = []

    init(loop: Loop, type: uv_handle_type) {
        self.loop = loop
        let size = uv_handle_size(type)
        storage = .allocate(byteCount: size, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        // SAFETY: every libuv handle type begins with the uv_handle_t fields.
        handle = storage.bindMemory(to: uv_handle_t.self, capacity: 1)
    }

    deinit { storage.deallocate() }

    /// The handle memory as its concrete libuv type.
    func pointer<T>(as type: T.Type) -> UnsafeMutablePointer<T> {
        // SAFETY: callers ask for the type the handle was initialised as.
        UnsafeMutablePointer<T>(OpaquePointer(storage))
    }

    /// Call right after `uv_*_init` succeeded.
    func didOpen() {
        state = .open
        // SAFETY: balanced by `takeRetainedValue` in the close callback.
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    package var isOpen: Bool { state == .open }
    package var isClosed: Bool { state == .closed }

    /// Closes the handle once; `then` runs after libuv's close callback. Safe to call repeatedly.
    package func close(then callback: (() -> Void)? = nil) {
        if let callback {
            if state == .closed || state == .unopened {
                callback()
                return
            }
            closeCallbacks.append(callback)
        }
        guard state == .open else {
            if state == .unopened { state = .closed }
            return
        }
        state = .closing
        willClose()
        uv_close(handle) { handle in
            // SAFETY: `data` holds the reference retained in `didOpen`; this is the only release.
            let owner = Unmanaged<LoopHandle>.fromOpaque(handle!.pointee.data!).takeRetainedValue()
            owner.finishClose()
        }
    }

    private func finishClose() {
        state = .closed
        didClose()
        let callbacks = closeCallbacks
        closeCallbacks = []
        for callback in callbacks { callback() }
    }

    /// Subclasses stop timers or reads here, before libuv is asked to close.
    func willClose() {}
    /// Subclasses drop their callbacks here so closures that capture the owner cannot form a cycle.
    func didClose() {}

    /// Runs `body` with the owner of a handle inside a C callback, borrowed: no retain and release per callback
    /// (several per loop pass on a busy port), because the open handle's own reference (`didOpen`) keeps the
    /// owner alive until the close callback, which libuv never runs during another callback.
    @inline(__always)
    static func withOwner<T: LoopHandle, R>(
        of handle: UnsafeMutablePointer<uv_handle_t>, as type: T.Type, _ body: (T) -> R
    ) -> R {
        // SAFETY: `data` was set in `didOpen` and holds a retained reference until the close callback (above).
        Unmanaged<T>.fromOpaque(handle.pointee.data!)._withUnsafeGuaranteedRef(body)
    }

    /// Recovers the owner of a handle inside a C callback.
    static func owner<T: LoopHandle>(of handle: UnsafeMutablePointer<uv_handle_t>, as type: T.Type) -> T {
        // SAFETY: `data` was set in `didOpen` and stays valid until the close callback.
        Unmanaged<T>.fromOpaque(handle.pointee.data!).takeUnretainedValue()
    }
}

extension LoopHandle {
    /// Lets the loop finish while this handle is still open (a shutdown deadline, a signal watcher).
    package func unreference() {
        guard isOpen else { return }
        uv_unref(handle)
    }

    /// Keeps the loop running while this handle is active again, after `unreference()`.
    package func reference() {
        guard isOpen else { return }
        uv_ref(handle)
    }
}
