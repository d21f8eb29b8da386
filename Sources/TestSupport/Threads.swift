import Glibc

/// Runs `body` on a new detached thread (Foundation's Thread would pull Foundation into the tests).
public func spawnThread(_ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {  // SAFETY: handed to exactly one new thread.
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    // SAFETY: the box is released exactly once, by the new thread.
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
    pthread_detach(thread)
}

/// A value shared between threads behind a lock (a class, so closures can capture it). A pthread mutex
/// rather than `Synchronization.Mutex`, so ThreadSanitizer (which intercepts pthread locks) sees the ordering.
public final class Locked<Value: Sendable>: @unchecked Sendable {
    // SAFETY: `value` is only touched while `mutex` is held; the mutex lives as long as the object.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&value)
    }
}
