import DeviceKit
import EventLoop
import Framebuffer
import JSON

/// A pending `fb.wait` (`Protocols/control.md`, `fb.wait`): the condition it is held on, in the family's
/// `DeferredWaits` (at most `controlMaxWaiters` pending, `-32004 too_many_waits` beyond; `-32005` at
/// `timeoutMs`). Answered when its region matches (or changes).
package struct FramebufferWait {
    package enum Match {
        /// Every pixel within `tolerance` (per channel) of the colour.
        case colour(UInt32, tolerance: Int)
        /// Every pixel within `tolerance` of the expected image (native pixels, row-major).
        case image([UInt32], tolerance: Int)
        /// Any pixel differs from when the wait began: held as a 64-bit hash of the region, not a copy of it
        /// (a whole screen is 1.5 MB; 256 waits held 380 MB). A change that left the hash equal would go unseen:
        /// a chance of about 2^-64 per comparison.
        case changed(fromHash: UInt64)
    }

    /// What this wait holds of an image, counted against `hub.limits.fbWaitImageBytes`.
    var imageBytes: Int {
        if case .image(let expected, _) = match { expected.count * 4 } else { 0 }
    }

    /// FNV-1a over the pixels: cheap, and any change of a pixel changes it but by a 2^-64 chance.
    static func hash(_ pixels: [UInt32]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for pixel in pixels {
            hash = (hash ^ UInt64(pixel)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The framebuffer whose region is watched.
    let screen: String
    let rect: ScreenRect
    let match: Match
    /// Monotonic nanoseconds when the wait began.
    let started: UInt64

    /// Whether `pixels` (the region now) satisfy the condition.
    func isSatisfied(by pixels: [UInt32]) -> Bool {
        switch match {
        case .colour(let colour, let tolerance):
            return pixels.allSatisfy { Self.close($0, colour, tolerance) }
        case .image(let expected, let tolerance):
            return zip(pixels, expected).allSatisfy { Self.close($0, $1, tolerance) }
        case .changed(let hash):
            return Self.hash(pixels) != hash
        }
    }

    /// The answer once matched.
    func result(now: UInt64) -> JSON {
        ["matched": true, "elapsedMs": .int(Int64((now - started) / 1_000_000))]
    }

    /// Whether any of `changes` touched the watched region.
    func isTouched(by changes: [ScreenChange]) -> Bool {
        changes.contains { change in
            switch change {
            case .damage(let rect): rect.intersects(self.rect)
            case .move(_, _, let destination): destination.intersects(self.rect)
            }
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
    /// Answers the waits on this screen whose region the changes touched and now match.
    func resolveWaits(_ changes: [ScreenChange]) {
        guard !waits.isEmpty else { return }
        let now = MonotonicClock.nanoseconds()
        waits.resolve { wait in
            guard wait.screen == name, wait.isTouched(by: changes), wait.isSatisfied(by: compositor.read(wait.rect))
            else { return nil }
            return wait.result(now: now)
        }
    }
}
