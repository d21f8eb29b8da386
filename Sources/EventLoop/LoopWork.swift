import CUV

/// Blocking work run off the loop's thread: `run` hands `work` to libuv's thread pool (`uv_queue_work`) and
/// calls `completion` with its result on the loop's thread (libuv's after-work callback), so file work that
/// takes seconds — copying and digesting a software image (`Protocols/management.md` §"Images") — never holds
/// a pass (`Sources/ARCHITECTURE.md`, "The loop's rules").
///
/// What crosses threads is only what `work` captures, which must be `Sendable` (paths, limits, values), and the
/// `Sendable` result: `work` never touches loop state. A queued job keeps the loop alive (`uv_run` does not end
/// while a request is pending), so `Loop.shutdown()` waits for running jobs and then runs their completions;
/// a job cannot be interrupted while it runs.
package enum LoopWork {
    /// Queues `work` on libuv's thread pool; `completion` runs once, on the loop's thread, with its result.
    /// Throws when the loop is closed (nothing was queued; `completion` never runs).
    package static func run<Output: Sendable>(
        on loop: Loop, _ work: @escaping @Sendable () -> Output, completion: @escaping (Output) -> Void
    ) throws(LoopError) {
        guard !loop.isClosed else { throw LoopError(code: UV_EINVAL.rawValue, operation: "uv_queue_work") }
        let request = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
        let pending: QueuedWork = PendingWork(work: work, completion: completion)
        // SAFETY: retained until the after-work callback, which libuv calls exactly once per queued request (with
        // UV_ECANCELED if it was cancelled before it ran) and which is the only release.
        request.pointee.data = Unmanaged.passRetained(pending).toOpaque()
        let status = uv_queue_work(
            loop.raw, request,
            { request in
                // SAFETY: on a pool thread. The reference retained above is alive until the after-work callback,
                // which libuv runs only after this returns; borrowed, not released. `runWork` touches only the
                // Sendable closure and the result slot, which the loop thread reads only after this returns.
                Unmanaged<QueuedWork>.fromOpaque(request!.pointee.data).takeUnretainedValue().runWork()
            },
            { request, status in
                // SAFETY: on the loop thread, once, after the work callback returned (libuv orders the two through
                // its own lock and async wake-up); the reference retained above is taken back here.
                let pending = Unmanaged<QueuedWork>.fromOpaque(request!.pointee.data).takeRetainedValue()
                request!.deallocate()
                pending.finish(cancelled: status == UV_ECANCELED.rawValue)
            })
        if status != 0 {
            // SAFETY: the request was not queued, so no callback will release it: release it here.
            Unmanaged<QueuedWork>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            throw LoopError(code: status, operation: "uv_queue_work")
        }
    }
}

/// What the C callbacks see of a queued job (they cannot name its generic result type).
// SAFETY: see `PendingWork`, its only subclass.
private class QueuedWork: @unchecked Sendable {
    func runWork() {}
    func finish(cancelled: Bool) {}
}

/// One queued job: the work, its result once run, and the loop-side completion.
// SAFETY: shared between one pool thread and the loop thread, never at the same time: `work` is Sendable and
// only called by `runWork`, on the pool thread; `output` is written there and read by `finish` on the loop
// thread, which libuv runs strictly after the work callback returned (its after-work queue is handed over under
// a mutex, a full memory barrier). `completion`, which is not Sendable, is only touched on the loop thread:
// stored at `init` (on the loop thread, in `run`) and called in `finish`.
private final class PendingWork<Output: Sendable>: QueuedWork, @unchecked Sendable {
    private let work: @Sendable () -> Output
    private let completion: (Output) -> Void
    private var output: Output?

    init(work: @escaping @Sendable () -> Output, completion: @escaping (Output) -> Void) {
        self.work = work
        self.completion = completion
    }

    override func runWork() { output = work() }

    override func finish(cancelled: Bool) {
        // Nothing cancels a queued job (`uv_cancel` is never called), so every job ran; a cancelled one would
        // have no output, and its completion could not be called with one: it is dropped.
        guard !cancelled, let output else { return }
        completion(output)
    }
}
