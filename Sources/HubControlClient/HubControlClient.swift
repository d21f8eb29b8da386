// A small blocking client for the control protocol (`Protocols/control.md`), for hubctl and tests.
// The shared `BlockingSocket` (plain sockets and poll(2)): no event loop, no Foundation. Not thread-safe: use one per thread.
import ClientSocket
import ControlWire
import Endpoints
import JSON

/// A connection to a hub's control endpoint.
///
/// ```swift
/// let hub = try HubControlClient(address: "unix:/run/handsethub/control.sock")
/// let info = try hub.call("hub.info")
/// _ = try hub.call("events.subscribe", ["filter": ["kinds": ["irq.*"]]])
/// while let item = try hub.nextEvent(timeoutMs: 1000) { … }
/// ```
package final class HubControlClient {
    /// The greeting the hub sent on connect.
    package let hello: HubHello
    package let address: HubAddress
    /// Default time allowed for a response, in milliseconds.
    package var timeoutMs: Int

    private let socket: BlockingSocket
    private var framer: LineFramer
    private var nextID: Int64 = 1
    /// Notifications received while waiting for responses, oldest first.
    private var notifications: [ControlNotification] = []
    private var notificationHead = 0
    /// Responses that arrived for other ids (only when callers use ``send(_:)`` directly).
    private var strayResponses: [ControlResponse] = []

    /// Connects, reads the greeting and, when `token` is given, authenticates.
    package init(address text: String, token: String? = nil, timeoutMs: Int = 5000, maxLineLength: Int = 1 << 24)
        throws(HubClientError)
    {
        guard let address = try? HubAddress(parsingClientAddress: text) else { throw .invalidAddress(text) }
        self.address = address
        self.timeoutMs = timeoutMs
        self.framer = LineFramer(maxLineLength: maxLineLength)
        do {
            self.socket = try BlockingSocket.connect(to: address, timeoutMs: timeoutMs)
        } catch {
            throw .connectFailed(address: address.description, reason: error.reason)
        }
        // The socket closes itself when released, also when this initializer fails.
        var greeting: ControlMessage
        (greeting, pendingLines) = try Self.readFirstMessage(socket: socket, framer: &framer, timeoutMs: timeoutMs)
        guard case .notification(let notification) = greeting, let hello = HubHello(notification) else {
            throw .protocolViolation("expected a hub.hello greeting, got \(greeting.json.serialized())")
        }
        self.hello = hello
        if let token {
            _ = try call("hub.authenticate", ["token": .string(token)])
        }
    }

    /// Closes the connection; later calls fail with ``HubClientError/closed``.
    package func close() { socket.close() }

    // MARK: Requests

    /// Sends a request and waits for its response; returns the result or throws the hub's error
    /// as ``HubClientError/server(_:)``. Notifications arriving meanwhile are kept for ``nextEvent(timeoutMs:)``.
    @discardableResult
    package func call(_ method: String, _ params: JSON? = nil, timeoutMs: Int? = nil) throws(HubClientError) -> JSON {
        let response = try request(method, params, timeoutMs: timeoutMs)
        switch response.outcome {
        case .result(let value): return value
        case .encodedResult: return response.result ?? .null
        case .error(let error): throw .server(error)
        }
    }

    /// Like ``call(_:_:timeoutMs:)`` but returns the whole response, errors included.
    package func request(_ method: String, _ params: JSON? = nil, timeoutMs: Int? = nil) throws(HubClientError)
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
    package func notify(_ method: String, _ params: JSON? = nil) throws(HubClientError) {
        try send(ControlRequest(id: nil, method: method, params: params).encodedLine())
    }

    // MARK: Events

    /// The next `event` or `events.missed` notification, waiting up to `timeoutMs`; nil on timeout.
    package func nextEvent(timeoutMs: Int) throws(HubClientError) -> ControlNotification? {
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
    package func send(_ bytes: [UInt8]) throws(HubClientError) {
        guard socket.descriptor >= 0 else { throw .closed }
        do {
            try socket.writeAll(bytes)
        } catch {
            throw .io("send: \(error.reason)")
        }
    }

    /// Reads the next message of any kind, waiting up to `timeoutMs`; nil on timeout.
    package func nextMessage(timeoutMs: Int) throws(HubClientError) -> ControlMessage? {
        try readMessage(until: Self.nowMs() + timeoutMs)
    }

    private var pendingLines: [ArraySlice<UInt8>] = []

    private func readMessage(until deadline: Int) throws(HubClientError) -> ControlMessage? {
        while pendingLines.isEmpty {
            guard socket.descriptor >= 0 else { throw .closed }
            let remaining = deadline - Self.nowMs()
            if remaining <= 0 { return nil }
            guard try Self.waitReadable(socket: socket, timeoutMs: remaining) else { return nil }
            let chunk = try Self.readChunk(socket: socket)
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
    private static func readFirstMessage(socket: BlockingSocket, framer: inout LineFramer, timeoutMs: Int)
        throws(HubClientError)
        -> (ControlMessage, [ArraySlice<UInt8>])
    {
        let deadline = nowMs() + timeoutMs
        while true {
            let remaining = deadline - nowMs()
            guard remaining > 0, try waitReadable(socket: socket, timeoutMs: remaining) else {
                throw .timeout(milliseconds: timeoutMs)
            }
            guard let chunk = try readChunk(socket: socket) else { throw .closed }
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

    /// The next bytes from the hub, or nil at end of stream (or a reset).
    private static func readChunk(socket: BlockingSocket) throws(HubClientError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count: Int
        do {
            count = try socket.receive(into: &buffer)
        } catch {
            throw .io("recv: \(error.reason)")
        }
        return count > 0 ? Array(buffer[0..<count]) : nil
    }

    private static func waitReadable(socket: BlockingSocket, timeoutMs: Int) throws(HubClientError) -> Bool {
        do {
            return try socket.waitReadable(timeoutMs: timeoutMs)
        } catch {
            throw .io("poll: \(error.reason)")
        }
    }

    static func nowMs() -> Int { BlockingSocket.monotonicMs() }
}
