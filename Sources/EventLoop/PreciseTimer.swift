import CUV
import Glibc

/// A one-shot wake-up at a deadline in nanoseconds (`MonotonicClock`): a timerfd the poll watches, owned and
/// closed with the handle.
///
/// libuv's timers count whole milliseconds, and the poll's own timeout too; holding a stream's next read for
/// tens of microseconds (`Connection.holdReads`) needs a finer clock. Arming, re-arming and disarming are one
/// `timerfd_settime` each, and each also clears an expiry the poll has not yet been told about, so a fired timer
/// is never read: the callback runs once per expiry and leaves the timer disarmed unless it arms it again.
final class PreciseTimer: LoopHandle {
    private let descriptor: Int32
    /// The armed deadline; 0 while disarmed.
    private(set) var deadline: UInt64 = 0
    /// The descriptor reads as expired until the next `timerfd_settime`.
    private var expired = false
    private var onFire: (() -> Void)?

    init(loop: Loop, onFire: @escaping () -> Void) throws(LoopError) {
        // CLOCK_MONOTONIC: the clock `uv_hrtime` (`MonotonicClock`) reads, so deadlines are absolute times.
        descriptor = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        guard descriptor >= 0 else { throw LoopError(code: -errno, operation: "timerfd_create") }
        self.onFire = onFire
        super.init(loop: loop, type: UV_POLL)
        let initialised = uv_poll_init(loop.raw, pointer(as: uv_poll_t.self), descriptor)
        guard initialised == 0 else {
            Glibc.close(descriptor)
            throw LoopError(code: initialised, operation: "uv_poll_init")
        }
        didOpen()
        let started = uv_poll_start(pointer(as: uv_poll_t.self), Int32(UV_READABLE.rawValue)) { poll, _, _ in
            // SAFETY: uv_poll_t begins with the uv_handle_t fields; the owner lives until its close callback.
            let handle = UnsafeMutableRawPointer(poll!).assumingMemoryBound(to: uv_handle_t.self)
            LoopHandle.withOwner(of: handle, as: PreciseTimer.self) { $0.fire() }
        }
        guard started == 0 else {
            close()
            throw LoopError(code: started, operation: "uv_poll_start")
        }
        // Referenced only while armed: a pending wake-up keeps the loop running, a disarmed timer does not.
        unreference()
    }

    /// Wakes the loop at `deadline` (at least 1; a deadline already past wakes it at once). Re-arming replaces
    /// the previous deadline.
    func arm(at deadline: UInt64) {
        let target = max(deadline, 1)
        guard isOpen, target != self.deadline else { return }
        set(target)
    }

    /// No wake-up.
    func disarm() {
        guard isOpen, deadline != 0 else { return }
        set(0)
    }

    private func set(_ target: UInt64) {
        var value = itimerspec()
        value.it_value.tv_sec = Int(target / 1_000_000_000)
        value.it_value.tv_nsec = Int(target % 1_000_000_000)
        // SAFETY: a local itimerspec, read by the call; no old value asked for.
        _ = timerfd_settime(descriptor, Int32(TFD_TIMER_ABSTIME), &value, nil)
        // Both idempotent flag changes, no system call.
        if target == 0 { unreference() } else { reference() }
        deadline = target
        expired = false
    }

    private func fire() {
        // A report the poll gathered before a re-arm or disarm in the same pass (either clears the expiry, so it
        // is not reported again): nothing is due yet.
        guard deadline != 0, MonotonicClock.nanoseconds() >= deadline else { return }
        deadline = 0
        expired = true
        onFire?()
        // Not armed again by the callback: cleared, or the poll would report the same expiry on every pass.
        if expired && isOpen { set(0) }
    }

    override func willClose() { uv_poll_stop(pointer(as: uv_poll_t.self)) }

    override func didClose() {
        onFire = nil
        // libuv no longer watches it: the descriptor is closed with the handle, whoever closed the handle.
        Glibc.close(descriptor)
    }
}
