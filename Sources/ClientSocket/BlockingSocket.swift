// The blocking stream socket the Swift clients share (`HubControlClient` for the control protocol,
// `HubGuest` for the guest protocol): connect to an `Endpoint` with an optional time limit, write
// everything, wait for input with a time limit, read, and collect descriptors passed with SCM_RIGHTS.
// Plain sockets and poll(2): no event loop, no Foundation. Not thread-safe: one socket per thread.
import Endpoints
import Glibc

/// Why a blocking socket operation failed. Each client turns these into its own error type.
package enum BlockingSocketError: Error, Sendable, Equatable {
    /// `getaddrinfo` failed with `status` (an `EAI_*` code, not an `errno`); `reason` is `gai_strerror`'s text.
    case resolve(status: Int32, reason: String)
    /// A system call failed with `errno`.
    case system(call: String, errno: Int32)
    /// The connection was not established within the time allowed (a listener that never accepts, a host
    /// that never answers).
    case connectTimedOut(milliseconds: Int)
    /// The socket was closed by `close()`.
    case closed

    /// True when a send failed because the peer has gone (`EPIPE`, `ECONNRESET`).
    package var isPeerGone: Bool {
        if case .system(_, let code) = self { return code == EPIPE || code == ECONNRESET }
        return false
    }

    /// `strerror`'s text for a system error, `gai_strerror`'s for a resolution error.
    package var reason: String {
        switch self {
        case .resolve(_, let reason): return reason
        case .system(_, let code): return String(cString: strerror(code))
        case .connectTimedOut(let milliseconds): return "no connection within \(milliseconds) ms"
        case .closed: return "socket closed"
        }
    }
}

/// A connected blocking stream socket; closes its descriptor (and any received ones) when released.
package final class BlockingSocket {
    package private(set) var descriptor: Int32
    package let isUnix: Bool
    /// Descriptors received as ancillary data by ``receive(into:)`` on a Unix socket, oldest first.
    package var receivedDescriptors: [Int32] = []

    /// Takes ownership of a connected stream socket.
    package init(adopting descriptor: Int32, isUnix: Bool) {
        self.descriptor = descriptor
        self.isUnix = isUnix
    }

    deinit { close() }

    /// Connects to `endpoint`. `timeoutMs` bounds the connect itself (nil: as long as the kernel tries);
    /// resolving a host name is not bounded by it. TCP connections get `TCP_NODELAY`: the clients exchange
    /// small request/answer frames, where latency matters more than packet count.
    package static func connect(to endpoint: Endpoint, timeoutMs: Int? = nil) throws(BlockingSocketError)
        -> BlockingSocket
    {
        switch endpoint {
        case .unix(let path): return try connectUnix(path: path, timeoutMs: timeoutMs)
        case .tcp(let host, let port): return try connectTCP(host: host, port: port, timeoutMs: timeoutMs)
        }
    }

    private static func connectUnix(path: String, timeoutMs: Int?) throws(BlockingSocketError) -> BlockingSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        // `Endpoint` already holds a Unix path to 107 bytes without NUL; checked again because this copies
        // into a fixed C array.
        guard !pathBytes.isEmpty, pathBytes.count < MemoryLayout.size(ofValue: address.sun_path),
            !pathBytes.contains(0)
        else { throw .system(call: "connect", errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            // SAFETY: pathBytes.count < raw.count was checked above; the rest stays zero (the NUL terminator).
            raw.copyBytes(from: pathBytes)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(call: "socket", errno: errno) }
        do {
            try withUnsafePointer(to: &address) { (pointer) throws(BlockingSocketError) in
                // SAFETY: sockaddr_un is layout-compatible with sockaddr for the length given, and `address`
                // lives for the duration of the call.
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(BlockingSocketError) in
                    try connect(fd, raw, socklen_t(MemoryLayout<sockaddr_un>.size), timeoutMs: timeoutMs)
                }
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return BlockingSocket(adopting: fd, isUnix: true)
    }

    private static func connectTCP(host: String, port: UInt16, timeoutMs: Int?) throws(BlockingSocketError)
        -> BlockingSocket
    {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .resolve(status: status, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var lastError = BlockingSocketError.system(call: "connect", errno: EADDRNOTAVAIL)
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            // SAFETY: getaddrinfo's list stays valid until freeaddrinfo in the defer above.
            cursor = info.pointee.ai_next
            let fd = socket(
                info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue),
                info.pointee.ai_protocol)
            if fd < 0 {
                lastError = .system(call: "socket", errno: errno)
                continue
            }
            do {
                try connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen, timeoutMs: timeoutMs)
            } catch {
                lastError = error
                Glibc.close(fd)
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return BlockingSocket(adopting: fd, isUnix: false)
        }
        throw lastError
    }

    /// A blocking connect bounded by `SO_SNDTIMEO`, which Linux applies to `connect` on both TCP and Unix
    /// sockets: when it expires a TCP connect fails with `EINPROGRESS`, a Unix one (the listener's backlog
    /// stayed full) with `EAGAIN`. The option is cleared again so that it does not bound later sends.
    private static func connect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t, timeoutMs: Int?)
        throws(BlockingSocketError)
    {
        if let timeoutMs { try setSendTimeout(fd, milliseconds: max(1, timeoutMs)) }
        let result = Glibc.connect(fd, address, length)
        let code = errno
        if timeoutMs != nil { try setSendTimeout(fd, milliseconds: 0) }
        guard result != 0 else { return }
        if let timeoutMs, code == EINPROGRESS || code == EAGAIN { throw .connectTimedOut(milliseconds: timeoutMs) }
        throw .system(call: "connect", errno: code)
    }

    private static func setSendTimeout(_ fd: Int32, milliseconds: Int) throws(BlockingSocketError) {
        let clamped = min(milliseconds, 24 * 3600 * 1000)
        var limit = timeval(tv_sec: clamped / 1000, tv_usec: (clamped % 1000) * 1000)
        guard setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw .system(call: "setsockopt", errno: errno)
        }
    }

    /// Writes all of `bytes`, retrying after signals. A peer that has gone fails with `EPIPE` or
    /// `ECONNRESET` (never SIGPIPE: `MSG_NOSIGNAL`).
    package func writeAll(_ bytes: [UInt8]) throws(BlockingSocketError) {
        guard descriptor >= 0 else { throw .closed }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                // SAFETY: the buffer is valid for the closure's duration; offset < raw.count.
                send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .system(call: "send", errno: errno)
            }
            offset += written
        }
    }

    /// Waits up to `timeoutMs` (nil: forever) until a read will not block; false on timeout. End of stream
    /// counts as readable (the read then returns 0).
    package func waitReadable(timeoutMs: Int?) throws(BlockingSocketError) -> Bool {
        guard descriptor >= 0 else { throw .closed }
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let millis: Int32 = timeoutMs.map { Int32(clamping: max(0, $0)) } ?? -1
        while true {
            let ready = poll(&poller, 1, millis)
            if ready > 0 { return true }
            if ready == 0 { return false }
            if errno == EINTR { continue }
            throw .system(call: "poll", errno: errno)
        }
    }

    /// Reads what is there into `buffer` (blocking until something is); returns the count, 0 at end of
    /// stream or when the peer reset the connection. With `collectingDescriptors` on a Unix socket,
    /// descriptors that came with the bytes are appended to ``receivedDescriptors``.
    package func receive(into buffer: inout [UInt8], collectingDescriptors: Bool = false) throws(BlockingSocketError)
        -> Int
    {
        guard descriptor >= 0 else { throw .closed }
        let withDescriptors = collectingDescriptors && isUnix
        while true {
            let count = withDescriptors ? receiveWithDescriptors(into: &buffer) : receivePlain(into: &buffer)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            if errno == ECONNRESET { return 0 }
            throw .system(call: withDescriptors ? "recvmsg" : "recv", errno: errno)
        }
    }

    private func receivePlain(into buffer: inout [UInt8]) -> Int {
        // SAFETY: recv writes at most buffer.count bytes into the buffer's storage.
        buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
    }

    private func receiveWithDescriptors(into buffer: inout [UInt8]) -> Int {
        // Room for 16 descriptors per read; more arrive with later reads.
        var control = [UInt8](repeating: 0, count: MemoryLayout<cmsghdr>.size + 16 * MemoryLayout<Int32>.size)
        // SAFETY: iovec and control point into arrays that outlive the recvmsg call below.
        return buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { controlRaw in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = controlRaw.baseAddress
                    header.msg_controllen = controlRaw.count
                    let received = recvmsg(descriptor, &header, Int32(MSG_CMSG_CLOEXEC))
                    if received >= 0 { collectDescriptors(controlRaw, length: Int(header.msg_controllen)) }
                    return received
                }
            }
        }
    }

    /// Walks the control messages by hand: CMSG_FIRSTHDR/CMSG_NXTHDR are C macros Swift cannot import.
    private func collectDescriptors(_ control: UnsafeMutableRawBufferPointer, length: Int) {
        let align = MemoryLayout<Int>.size
        func aligned(_ value: Int) -> Int { (value + align - 1) & ~(align - 1) }
        let headerSize = aligned(MemoryLayout<cmsghdr>.size)
        var offset = 0
        while offset + headerSize <= length {
            // SAFETY: offset + header size is within the control bytes the kernel filled in.
            let header = control.load(fromByteOffset: offset, as: cmsghdr.self)
            let messageLength = Int(header.cmsg_len)
            guard messageLength >= headerSize, offset + messageLength <= length else { break }
            if header.cmsg_level == SOL_SOCKET && header.cmsg_type == Int32(SCM_RIGHTS) {
                let count = (messageLength - headerSize) / MemoryLayout<Int32>.size
                for index in 0..<count {
                    // SAFETY: within this control message's data, which holds `count` descriptors.
                    let fd = control.loadUnaligned(
                        fromByteOffset: offset + headerSize + index * MemoryLayout<Int32>.size, as: Int32.self)
                    receivedDescriptors.append(fd)
                }
            }
            offset += aligned(messageLength)
        }
    }

    /// Closes the socket and every received descriptor nobody claimed; later calls throw ``BlockingSocketError/closed``.
    package func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
        for fd in receivedDescriptors { Glibc.close(fd) }
        receivedDescriptors.removeAll()
    }

    /// Milliseconds on the monotonic clock, for callers' deadlines.
    package static func monotonicMs() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }
}
