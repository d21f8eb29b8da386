import Glibc

/// Socket calls made outside the loop: the in-process control client's socketpair (`EventLoop` owns every
/// socket the loop serves).
package enum Sockets {
    /// A connected pair of close-on-exec Unix stream sockets (`socketpair(2)`).
    package static func streamPair() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        // SAFETY: socketpair writes two descriptors into the two-element array for the call.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw .last("socketpair")
        }
        return (fds[0], fds[1])
    }

    /// One `send(2)` with MSG_NOSIGNAL (a hung-up peer is EPIPE, not SIGPIPE); the count sent.
    package static func send(_ fd: Int32, _ bytes: ArraySlice<UInt8>) throws(SystemError) -> Int {
        // SAFETY: send reads at most the slice's count bytes from storage alive for the call.
        let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent >= 0 else { throw .last("send") }
        return sent
    }

    /// One `recv(2)` with MSG_DONTWAIT into `buffer`; the count, 0 when the peer closed. `wouldBlock` errors
    /// mean nothing is waiting.
    package static func receiveNow(_ fd: Int32, into buffer: inout [UInt8]) throws(SystemError) -> Int {
        // SAFETY: recv writes at most buffer.count bytes into the array's storage, alive for the call.
        let count = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard count >= 0 else { throw .last("recv") }
        return count
    }
}

extension Descriptors {
    /// Sets O_NONBLOCK on `fd`.
    package static func setNonBlocking(_ fd: Int32) throws(SystemError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { throw .last("fcntl O_NONBLOCK") }
    }
}
