import ControlWire
import DeviceKit
import EventControl
import EventLoop
import JSON
import Logging
import PlatformConfig
import Wire

/// One control client: newline-delimited JSON-RPC 2.0 over a stream (`Protocols/control.md` §2–§4).
///
/// Lines are taken from the framer one request at a time and dispatched through the hub's router in
/// arrival order. Replies go out as lines, one write per loop pass. Backpressure (`Protocols/control.md`
/// §2.7): before each request the session checks its unsent answers (queued on the connection plus those
/// of this pass) against `writeHighWatermarkBytes`; over it, the session stops handling requests and stops
/// reading, leaving what it already read buffered in the framer, and carries on once the connection's
/// write queue drains below the low watermark. A client that leaves its answers unread for
/// `controlWriteStallTimeoutMs` is disconnected, also while the session is closing after a final answer.
///
/// Lifetime: the hub holds the session while it is open. `close` detaches every connection callback and
/// stops reading before the hub lets go, so no callback can reach a closed session; a session closing
/// after its final writes is held by the hub until the connection's close callback.
package final class ControlSession {
    let id: UInt64
    let connection: Connection
    private var framer: LineFramer
    // SAFETY: the hub holds each session it made (controlSessions, closingControlSessions) and so outlives it.
    private unowned(unsafe) let hub: Hub
    private(set) var authenticated: Bool
    private(set) var closing = false
    let remote: String
    var logger: Logger
    /// Event subscription state, owned by the hub's event plumbing.
    var subscription: EventSubscription? { didSet { hub.events.subscribers.set(subscription, for: id) } }
    /// Deferred calls (waits) still open, so they can be cancelled when the session goes away.
    var pendingCalls: [ControlCall] = []
    private(set) var requestsServed: UInt64 = 0
    /// Lines waiting for this pass's single write (one write per destination per pass), end to end: one buffer
    /// to hand the connection, however many answers and events the pass produced.
    private var pending: [UInt8] = []
    /// Bytes in `pending`.
    private var pendingBytes: Int { pending.count }
    /// True while requests are being handled, so answers wait for the write at the end.
    private var receiving = false
    /// This client's place in the control listener's admission budgets (`Admission.swift`).
    var admission: AdmissionSlot?
    /// Requests are held back until the unsent answers drain (backpressure).
    private(set) var heldBack = false
    /// Wrong tokens presented so far.
    private(set) var authFailures = 0
    /// Whether this endpoint greets with `"auth":"token"` (a TCP endpoint with `controlToken`).
    let requiresToken: Bool
    /// Lines handled before authentication (`controlMaxUnauthenticatedLines`).
    private var unauthenticatedLines = 0
    /// The line limit once authenticated (`controlMaxLineBytes`).
    private let fullLineLimit: Int
    /// Fires when unsent answers have made no progress for `controlWriteStallTimeoutMs`.
    private var stallTimer: Timer?
    /// Set when this pass's answers reached `controlAnswerBytesPerPass`: the rest of the buffered requests
    /// wait for the end of the pass, so one client's large answers (a whole screen is 2 MB) cannot hold the
    /// loop for everyone else.
    private var nextPass: EndOfPass?
    private var yieldedPass = false
    private var awaitingBudget = false  // for its turn at `Hub.controlBudget` (all clients' requests per pass)
    private var stallArmed = false
    private var stallMark: (written: UInt64, unsent: Int) = (0, 0)
    /// The most `pending` keeps allocated between passes.
    static let keptPendingCapacity = 64 * 1024

    init(
        id: UInt64, connection: Connection, hub: Hub, requiresToken: Bool, maxLineBytes: Int,
        maxUnauthenticatedLineBytes: Int, logger: Logger
    ) {
        self.id = id
        self.connection = connection
        self.hub = hub
        self.authenticated = !requiresToken
        self.requiresToken = requiresToken
        self.fullLineLimit = maxLineBytes
        // Before authentication only the small limit applies: an unknown peer cannot make the hub
        // buffer or parse a megabyte (`Protocols/control.md` §2.3).
        self.framer = LineFramer(
            maxLineLength: requiresToken ? min(maxLineBytes, maxUnauthenticatedLineBytes) : maxLineBytes)
        self.remote = connection.peerAddress?.description ?? "unix"
        self.logger = logger
        self.logger[metadataKey: "control"] = "\(id)"
    }

    private var limits: Limits { hub.configuration.hub.limits }

    func start(hello: HubHello) {
        connection.highWatermark = limits.writeHighWatermarkBytes
        connection.lowWatermark = limits.writeLowWatermarkBytes
        connection.maxReadBytes = limits.controlReadBytesPerRead
        // The callbacks hold the session unowned: the hub holds it, and `close` detaches them all
        // before the hub lets go.
        connection.onData = { [unowned self] bytes in self.received(bytes) }
        connection.onEnd = { [unowned self] _ in self.close(reason: "peer closed") }
        connection.onWriteError = { [unowned self] error in self.close(reason: "write failed: \(error)") }
        connection.onHighWatermark = { [unowned self] in self.connection.stopReading() }
        connection.onLowWatermark = { [unowned self] in self.writesDrained() }
        send(hello.notification.encodedLine())
        do {
            try connection.startReading()
        } catch {
            close(reason: "cannot read: \(error)")
        }
    }

    private func received(_ bytes: ArraySlice<UInt8>) {
        admission?.noteActivity()
        guard !closing else { return }
        framer.append(bytes)
        // Read and scanned for a newline is work, charged now whether or not a line is complete (control.md §2.7);
        // a request's bytes are not charged again when it is handled. Once the budget is spent, no more reading.
        hub.controlBudget.spend(bytes.count)
        handleBufferedRequests()
        if !closing, !awaitingBudget, !yieldedPass, !hub.controlBudget.mayTake() { awaitBudget(cost: 0) }
    }

    /// Handles buffered requests one at a time while the unsent answers fit the budget.
    private func handleBufferedRequests() {
        guard !receiving, !closing else { return }
        receiving = true
        defer {
            receiving = false
            flush()
        }
        while !closing {
            if isWriteQueueFull {
                // This pass's answers go first: the kernel may take them all at once (`flush`), and only bytes
                // left queued in the connection bring the low-watermark callback that ends a hold-back.
                flush()
                if closing { return }
                if isWriteQueueFull {
                    holdBack()
                    return
                }
            }
            if pendingBytes >= limits.controlAnswerBytesPerPass {
                yieldPass()
                return
            }
            if framer.hasNewline() && !hub.controlBudget.mayTake(cost: framer.bytesToNewline) {
                awaitBudget(cost: framer.bytesToNewline)
                return
            }
            guard let line = framer.nextLine() else { break }
            let answered = pendingBytes
            let work = handle(line: line)
            hub.controlBudget.spend(pendingBytes - answered + work)
        }
        if let overflow = framer.overflow, !closing {
            let limit = authenticated ? "controlMaxLineBytes" : "controlMaxUnauthenticatedLineBytes"
            let error = ControlError.limitExceeded(limit, value: Int64(framer.maxLineLength), reason: "line_too_long")
            hub.controlCounters.linesTooLong += 1
            logger.notice("closing control client \(remote): \(overflow)")
            send(ControlResponse(id: .null, error: error))
            close(reason: "line over the limit", flush: true)
        }
    }

    /// Stops handling requests and reading until the end of this loop pass, then carries on where it stopped.
    private func yieldPass() {
        guard !yieldedPass else { return }
        if nextPass == nil { nextPass = try? EndOfPass(loop: hub.loop) }
        guard let nextPass else { return }  // without the handle, requests go on in this pass
        yieldedPass = true
        hub.controlCounters.passesYielded += 1
        connection.stopReading()
        // Unowned, not weak, here and for the stall timer: the session owns both handles and closes them when it
        // closes, so neither calls back into a session that is gone; and a weak reference would give the session a
        // side table, which makes every count of it (several per request) take the runtime's slow path.
        nextPass.arm { [unowned self] in self.passEnded() }
    }

    private func passEnded() {
        yieldedPass = false
        guard !closing else { return }
        handleBufferedRequests()
        resumeReading()
    }

    /// Stops handling requests and reading until the hub's control budget comes round to this client.
    private func awaitBudget(cost: Int) {
        awaitingBudget = true
        connection.stopReading()
        // Held strongly until the turn, or until `close` cancels the wait (`PassBudget.cancel`).
        hub.controlBudget.wait(self, cost: cost) { [self] in
            awaitingBudget = false
            passEnded()
        }
    }

    private func resumeReading() {
        guard !closing, !yieldedPass, !awaitingBudget, !heldBack, !connection.isAboveHighWatermark else { return }
        try? connection.startReading()
    }

    /// Stops handling requests and reading until the write queue drains below the low watermark.
    private func holdBack() {
        if !heldBack { hub.controlCounters.heldBack += 1 }
        heldBack = true
        connection.stopReading()
    }

    /// The write queue fell below the low watermark: carry on with held-back requests, then events.
    private func writesDrained() {
        guard !closing else { return }
        if heldBack {
            heldBack = false
            handleBufferedRequests()
        }
        guard !closing else { return }
        hub.flushEvents(to: self)
        resumeReading()
    }

    /// Handles one request; returns the work it did beyond the request and the answer (`ControlCall.workBytes`).
    private func handle(line: ArraySlice<UInt8>) -> Int {
        let request: ControlRequest
        do {
            request = try ControlRequest.decode(line: line)
        } catch {
            // A parse error or a malformed request is answered and the connection stays usable.
            send(error.response)
            if !authenticated { countUnauthenticatedLine() }
            return 0
        }
        requestsServed += 1
        let call = ControlCall(
            id: request.id ?? .null, method: request.method, params: request.params, caller: self,
            isNotification: request.isNotification)
        let reply = hub.dispatch(call, from: self)
        if authenticated, admission?.isPending == true { admitAuthenticated() }
        // A notification is carried out and never answered (`answered` drops its answer), but a deferred one is
        // held like the others, so that it is cancelled (its wait forgotten) when this client goes away.
        switch reply {
        case .deferred:
            if !call.isAnswered && !closing { pendingCalls.append(call) }
        default:
            call.reply(reply)
        }
        if !authenticated { countUnauthenticatedLine() }
        return call.workBytes
    }

    /// Counts a line handled before authentication; the one that reaches `controlMaxUnauthenticatedLines` closes
    /// the connection once its answer is out (`Protocols/control.md` §4.3).
    private func countUnauthenticatedLine() {
        unauthenticatedLines += 1
        guard unauthenticatedLines >= limits.controlMaxUnauthenticatedLines, !closing else { return }
        hub.controlCounters.closedUnauthenticated += 1
        close(reason: "\(unauthenticatedLines) lines without authenticating", flush: true)
    }

    func markAuthenticated() {
        authenticated = true
        framer.maxLineLength = fullLineLimit
    }

    /// Counts a wrong token; true when it was the last one allowed (`controlMaxAuthFailures`).
    func noteAuthFailure() -> Bool {
        authFailures += 1
        hub.controlCounters.authFailures += 1
        return authFailures >= limits.controlMaxAuthFailures
    }

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

    /// Writes the answer's line straight into this pass's write (no line of its own allocated and copied in).
    func send(_ response: ControlResponse) { send { response.writeLine(into: &$0) } }

    /// Queues a line; it goes out with the others of this loop pass in one write.
    func send(_ line: [UInt8]) { send { $0.append(contentsOf: line) } }

    private func send(writing write: (inout [UInt8]) -> Void) {
        guard !closing else { return }
        write(&pending)
        if !receiving { hub.scheduleControlFlush(self) }
    }

    /// Queues a line for the `flush` its caller makes next (the events' flush), without scheduling another.
    func queue(_ line: [UInt8]) { if !closing { pending.append(contentsOf: line) } }
    /// Lets `append` add to this pass's write in place, like `queue` (the events' flush, item by item).
    func queue(into append: (inout [UInt8]) -> Void) { if !closing { append(&pending) } }

    /// Writes what this pass queued, as one write; `writeNow` copies what the kernel does not take at once, so
    /// the buffer is free on return. Taken out first: a write failing at once closes the session (empties it).
    func flush() {
        guard !pending.isEmpty, !closing else { return }
        var out: [UInt8] = []
        swap(&out, &pending)
        out.withUnsafeBytes { _ = connection.writeNow($0) }
        // A buffer grown by a large answer is not held for the session's life.
        if !closing, pending.isEmpty, out.capacity <= ControlSession.keptPendingCapacity {
            out.removeAll(keepingCapacity: true)
            swap(&out, &pending)
        }
        armStallTimer()
    }

    /// Unsent answers (queued on the connection or in this pass's write) over the budget.
    var isWriteQueueFull: Bool { writeRoom < 0 }
    /// Bytes this pass's write may still take before the unsent answers pass the budget; negative once past it.
    var writeRoom: Int {
        connection.isAboveHighWatermark ? -1 : connection.highWatermark - connection.queuedWriteBytes - pendingBytes
    }

    /// Bytes written to the connection and not yet taken by the peer's reads, plus this pass's write.
    var unsentBytes: Int { connection.queuedWriteBytes + pendingBytes }

    /// Bytes read from the client and not yet handled.
    var bufferedRequestBytes: Int { framer.bufferedByteCount }

    // MARK: Write stall deadline

    private func armStallTimer() {
        guard !stallArmed, connection.queuedWriteBytes > 0 else { return }
        if stallTimer == nil { stallTimer = try? Timer(loop: hub.loop) }
        guard let stallTimer else { return }
        stallArmed = true
        stallMark = (connection.bytesWritten, connection.unsentBytes)
        stallTimer.start(afterMilliseconds: UInt64(limits.controlWriteStallTimeoutMs)) { [unowned self] in
            self.stallTimerFired()
        }
    }

    private func stallTimerFired() {
        stallArmed = false
        guard connection.isOpen, connection.queuedWriteBytes > 0 else { return }
        // Progress is a completed write or fewer bytes waiting in libuv (the kernel took some).
        let progressed = connection.bytesWritten != stallMark.written || connection.unsentBytes < stallMark.unsent
        if progressed {
            armStallTimer()
            return
        }
        hub.controlCounters.writeStalls += 1
        logger.notice(
            "disconnecting control client \(remote): \(connection.queuedWriteBytes) bytes unread for \(limits.controlWriteStallTimeoutMs) ms"
        )
        if !closing { close(reason: "answers unread for controlWriteStallTimeoutMs") }
        connection.close()
    }

    // MARK: Closing

    /// Closes the session; with `flush`, after what was already queued has been written (within the
    /// write stall deadline).
    func close(reason: String, flush: Bool = false) {
        guard !closing else { return }
        if flush { self.flush() }
        closing = true
        admission?.release()
        logger.debug("control client \(remote) closed: \(reason)")
        // Deferred calls (waits) are cancelled: nobody is left to read their answers.
        let calls = pendingCalls
        pendingCalls.removeAll()
        for call in calls { call.callerClosed() }
        subscription = nil
        pending.removeAll()
        nextPass?.close()
        nextPass = nil
        hub.controlBudget.cancel(self)
        // The hub lets go of this session below: nothing on the connection may call back into it.
        connection.detachCallbacks()
        hub.controlSessionDidClose(self)
        if flush && connection.isOpen {
            // Held by the hub until the connection is closed; the stall timer bounds the wait.
            hub.closingControlSessions[id] = self
            armStallTimer()
            connection.closeAfterWrites { [hub = self.hub, id = self.id, stallTimer = self.stallTimer] in
                stallTimer?.close()
                hub.closingControlSessions[id] = nil
            }
        } else {
            stallTimer?.close()
            connection.close()
        }
    }
}

extension ControlSession: ControlCaller {
    package var callerDescription: String { remote }

    /// A call of this session was answered: the answer goes out with this pass's write, and a deferred call is
    /// no longer pending.
    package func answered(_ call: ControlCall, with response: ControlResponse) {
        if let index = pendingCalls.firstIndex(where: { $0 === call }) { pendingCalls.remove(at: index) }
        guard !call.isNotification else { return }  // JSON-RPC: notifications are never answered
        send(response)
    }
}

extension ControlCall {
    /// The control session that sent this call, if it is still there.
    var session: ControlSession? { caller as? ControlSession }
}
