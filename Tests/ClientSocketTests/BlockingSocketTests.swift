import ClientSocket
import Endpoints
import Glibc
import Testing

/// A listening socket made with plain system calls, so the peer's behaviour (never accepting, closing
/// mid-read, resetting) is exactly what each test sets up.
private final class RawListener {
    /// -1 once ``stopListening()`` closed it, so that deinit never closes a descriptor number that a test
    /// running in parallel may have been given since.
    private(set) var fd: Int32
    let endpoint: Endpoint
    private let path: String?

    /// A TCP listener on 127.0.0.1 with a kernel-chosen port.
    init(tcpBacklog backlog: Int32) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            // SAFETY: sockaddr_in is layout-compatible with sockaddr for the length given.
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && listen(fd, backlog) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        try #require(fd >= 0 && bound)
        self.fd = fd
        endpoint = .tcp(host: "127.0.0.1", port: UInt16(bigEndian: address.sin_port))
        path = nil
    }

    /// A Unix listener in /tmp.
    init(unixBacklog backlog: Int32) throws {
        let path = "/tmp/blocking-socket-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            // SAFETY: the path is far shorter than sun_path; the rest stays zero.
            raw.copyBytes(from: Array(path.utf8))
        }
        let bound = withUnsafePointer(to: &address) { pointer in
            // SAFETY: sockaddr_un is layout-compatible with sockaddr for the length given.
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 && listen(fd, backlog) == 0
            }
        }
        try #require(fd >= 0 && bound)
        self.fd = fd
        endpoint = .unix(path: path)
        self.path = path
    }

    func acceptOne() -> Int32 { accept(fd, nil, nil) }

    /// Attaches a classic BPF program of one instruction, `ret #0`, so the kernel discards every packet
    /// for this socket, SYNs to a listener included, before TCP sees them.
    func dropEveryIncomingPacket() throws {
        // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }: BPF_RET | BPF_K (0x06) returning 0 bytes.
        var program: [UInt8] = [0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        let attached = program.withUnsafeMutableBytes { instructions -> Int32 in
            // struct sock_fprog { u16 len; struct sock_filter *filter; }, padded to 16 bytes on 64-bit.
            var header = [UInt64](repeating: 0, count: 2)
            header[0] = 1
            header[1] = UInt64(UInt(bitPattern: instructions.baseAddress))
            return header.withUnsafeBytes { fprog in
                // SAFETY: fprog is 16 bytes laid out as sock_fprog (little-endian u16 length, pointer at 8);
                // the instruction it points at outlives the call, which copies it into the kernel.
                setsockopt(
                    fd, SOL_SOCKET, 26 /* SO_ATTACH_FILTER */, fprog.baseAddress,
                    socklen_t(fprog.count))
            }
        }
        try #require(attached == 0, "SO_ATTACH_FILTER failed: errno \(errno)")
    }

    /// Closes the listening socket now (its address then refuses connections); deinit will not close again.
    func stopListening() {
        Glibc.close(fd)
        fd = -1
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        if let path { unlink(path) }
    }
}

@Suite struct BlockingSocketTests {
    /// Connects until the listener's queue is full and a connect has to wait; that one must give up after
    /// its time limit instead of blocking for the kernel's minutes of SYN retries (TCP) or forever (Unix).
    private func expectConnectTimesOut(_ listener: RawListener) throws {
        var held: [BlockingSocket] = []
        var timedOut = false
        for _ in 0..<16 {
            do {
                held.append(try BlockingSocket.connect(to: listener.endpoint, timeoutMs: 200))
            } catch .connectTimedOut(let milliseconds) {
                #expect(milliseconds == 200)
                timedOut = true
                break
            }
        }
        #expect(timedOut, "a listener that never accepts must make a connect time out")
        #expect(!held.isEmpty, "the first connections fit in the backlog")
    }

    /// What a kernel does with a SYN for a full accept queue differs (dropped here, answered with a reset on
    /// some CI kernels), so the TCP case does not rely on the backlog: a socket filter that drops every
    /// packet makes the listener silent, and the client sees exactly what an unreachable host looks like.
    @Test func tcpConnectToASilentListenerTimesOut() throws {
        let listener = try RawListener(tcpBacklog: 4)
        try listener.dropEveryIncomingPacket()
        let started = BlockingSocket.monotonicMs()
        #expect(throws: BlockingSocketError.connectTimedOut(milliseconds: 200)) {
            try BlockingSocket.connect(to: listener.endpoint, timeoutMs: 200)
        }
        let elapsed = BlockingSocket.monotonicMs() - started
        #expect(elapsed >= 150 && elapsed < 5_000, "gave up after \(elapsed) ms")
    }

    @Test func unixConnectToAListenerThatNeverAcceptsTimesOut() throws {
        try expectConnectTimesOut(try RawListener(unixBacklog: 0))
    }

    @Test(arguments: [true, false]) func connectTimeoutDoesNotBoundLaterSends(unix: Bool) throws {
        let listener = unix ? try RawListener(unixBacklog: 4) : try RawListener(tcpBacklog: 4)
        let socket = try BlockingSocket.connect(to: listener.endpoint, timeoutMs: 50)
        let peer = listener.acceptOne()
        defer { Glibc.close(peer) }
        // A send timeout left over from the connect would make a send to a slow reader fail with EAGAIN
        // after 50 ms; the connect must clear it.
        var limit = timeval(tv_sec: 99, tv_usec: 99)
        var length = socklen_t(MemoryLayout<timeval>.size)
        #expect(getsockopt(socket.descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, &length) == 0)
        #expect(limit.tv_sec == 0 && limit.tv_usec == 0)
    }

    @Test func refusedConnectionIsASystemError() throws {
        let listener = try RawListener(unixBacklog: 1)
        let endpoint = listener.endpoint
        listener.stopListening()
        #expect(throws: BlockingSocketError.system(call: "connect", errno: ECONNREFUSED)) {
            try BlockingSocket.connect(to: endpoint, timeoutMs: 1000)
        }
    }

    @Test(arguments: [true, false]) func peerClosingMidReadEndsTheStream(unix: Bool) throws {
        let listener = unix ? try RawListener(unixBacklog: 4) : try RawListener(tcpBacklog: 4)
        let socket = try BlockingSocket.connect(to: listener.endpoint, timeoutMs: 1000)
        let peer = listener.acceptOne()
        // Half a message, then the peer goes away.
        #expect(send(peer, "{\"half\":", 8, 0) == 8)
        Glibc.close(peer)
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try socket.waitReadable(timeoutMs: 1000))
        #expect(try socket.receive(into: &buffer) == 8)
        #expect(Array(buffer[0..<8]) == Array("{\"half\":".utf8))
        #expect(try socket.waitReadable(timeoutMs: 1000), "end of stream is readable")
        #expect(try socket.receive(into: &buffer) == 0)
        #expect(try socket.receive(into: &buffer, collectingDescriptors: true) == 0)
    }

    @Test func peerResettingMidReadEndsTheStream() throws {
        let listener = try RawListener(tcpBacklog: 4)
        let socket = try BlockingSocket.connect(to: listener.endpoint, timeoutMs: 1000)
        let peer = listener.acceptOne()
        try socket.writeAll(Array("unread".utf8))
        usleep(50_000)
        // Closing with unread input makes the kernel send RST instead of FIN.
        Glibc.close(peer)
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try socket.waitReadable(timeoutMs: 1000))
        #expect(try socket.receive(into: &buffer) == 0, "a reset reads as the end of the stream")
    }

    @Test func writingToAPeerThatHasGoneFailsWithoutSIGPIPE() throws {
        let listener = try RawListener(unixBacklog: 4)
        let socket = try BlockingSocket.connect(to: listener.endpoint)
        Glibc.close(listener.acceptOne())
        var failure: BlockingSocketError?
        for _ in 0..<8 {
            do { try socket.writeAll([UInt8](repeating: 1, count: 4096)) } catch {
                failure = error
                break
            }
        }
        #expect(failure?.isPeerGone == true)
    }

    @Test func readTimesOutWhenThePeerIsSilent() throws {
        let listener = try RawListener(tcpBacklog: 4)
        let socket = try BlockingSocket.connect(to: listener.endpoint, timeoutMs: 1000)
        let peer = listener.acceptOne()
        defer { Glibc.close(peer) }
        #expect(try !socket.waitReadable(timeoutMs: 20))
    }

    @Test func closedSocketRefusesEveryOperation() throws {
        let listener = try RawListener(unixBacklog: 4)
        let socket = try BlockingSocket.connect(to: listener.endpoint)
        socket.close()
        socket.close()
        var buffer = [UInt8](repeating: 0, count: 4)
        #expect(throws: BlockingSocketError.closed) { try socket.writeAll([1]) }
        #expect(throws: BlockingSocketError.closed) { try socket.waitReadable(timeoutMs: 0) }
        #expect(throws: BlockingSocketError.closed) { try socket.receive(into: &buffer) }
    }

    @Test func unresolvableHostIsAResolutionError() {
        #expect {
            try BlockingSocket.connect(to: .tcp(host: "no-such-host.invalid", port: 1), timeoutMs: 1000)
        } throws: { error in
            guard case .resolve(_, let reason) = error as? BlockingSocketError else { return false }
            return !reason.isEmpty
        }
    }
}
