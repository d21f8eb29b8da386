import EventLoop
import Glibc

/// Runs `body` on a new detached thread (Foundation's Thread would pull Foundation into the tests).
package func spawnThread(_ body: @escaping @Sendable () -> Void) {
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

/// A value shared between threads behind a lock: the event loop's pthread-backed lock, which
/// ThreadSanitizer can see through.
package typealias Locked = PThreadLocked
