import EventLoop
import Testing

/// One line per interval, and the next line admitted says how many were held back.
@Suite struct LogThrottleTests {
    @Test func oneLineAnIntervalAndTheNextSaysHowManyWereHeldBack() {
        var throttle = LogThrottle()
        #expect(throttle.admit(nowMs: 5000) == "")
        #expect(throttle.admit(nowMs: 5001) == nil)
        #expect(throttle.admit(nowMs: 5999) == nil)
        #expect(throttle.admit(nowMs: 6000) == " (and 2 more since the last report)")
        #expect(throttle.admit(nowMs: 7000) == "")
        #expect(throttle.admit(nowMs: 7100, intervalMs: 100) == "")
        #expect(throttle.admit(nowMs: 7150, intervalMs: 100) == nil)
    }
}
