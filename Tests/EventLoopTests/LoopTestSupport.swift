import EventLoop
import Testing

/// Runs `body` on a fresh loop, runs the loop until `done()` or the deadline, then shuts down and
/// asserts that `uv_loop_close` returned 0 (the leak check every loop test ends with).
func withLoop(
    timeoutMilliseconds: UInt64 = 5000, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (Loop, _ finish: @escaping () -> Void) throws -> Void
) throws {
    let loop = try Loop()
    var finished = false
    let deadline = MonotonicClock.nanoseconds() + timeoutMilliseconds * 1_000_000
    try body(loop) { finished = true }
    while !finished && MonotonicClock.nanoseconds() < deadline {
        let watchdog = try Timer(loop: loop)
        watchdog.start(afterMilliseconds: 20) {}
        loop.runOnce()
        watchdog.close()
    }
    #expect(finished, "loop test timed out", sourceLocation: sourceLocation)
    #expect(loop.shutdown() == 0, "uv_loop_close reported live handles", sourceLocation: sourceLocation)
}
