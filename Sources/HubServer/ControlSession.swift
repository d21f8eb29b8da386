import ControlWire
import EventLoop
import JSON
import Logging
import Wire

/// One control client: newline-delimited JSON-RPC 2.0 over a stream (`Protocols/control.md` §2–§4).
///
/// Reads are framed into lines and dispatched through the hub's router in arrival order. Replies go
/// out as lines. When the client stops reading and the write queue passes the high watermark, the
/// session stops reading requests (so a client cannot grow the hub's memory with unread answers) and
/// event delivery waits in the bounded outbox, which counts what it has to drop.
public final class ControlSession {
    let id: UInt64
    let connection: Connection
    private var framer: LineFramer
    private unowned let hub: Hub
    private(set) var authenticated: Bool
    private(set) var closing = false
    let remote: String
    var logger: Logger
    /// Event subscription state, owned by the hub's event plumbing.
    var subscription: EventSubscription?
    /// Deferred calls (waits) still open, so they can be cancelled when the session goes away.
    var pendingCalls: [ControlCall] = []
    private(set) var requestsServed: UInt64 = 0
    /// Lines waiting for this pass's single write (DESIGN.md §6: one write per destination per pass).
    private var pending: [[UInt8]] = []
    private var receiving = false
    /// This client's place in the control listener's admission budgets (`Admission.swift`).
    var admission: AdmissionSlot?

    init(id: UInt64, connection: Connection, hub: Hub, requiresToken: Bool, maxLineBytes: Int, logger: Logger) {
        self.id = id
        self.connection = connection
        self.hub = hub
        self.authenticated = !requiresToken
        self.framer = LineFramer(maxLineLength: maxLineBytes)
        self.remote = connection.peerAddress?.description ?? "unix"
        self.logger = logger
        self.logger[metadataKey: "control"] = "\(id)"
    }

    func start(hello: HubHello) {
        connection.highWatermark = hub.configuration.hub.limits.writeHighWatermarkBytes
        connection.lowWatermark = hub.configuration.hub.limits.writeLowWatermarkBytes
        connection.onData = { [unowned self] bytes in self.received(bytes) }
        connection.onEnd = { [unowned self] _ in self.close(reason: "peer closed") }
        connection.onWriteError = { [unowned self] error in self.close(reason: "write failed: \(error)") }
        connection.onHighWatermark = { [unowned self] in self.connection.stopReading() }
        connection.onLowWatermark = { [unowned self] in
            guard !self.closing else { return }
            try? self.connection.startReading()
            self.hub.flushEvents(to: self)
        }
        send(hello.notification.encodedLine())
        do {
            try connection.startReading()
        } catch {
            close(reason: "cannot read: \(error)")
        }
    }

    private func received(_ bytes: ArraySlice<UInt8>) {
        admission?.noteActivity()
        let lines = framer.feed(bytes)
        receiving = true
        defer {
            receiving = false
            flush()
        }
        for line in lines {
            guard !closing else { return }
            handle(line: line)
        }
        if let overflow = framer.overflow, !closing {
            let error = ControlError.limitExceeded(
                "controlMaxLineBytes", value: Int64(framer.maxLineLength), reason: "line_too_long")
            logger.notice("closing control client \(remote): \(overflow)")
            send(ControlResponse(id: .null, error: error))
            close(reason: "line over the limit", flush: true)
        }
    }

    private func handle(line: ArraySlice<UInt8>) {
        let request: ControlRequest
        do {
            request = try ControlRequest.decode(line: line)
        } catch {
            // A parse error or a malformed request is answered and the connection stays usable.
            send(error.response)
            return
        }
        requestsServed += 1
        let call = ControlCall(id: request.id ?? .null, method: request.method, params: request.params, session: self)
        let reply = hub.dispatch(call, from: self)
        if authenticated, admission?.isPending == true { admitAuthenticated() }
        if request.isNotification { return }  // JSON-RPC: notifications are never answered
        switch reply {
        case .deferred:
            if !call.isAnswered { pendingCalls.append(call) }
        default:
            call.reply(reply)
        }
    }

    func markAuthenticated() { authenticated = true }

    /// The handshake is over (authenticated, or a first request when no token is needed): the client moves to
    /// the authenticated budget, or is told it is full and closed.
    private func admitAuthenticated() {
        guard let admission, !admission.authenticate() else { return }
        send(ControlResponse(id: .null, error: hub.controlGate.controlError(.tooManyClients)))
        close(reason: "controlMaxClients reached", flush: true)
    }

    /// The handshake or idle deadline passed (`Protocols/control.md` §2.6).
    func admissionDeadline(_ refusal: AdmissionRefusal) {
        logger.info("closing control client \(remote): \(refusal.rawValue)")
        send(ControlResponse(id: .null, error: hub.controlGate.controlError(refusal)))
        close(reason: refusal.rawValue, flush: true)
    }

    func send(_ response: ControlResponse) {
        send(response.encodedLine())
    }

    /// Queues a line; it goes out with the others of this loop pass in one write.
    func send(_ line: [UInt8]) {
        guard !closing else { return }
        pending.append(line)
        if !receiving { hub.scheduleControlFlush(self) }
    }

    /// Writes what this pass queued, as one vectored write.
    func flush() {
        guard !pending.isEmpty, !closing else { return }
        connection.write(buffers: pending)
        pending.removeAll(keepingCapacity: true)
    }

    /// Answers a deferred call (a wait) by its request id.
    func answerDeferred(id: JSON, with reply: ControlReply) {
        guard let index = pendingCalls.firstIndex(where: { $0.id == id }) else { return }
        let call = pendingCalls.remove(at: index)
        call.reply(reply)
    }

    var isWriteQueueFull: Bool { connection.isAboveHighWatermark }

    /// Closes the session; with `flush`, after what was already queued has been written.
    func close(reason: String, flush: Bool = false) {
        guard !closing else { return }
        if flush { self.flush() }
        closing = true
        admission?.release()
        logger.debug("control client \(remote) closed: \(reason)")
        pendingCalls.removeAll()
        subscription = nil
        hub.controlSessionDidClose(self)
        if flush { connection.closeAfterWrites() } else { connection.close() }
    }
}
