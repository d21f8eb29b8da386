import DeviceKit
import EventLoop
import Framebuffer
import JSON

/// A deferred `fb.wait`: answered when its region matches (or changes), or with a timeout error.
final class FramebufferWait {
    enum Condition {
        /// Every pixel within `tolerance` (per channel) of the colour.
        case colour(UInt32, tolerance: Int)
        /// Every pixel within `tolerance` of the expected image (native pixels, row-major).
        case image([UInt32], tolerance: Int)
        /// Any pixel differs from the snapshot taken when the wait began.
        case changed(from: [UInt32])
    }

    let call: ControlCall
    let rect: ScreenRect
    let condition: Condition
    let started: UInt64
    let deadline: UInt64
    let timeoutMs: Int64

    init(call: ControlCall, rect: ScreenRect, condition: Condition, started: UInt64, timeoutMs: Int64) {
        self.call = call
        self.rect = rect
        self.condition = condition
        self.started = started
        self.deadline = started + UInt64(timeoutMs) * 1_000_000
        self.timeoutMs = timeoutMs
    }

    /// Whether `pixels` (the region now) satisfy the condition.
    func isSatisfied(by pixels: [UInt32]) -> Bool {
        switch condition {
        case .colour(let colour, let tolerance):
            return pixels.allSatisfy { Self.close($0, colour, tolerance) }
        case .image(let expected, let tolerance):
            return zip(pixels, expected).allSatisfy { Self.close($0, $1, tolerance) }
        case .changed(let snapshot):
            return pixels != snapshot
        }
    }

    static func close(_ a: UInt32, _ b: UInt32, _ tolerance: Int) -> Bool {
        for shift: UInt32 in [0, 8, 16] {
            let difference = Int((a >> shift) & 0xff) - Int((b >> shift) & 0xff)
            if abs(difference) > tolerance { return false }
        }
        return true
    }
}

extension FramebufferScreen {
    /// Re-checks waits whose region the changes touched.
    func checkWaits(_ changes: [ScreenChange]) {
        guard !waits.isEmpty else { return }
        let now = MonotonicClock.nanoseconds()
        waits.removeAll { wait in
            let touched = changes.contains { change in
                switch change {
                case .damage(let rect): rect.intersects(wait.rect)
                case .move(_, _, let destination): destination.intersects(wait.rect)
                }
            }
            guard touched, wait.isSatisfied(by: compositor.read(wait.rect)) else { return false }
            wait.call.reply(.result(waitResult(wait, now: now)))
            return true
        }
    }

    func waitResult(_ wait: FramebufferWait, now: UInt64) -> JSON {
        ["matched": true, "elapsedMs": .int(Int64((now - wait.started) / 1_000_000))]
    }

    func addWait(_ wait: FramebufferWait) {
        waits.append(wait)
        armWaitTimer()
    }

    func armWaitTimer() {
        guard let next = waits.map(\.deadline).min() else { return }
        let now = MonotonicClock.nanoseconds()
        let delay = next > now ? (next - now + 999_999) / 1_000_000 : 0
        waitTimerHandle?.start(afterMilliseconds: delay) { [unowned self] in
            let now = MonotonicClock.nanoseconds()
            self.waits.removeAll { wait in
                guard wait.deadline <= now || wait.call.isAnswered else { return false }
                wait.call.reply(.error(.timeout(afterMs: wait.timeoutMs)))
                return true
            }
            self.armWaitTimer()
        }
    }
}
