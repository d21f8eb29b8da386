// A small blocking client for the control protocol (`Protocols/control.md`), for hubctl and tests.
// Plain sockets and poll(2): no event loop, no Foundation. Not thread-safe: use one per thread.
import ControlWire
import Endpoints
import Glibc
import JSON

/// A connection to a hub's control endpoint.
///
/// ```swift
/// let hub = try HubControlClient(address: "unix:/run/handsethub/control.sock")
/// let info = try hub.call("hub.info")
/// _ = try hub.call("events.subscribe", ["filter": ["kinds": ["irq.*"]]])
/// while let item = try hub.nextEvent(timeoutMs: 1000) { … }
/// ```
public final class HubControlClient {
    /// The greeting the hub sent on connect.
    public let hello: HubHello
    public let address: HubAddress
    /// Default time allowed for a response, in milliseconds.
    public var timeoutMs: Int

    private var fd: Int32
    private var framer: LineFramer
    private var nextID: Int64 = 1
    /// Notifications received while waiting for responses, oldest first.
    private var notifications: [ControlNotification] = []
    private var notificationHead = 0
    /// Responses that arrived for other ids (only when callers use ``send(_:)`` directly).
    private var strayResponses: [ControlResponse] = []

    /// Connects, reads the greeting and, when `token` is given, authenticates.
    public init(address text: String, token: String? = nil, timeoutMs: Int = 5000, maxLineLength: Int = 1 << 24)
        throws(HubClientError)
    {
        guard let address = try? HubAddress(parsingClientAddress: text) else { throw .invalidAddress(text) }
        self.address = address
        self.timeoutMs = timeoutMs
        self.framer = LineFramer(maxLineLength: maxLineLength)
        self.fd = try Self.connect(address)
        // Until `hello` is set, a failure must close the socket here because deinit will not run.
        var greeting: ControlMessage
        do {
            (greeting, pendingLines) = try Self.readFirstMessage(fd: fd, framer: &framer, timeoutMs: timeoutMs)
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
        guard case .notification(let notification) = greeting, let hello = HubHello(notification) else {
            _ = Glibc.close(fd)
            throw .protocolViolation("expected a hub.hello greeting, got \(greeting.json.serialized())")
        }
        self.hello = hello
        if let token {
            _ = try call("hub.authenticate", ["token": .string(token)])
        }
    }

    deinit {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Closes the connection; later calls fail with ``HubClientError/closed``.
    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    // MARK: Requests

    /// Sends a request and waits for its response; returns the result or throws the hub's error
    /// as ``HubClientError/server(_:)``. Notifications arriving meanwhile are kept for ``nextEvent(timeoutMs:)``.
    @discardableResult
    public func call(_ method: String, _ params: JSON? = nil, timeoutMs: Int? = nil) throws(HubClientError) -> JSON {
        let response = try request(method, params, timeoutMs: timeoutMs)
        switch response.outcome {
        case .result(let value): return value
        case .error(let error): throw .server(error)
        }
    }

    /// Like ``call(_:_:timeoutMs:)`` but returns the whole response, errors included.
    public func request(_ method: String, _ params: JSON? = nil, timeoutMs: Int? = nil) throws(HubClientError)
        -> ControlResponse
    {
        let id = JSON.int(nextID)
        nextID += 1
        try send(ControlRequest(id: id, method: method, params: params).encodedLine())
        let limit = timeoutMs ?? self.timeoutMs
        let deadline = Self.nowMs() + limit
        if let index = strayResponses.firstIndex(where: { $0.id == id }) { return strayResponses.remove(at: index) }
        while true {
            guard let message = try readMessage(until: deadline) else { throw .timeout(milliseconds: limit) }
            switch message {
            case .response(let response) where response.id == id: return response
            case .response(let response): strayResponses.append(response)
            case .notification(let notification): notifications.append(notification)
            case .request(let request):
                throw .protocolViolation("the hub sent a request (\(request.method))")
            }
        }
    }

    /// Sends a notification (a request without id: no answer is expected).
    public func notify(_ method: String, _ params: JSON? = nil) throws(HubClientError) {
        try send(ControlRequest(id: nil, method: method, params: params).encodedLine())
    }

    // MARK: Events

    /// The next `event` or `events.missed` notification, waiting up to `timeoutMs`; nil on timeout.
    public func nextEvent(timeoutMs: Int) throws(HubClientError) -> ControlNotification? {
        if let queued = popNotification() { return queued }
        let deadline = Self.nowMs() + timeoutMs
        while true {
            guard let message = try readMessage(until: deadline) else { return nil }
            switch message {
            case .notification(let notification): return notification
            case .response(let response): strayResponses.append(response)
            case .request(let request): throw .protocolViolation("the hub sent a request (\(request.method))")
            }
        }
    }

    private func popNotification() -> ControlNotification? {
        guard notificationHead < notifications.count else { return nil }
        let item = notifications[notificationHead]
        notificationHead += 1
        if notificationHead == notifications.count {
            notifications.removeAll(keepingCapacity: true)
            notificationHead = 0
        }
        return item
    }

    // MARK: Raw access (for protocol tests)

    /// Writes raw bytes (e.g. a deliberately malformed line).
    public func send(_ bytes: [UInt8]) throws(HubClientError) {
        guard fd >= 0 else { throw .closed }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                // SAFETY: the buffer is valid for the duration of the closure; offset < count.
                Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .io("send: \(Self.errnoText())")
            }
            offset += written
        }
    }

    /// Reads the next message of any kind, waiting up to `timeoutMs`; nil on timeout.
    public func nextMessage(timeoutMs: Int) throws(HubClientError) -> ControlMessage? {
        try readMessage(until: Self.nowMs() + timeoutMs)
    }

    private var pendingLines: [ArraySlice<UInt8>] = []

    private func readMessage(until deadline: Int) throws(HubClientError) -> ControlMessage? {
        while pendingLines.isEmpty {
            guard fd >= 0 else { throw .closed }
            let remaining = deadline - Self.nowMs()
            if remaining <= 0 { return nil }
            guard try Self.waitReadable(fd: fd, timeoutMs: remaining) else { return nil }
            let chunk = try Self.readChunk(fd: fd)
            guard let chunk else { throw .closed }
            pendingLines = framer.feed(chunk)
            if pendingLines.isEmpty, let overflow = framer.overflow {
                throw .protocolViolation("line from the hub too long: \(overflow)")
            }
        }
        let line = pendingLines.removeFirst()
        do {
            return try ControlMessage.decode(line: line)
        } catch {
            throw .protocolViolation("undecodable line from the hub: \(error.error.message)")
        }
    }

    // MARK: Socket plumbing

    /// Reads until the first line and returns it decoded, with any lines that came in the same read.
    private static func readFirstMessage(fd: Int32, framer: inout LineFramer, timeoutMs: Int) throws(HubClientError)
        -> (ControlMessage, [ArraySlice<UInt8>])
    {
        let deadline = nowMs() + timeoutMs
        while true {
            let remaining = deadline - nowMs()
            guard remaining > 0, try waitReadable(fd: fd, timeoutMs: remaining) else {
                throw .timeout(milliseconds: timeoutMs)
            }
            guard let chunk = try readChunk(fd: fd) else { throw .closed }
            let lines = framer.feed(chunk)
            if let first = lines.first {
                do {
                    return (try ControlMessage.decode(line: first), Array(lines.dropFirst()))
                } catch {
                    throw .protocolViolation("undecodable greeting: \(error.error.message)")
                }
            }
        }
    }

    private static func readChunk(fd: Int32) throws(HubClientError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in
                // SAFETY: raw is valid for its whole length during the closure.
                Glibc.recv(fd, raw.baseAddress!, raw.count, 0)
            }
            if count > 0 { return Array(buffer[0..<count]) }
            if count == 0 { return nil }
            if errno == EINTR { continue }
            if errno == ECONNRESET { return nil }
            throw .io("recv: \(errnoText())")
        }
    }

    private static func waitReadable(fd: Int32, timeoutMs: Int) throws(HubClientError) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&pfd, 1, Int32(clamping: timeoutMs))
            if ready > 0 { return true }
            if ready == 0 { return false }
            if errno == EINTR { continue }
            throw .io("poll: \(errnoText())")
        }
    }

    private static func connect(_ address: HubAddress) throws(HubClientError) -> Int32 {
        switch address {
        case .unix(let path): return try connectUnix(path, address: address)
        case .tcp(let host, let port): return try connectTCP(host, port, address: address)
        }
    }

    private static func connectUnix(_ path: String, address: HubAddress) throws(HubClientError) -> Int32 {
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard pathBytes.count < capacity else {
            throw .connectFailed(address: address.description, reason: "socket path longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            // SAFETY: pathBytes.count < raw.count was checked above; the rest stays zero (NUL terminator).
            raw.copyBytes(from: pathBytes)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .connectFailed(address: address.description, reason: errnoText()) }
        let result = withUnsafePointer(to: &storage) { pointer in
            // SAFETY: sockaddr_un is layout-compatible with sockaddr for the length given.
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let reason = errnoText()
            _ = Glibc.close(fd)
            throw .connectFailed(address: address.description, reason: reason)
        }
        return fd
    }

    private static func connectTCP(_ host: String, _ port: UInt16, address: HubAddress) throws(HubClientError)
        -> Int32
    {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = String(cString: gai_strerror(status))
            throw .connectFailed(address: address.description, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            // SAFETY: getaddrinfo's list stays valid until freeaddrinfo in the defer above.
            let info = current.pointee
            entry = info.ai_next
            let fd = socket(info.ai_family, info.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.ai_protocol)
            if fd < 0 {
                lastError = errnoText()
                continue
            }
            if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) == 0 {
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            lastError = errnoText()
            _ = Glibc.close(fd)
        }
        throw .connectFailed(address: address.description, reason: lastError)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }

    static func nowMs() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }
}
