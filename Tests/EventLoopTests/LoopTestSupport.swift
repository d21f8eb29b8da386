import EventLoop
import Glibc
import Testing

/// A connected Unix socket pair: the hub's end adopted as a `Connection` with a small send buffer (so the kernel
/// takes only part of a write), the peer's end a raw non-blocking descriptor the test reads itself.
func adoptedSocketPair(loop: Loop) throws -> (Connection, Int32) {
    var fds: [Int32] = [0, 0]
    #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
    var size: Int32 = 4096
    _ = setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
    return (try Connection.adopting(fileDescriptor: fds[0], loop: loop), fds[1])
}

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

/// Removes a test's Unix socket and the directory the listener made for it under /tmp (in a `defer`, so a test
/// that fails before its listener closed leaves nothing either).
func removeSocketDirectory(_ directory: String, socket: String) {
    unlink(socket)
    rmdir(directory)
}
