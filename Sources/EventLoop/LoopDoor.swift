import CUV
import Glibc

/// The only way into the loop from another thread: queue a job, the loop runs it on its thread.
///
/// `post` returns false once the door is closed — by `close()` or by the loop closing all its
/// handles — so a late sender learns its job will never run instead of touching a dead loop.
package final class LoopDoor: Sendable {
    private let core: DoorHandle

    package init(loop: Loop) throws(LoopError) {
        core = try DoorHandle(loop: loop)
    }

    /// Queues `job` to run on the loop thread. Thread-safe. Returns false if the door is closed.
    @discardableResult
    package func post(_ job: @escaping @Sendable () -> Void) -> Bool {
        core.queue.state.withLock { current in
            guard !current.closed else { return false }
            current.jobs.append(job)
            // Sending under the lock orders it before the handle closes: closing marks the queue
            // closed under this same lock first. uv_async_send itself is thread-safe.
            core.send()
            return true
        }
    }

    /// Refuses further jobs and closes the wake-up handle. Call on the loop thread.
    /// Jobs queued before the close still run first.
    package func close() {
        for job in core.queue.closeAndTake() { job() }
        core.close()
    }

    package var isClosed: Bool { core.queue.state.withLock { $0.closed } }
}

/// Jobs waiting for the loop, behind a lock shared by the posting threads and the loop.
final class DoorQueue: Sendable {
    struct State {
        var jobs: [@Sendable () -> Void] = []
        var closed = false
    }

    let state = PThreadLocked(State())

    func take() -> [@Sendable () -> Void] {
        state.withLock { current in
            let jobs = current.jobs
            current.jobs = []
            return jobs
        }
    }

    func closeAndTake() -> [@Sendable () -> Void] {
        state.withLock { current in
            current.closed = true
            let jobs = current.jobs
            current.jobs = []
            return jobs
        }
    }
}

/// The uv_async_t behind a `LoopDoor`.
// SAFETY: other threads only call `send` (uv_async_send, documented thread-safe) and only under the
// queue's lock while it is open; `willClose` marks the queue closed under that lock before libuv closes
// the handle. Everything else runs on the loop thread.
final class DoorHandle: LoopHandle, @unchecked Sendable {
    let queue = DoorQueue()

    init(loop: Loop) throws(LoopError) {
        super.init(loop: loop, type: UV_ASYNC)
        let result = uv_async_init(loop.raw, pointer(as: uv_async_t.self)) { async in
            // SAFETY: uv_async_t begins with the uv_handle_t fields; the owner lives until its close callback.
            let handle = UnsafeMutableRawPointer(async!).assumingMemoryBound(to: uv_handle_t.self)
            let owner = LoopHandle.owner(of: handle, as: DoorHandle.self)
            for job in owner.queue.take() { job() }
        }
        try LoopError.check(result, "uv_async_init")
        didOpen()
    }

    func send() { _ = uv_async_send(pointer(as: uv_async_t.self)) }

    override func willClose() {
        // Jobs the door accepted still run (on the loop thread, before the handle goes): a sender
        // that was told "accepted" must not be silently dropped.
        for job in queue.closeAndTake() { job() }
    }
}

/// Carries a loop-confined object through a `LoopDoor` job.
// SAFETY: `value` must only be touched inside jobs the door runs on the loop thread; the wrapper
// exists so such a job can name the object it works on.
package struct LoopBound<Value: AnyObject>: @unchecked Sendable {
    private let value: Value

    package init(_ value: Value) { self.value = value }

    /// Posts `body` to run on the loop with the object. Returns false if the door is closed.
    @discardableResult
    package func post(through door: LoopDoor, _ body: @escaping @Sendable (Value) -> Void) -> Bool {
        let captured = self
        return door.post { body(captured.value) }
    }
}

/// A value behind a `pthread_mutex_t` (also the tests' shared-state lock). Used instead of
/// `Synchronization.Mutex` on the cross-thread door
/// because ThreadSanitizer understands pthread locks (it intercepts them) but not the futex Mutex uses on
/// Linux, and reported the door's correctly locked accesses as races.
package final class PThreadLocked<Value>: @unchecked Sendable {
    // SAFETY: `value` is only touched inside `withLock`, which holds `mutex`; the mutex memory is allocated
    // once and freed in deinit, when no thread can hold a reference any more.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
