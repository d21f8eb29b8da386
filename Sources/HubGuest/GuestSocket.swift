import Endpoints
import Glibc

/// A blocking stream socket: connect by endpoint string, write everything, read with a timeout,
/// and collect descriptors passed with SCM_RIGHTS (Unix sockets only).
final class GuestSocket {
    private(set) var descriptor: Int32
    let isUnix: Bool
    /// Descriptors received as ancillary data, oldest first; `REGION_FD` frames claim them in order.
    var receivedDescriptors: [Int32] = []

    init(descriptor: Int32, isUnix: Bool) {
        self.descriptor = descriptor
        self.isUnix = isUnix
    }

    deinit { close() }

    static func connect(endpoint: String) throws(GuestClientError) -> GuestSocket {
        guard let parsed = try? Endpoint(parsing: endpoint) else { throw .badEndpoint(endpoint) }
        switch parsed {
        case .unix(let path): return try connectUnix(path: path)
        case .tcp(let host, let port): return try connectTCP(host: host, port: port)
        }
    }

    private static func connectUnix(path: String) throws(GuestClientError) -> GuestSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity else { throw .badEndpoint("unix:" + path) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system(call: "socket", errno: errno) }
        // SAFETY: `address` is a fully initialised sockaddr_un living for the duration of the call.
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .system(call: "connect", errno: code)
        }
        return GuestSocket(descriptor: fd, isUnix: true)
    }

    private static func connectTCP(host: String, port: UInt16) throws(GuestClientError) -> GuestSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else { throw .system(call: "getaddrinfo", errno: status) }
        defer { freeaddrinfo(first) }
        var lastErrno: Int32 = 0
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd < 0 {
                lastErrno = errno
                continue
            }
            // SAFETY: ai_addr/ai_addrlen come from getaddrinfo and stay valid until freeaddrinfo.
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                var one: Int32 = 1
                // Small request/answer frames: latency matters more than packet count.
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return GuestSocket(descriptor: fd, isUnix: false)
            }
            lastErrno = errno
            Glibc.close(fd)
        }
        throw .system(call: "connect", errno: lastErrno)
    }

    func writeAll(_ bytes: [UInt8]) throws(GuestClientError) {
        guard descriptor >= 0 else { throw .closed }
        var offset = 0
        while offset < bytes.count {
            // SAFETY: the buffer pointer is used only inside the closure, for bytes.count - offset bytes.
            let written = bytes.withUnsafeBytes { raw in
                send(descriptor, raw.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE || errno == ECONNRESET { throw .closed }
                throw .system(call: "send", errno: errno)
            }
            offset += written
        }
    }

    /// Waits up to `timeout` seconds (nil = forever) for bytes; returns nil on timeout, [] never,
    /// and throws `.closed` at end of stream.
    func read(into buffer: inout [UInt8], timeout: Double?) throws(GuestClientError) -> Int? {
        guard descriptor >= 0 else { throw .closed }
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let millis: Int32 = timeout.map { Int32(max(0, min($0 * 1000, Double(Int32.max)))) } ?? -1
        while true {
            let ready = poll(&poller, 1, millis)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .system(call: "poll", errno: errno)
            }
            if ready == 0 { return nil }
            break
        }
        let count = isUnix ? try receiveWithDescriptors(into: &buffer) : try receivePlain(into: &buffer)
        if count == 0 { throw .closed }
        return count
    }

    private func receivePlain(into buffer: inout [UInt8]) throws(GuestClientError) -> Int {
        while true {
            // SAFETY: recv writes at most buffer.count bytes into the buffer's storage.
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { throw .closed }
                throw .system(call: "recv", errno: errno)
            }
            return count
        }
    }

    private func receiveWithDescriptors(into buffer: inout [UInt8]) throws(GuestClientError) -> Int {
        let headerSize = MemoryLayout<cmsghdr>.size
        // Room for 16 descriptors per read; more arrive with later reads.
        var control = [UInt8](repeating: 0, count: headerSize + 16 * MemoryLayout<Int32>.size)
        while true {
            // SAFETY: iovec and control point into arrays that outlive the recvmsg call below.
            let count = buffer.withUnsafeMutableBytes { data in
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
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { throw .closed }
                throw .system(call: "recvmsg", errno: errno)
            }
            return count
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

    func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
        for fd in receivedDescriptors { Glibc.close(fd) }
        receivedDescriptors.removeAll()
    }
}
