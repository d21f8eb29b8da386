import Glibc
import GuestWire
import Wire

/// A blocking client of the hub guest protocol (`Protocols/guest.md`): one connection, one partition.
///
/// Calls that expect an answer send a request id and read until that answer arrives; whatever
/// else arrives meanwhile (interrupts, deliveries, credit) is queued for `receive`/`nextEvent`,
/// so answers and unsolicited frames may interleave freely. Not thread-safe: use it from one thread.
public final class GuestClient {
    /// What the hub granted at attach.
    public let welcome: GuestWelcome
    /// The negotiated protocol version.
    public let version: UInt16
    /// Features the hub offered in `CHALLENGE`.
    public let hubFeatures: [String]
    /// How long a request waits for its answer, in seconds.
    public var answerTimeout: Double = 10
    /// With the `send-sequence` feature (§7.10–§7.11): the last sequence the hub accepted from this partition,
    /// by link id, as `SEND_SEQUENCES` reported it after `WELCOME` (and later updates; see
    /// GuestClient+SenderSequence.swift). Empty without the feature.
    public internal(set) var sendSequences: [UInt32: UInt64] = [:]

    private let socket: GuestSocket
    private var decoder: GuestFrameDecoder
    private var readBuffer: [UInt8]
    private var queued: [GuestFrame] = []
    private var queueHead = 0
    private var nextRequestId: UInt32 = 1
    /// Reused by `sendMessages`.
    var sendBuffer = ByteWriter(capacity: 0)

    /// Whether frames already read wait for `receive`/`nextEvent` (which then return without reading).
    public var hasQueuedFrames: Bool { queueHead < queued.count }

    /// The socket descriptor, for callers that poll several clients.
    public var descriptor: Int32 { socket.descriptor }

    /// Connects to `endpoint` (`unix:/path` or `tcp:host:port`) and attaches as `partition`.
    public static func connect(
        endpoint: String, partition: String, secret: [UInt8], resumeToken: [UInt8]? = nil, features: [String] = [],
        timeout: Double = 5
    ) throws(GuestClientError) -> GuestClient {
        let socket = try GuestSocket.connect(endpoint: endpoint)
        return try GuestClient(
            socket: socket, partition: partition, secret: secret, resumeToken: resumeToken, features: features,
            timeout: timeout)
    }

    /// As `connect(endpoint:...)` with the secret given as text (its UTF-8 bytes are the key).
    public static func connect(
        endpoint: String, partition: String, secret: String, resumeToken: [UInt8]? = nil, features: [String] = [],
        timeout: Double = 5
    ) throws(GuestClientError) -> GuestClient {
        try connect(
            endpoint: endpoint, partition: partition, secret: Array(secret.utf8), resumeToken: resumeToken,
            features: features, timeout: timeout)
    }

    /// Attaches over an already connected stream socket (for socketpair tests and inherited fds).
    /// The client takes ownership of `descriptor`.
    public static func attach(
        descriptor: Int32, isUnix: Bool = true, partition: String, secret: [UInt8], resumeToken: [UInt8]? = nil,
        features: [String] = [], timeout: Double = 5
    ) throws(GuestClientError) -> GuestClient {
        try GuestClient(
            socket: GuestSocket(descriptor: descriptor, isUnix: isUnix), partition: partition, secret: secret,
            resumeToken: resumeToken, features: features, timeout: timeout)
    }

    private init(
        socket: GuestSocket, partition: String, secret: [UInt8], resumeToken: [UInt8]?, features: [String],
        timeout: Double
    ) throws(GuestClientError) {
        self.socket = socket
        self.decoder = GuestFrameDecoder()
        self.readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
        // §5: HELLO → CHALLENGE → PROOF → WELCOME, each answer matched by request id.
        let hello = GuestFrame(
            .hello(GuestHello(partition: partition, features: features, resumeToken: resumeToken)), requestId: 1)
        var early: [GuestFrame] = []
        try Self.sendHandshake(
            hello.encode(), socket: socket, decoder: &decoder, buffer: &readBuffer, timeout: timeout, leftovers: &early)
        let challengeFrame = try Self.handshakeAnswer(
            socket: socket, decoder: &decoder, buffer: &readBuffer, requestId: 1, timeout: timeout, leftovers: &early)
        guard case .challenge(let challenge) = challengeFrame.message else {
            throw .unexpected(challengeFrame.type)
        }
        // The decoder only accepts canonical encodings, so re-encoding gives the bytes the hub sent.
        let transcript = GuestProtocol.transcript(
            helloBody: hello.encodeBody(), challengeBody: challengeFrame.encodeBody())
        let proof = GuestFrame(.proof(mac: GuestAuth.proof(secret: secret, transcript: transcript)), requestId: 2)
        try Self.sendHandshake(
            proof.encode(), socket: socket, decoder: &decoder, buffer: &readBuffer, timeout: timeout, leftovers: &early)
        let welcomeFrame = try Self.handshakeAnswer(
            socket: socket, decoder: &decoder, buffer: &readBuffer, requestId: 2, timeout: timeout, leftovers: &early)
        guard case .welcome(let welcome) = welcomeFrame.message else { throw .unexpected(welcomeFrame.type) }
        self.welcome = welcome
        self.version = challenge.version
        self.hubFeatures = challenge.features
        self.nextRequestId = 3
        // What the hub sent right behind WELCOME (latched interrupts, queued messages) arrived in the
        // same read: keep it for `receive`.
        self.queued = []
        for frame in early { record(frame) }
        if features.contains(GuestProtocol.sendSequenceFeature),
            challenge.features.contains(GuestProtocol.sendSequenceFeature)
        {
            try awaitSendSequences(timeout: timeout)
        }
    }

    /// Before WELCOME the hub sends nothing unsolicited, so the next frame is the answer or an error.
    /// Frames decoded from the same read after the answer (the deliveries that follow WELCOME) go to `leftovers`.
    private static func handshakeAnswer(
        socket: GuestSocket, decoder: inout GuestFrameDecoder, buffer: inout [UInt8], requestId: UInt32,
        timeout: Double, leftovers: inout [GuestFrame]
    ) throws(GuestClientError) -> GuestFrame {
        // A frame that came in the same read as the previous answer is next in line: an ERROR sent right behind
        // CHALLENGE (the hub's handshake deadline) must not be skipped for a read that only finds the close.
        if !leftovers.isEmpty {
            let frame = leftovers.removeFirst()
            if case .error(let code, let reason) = frame.message { throw .rejected(code: code, reason: reason) }
            guard frame.requestId == requestId else { throw .unexpected(frame.type) }
            return frame
        }
        while true {
            guard let count = try socket.read(into: &buffer, timeout: timeout) else { throw .timeout }
            let results: [Result<GuestFrame, GuestDecodeError>]
            do {
                results = try decoder.feed(buffer[..<count])
            } catch {
                throw .malformed("\(error)")
            }
            guard let first = results.first else { continue }
            let frame: GuestFrame
            switch first {
            case .success(let decoded): frame = decoded
            case .failure(let error): throw .malformed(error.description)
            }
            if case .error(let code, let reason) = frame.message { throw .rejected(code: code, reason: reason) }
            guard frame.requestId == requestId else { throw .unexpected(frame.type) }
            for later in results.dropFirst() {
                if case .success(let decoded) = later { leftovers.append(decoded) }
            }
            return frame
        }
    }

    /// Sends a handshake frame. A hub that refuses a connection sends ERROR and closes (`Protocols/guest.md` §5:
    /// over `guestMaxSessions`, evicted from the pending budget, past the handshake deadline), possibly before
    /// these bytes went out; the send then fails (EPIPE) while the ERROR still waits to be read. Report it
    /// instead of a bare close.
    private static func sendHandshake(
        _ bytes: [UInt8], socket: GuestSocket, decoder: inout GuestFrameDecoder, buffer: inout [UInt8],
        timeout: Double, leftovers: inout [GuestFrame]
    ) throws(GuestClientError) {
        do throws(GuestClientError) {
            try socket.writeAll(bytes)
        } catch {
            guard error == .closed else { throw error }
            // The hub's ERROR if one is there; anything else (end of stream, another frame) is a plain close.
            do throws(GuestClientError) {
                _ = try handshakeAnswer(
                    socket: socket, decoder: &decoder, buffer: &buffer, requestId: 0, timeout: timeout,
                    leftovers: &leftovers)
            } catch {
                if case .rejected = error { throw error }
            }
            throw .closed
        }
    }

    deinit { socket.close() }

    // MARK: Requests

    /// Raises `line` on `partition` (§6.1) and returns the hub's verdict.
    public func raise(partition: String, line: UInt16) throws(GuestClientError) -> RaiseOutcome {
        let answer = try request(.raise(partition: partition, line: line))
        guard case .raiseResult(let outcome) = answer.message else { throw .unexpected(answer.type) }
        return outcome
    }

    /// Raises without waiting for the verdict (request id 0).
    public func raiseNoWait(partition: String, line: UInt16) throws(GuestClientError) {
        try post(.raise(partition: partition, line: line))
    }

    /// Sends `payload` on `link` (§7.1); the outcome says whether the hub queued it.
    public func send(
        link: UInt32, payload: some Collection<UInt8>, correlation: UInt64 = 0
    ) throws(GuestClientError) -> SendOutcome {
        let answer = try request(.msgSend(link: link, correlation: correlation, payload: ArraySlice(payload)))
        guard case .msgSent(_, let messageId, let status) = answer.message else { throw .unexpected(answer.type) }
        return SendOutcome(status: status, messageId: messageId)
    }

    /// Acknowledges every message on `link` up to and including `upTo` (§7.4). No answer is awaited.
    public func ack(link: UInt32, upTo: UInt64) throws(GuestClientError) {
        try post(.msgAck(link: link, upTo: upTo))
    }

    /// Ends service of `line` (§6.4). No answer is awaited.
    public func eoi(line: UInt16) throws(GuestClientError) {
        try post(.eoi(line: line))
    }

    /// Ends service of `line` and raises `raising` on `partition`, in one write (§6.4, §6.2): a handler that
    /// answers its interrupt with one to another partition spends one system call, not two, and the hub reads both
    /// in one pass. The hub carries them out in order, the `EOI` first. No answer is awaited.
    public func eoiAndRaise(line: UInt16, partition: String, raising: UInt16) throws(GuestClientError) {
        try post(.eoi(line: line), .raise(partition: partition, line: raising))
    }

    public func mask(line: UInt16) throws(GuestClientError) { try expectOK(.mask(line: line)) }
    public func unmask(line: UInt16) throws(GuestClientError) { try expectOK(.unmask(line: line)) }
    public func setPriority(line: UInt16, priority: UInt8) throws(GuestClientError) {
        try expectOK(.setPriority(line: line, priority: priority))
    }

    /// Arms the partition's virtual timer on `line` (§6.7); `periodMicros` 0 is one-shot.
    public func setTimer(line: UInt16, firstDelayMicros: UInt64, periodMicros: UInt64 = 0) throws(GuestClientError) {
        try expectOK(.timerSet(line: line, firstDelayMicros: firstDelayMicros, periodMicros: periodMicros))
    }

    public func cancelTimer(line: UInt16) throws(GuestClientError) { try expectOK(.timerCancel(line: line)) }

    /// A heartbeat round trip (§9.1); returns when the hub's `HEARTBEAT_ACK` arrives.
    public func heartbeat(stamp: UInt64 = 0) throws(GuestClientError) {
        let answer = try request(.heartbeat(stamp: stamp))
        guard case .heartbeatAck(let echoed) = answer.message, echoed == stamp else { throw .unexpected(answer.type) }
    }

    /// Reports one entry for the partition's persistent error log (`ERROR_REPORT`, §9.5; attach with the
    /// `error-log` feature, `GuestProtocol.errorLogFeature`). Returns once the hub wrote it; a session without
    /// the feature gets `.rejected(unknownFrameType)`, one over its rate `.rejected(rateLimited)`.
    public func reportError(severity: GuestErrorSeverity, code: String, text: String) throws(GuestClientError) {
        let answer = try request(.errorReport(severity: severity, code: code, text: text))
        guard case .ok = answer.message else { throw .unexpected(answer.type) }
    }

    /// Reads `length` bytes of a region through the protocol (§8.1). A refusal throws `.rejected`.
    public func readRegion(_ region: UInt32, offset: UInt64, length: UInt32) throws(GuestClientError) -> [UInt8] {
        let answer = try request(.regionRead(region: region, offset: offset, length: length))
        switch answer.message {
        case .regionData(_, _, let bytes): return Array(bytes)
        case .regionResult(_, let status): throw .rejected(code: Self.code(for: status), reason: "\(status)")
        default: throw .unexpected(answer.type)
        }
    }

    /// Writes bytes into a region through the protocol (§8.3) and returns the hub's status.
    public func writeRegion(
        _ region: UInt32, offset: UInt64, bytes: some Collection<UInt8>
    ) throws(GuestClientError) -> GuestRegionStatus {
        let answer = try request(.regionWrite(region: region, offset: offset, bytes: ArraySlice(bytes)))
        guard case .regionResult(_, let status) = answer.message else { throw .unexpected(answer.type) }
        return status
    }

    /// Opens device channel `channel` on `device` (§10.1); returns the largest data unit accepted.
    public func openChannel(
        _ channel: UInt16, device: String, options: [UInt8] = []
    ) throws(GuestClientError) -> UInt32 {
        let answer = try request(.channelOpen(device: device, options: options[...]), channel: channel)
        guard case .channelOpened(let maxData, _) = answer.message else { throw .unexpected(answer.type) }
        return maxData
    }

    public func sendChannelData(_ channel: UInt16, _ data: some Collection<UInt8>) throws(GuestClientError) {
        try post(.channelData(ArraySlice(data)), channel: channel)
    }

    /// Says goodbye (§9.3) and closes the connection.
    public func detach(reason: String = "") throws(GuestClientError) {
        defer { close() }
        try post(.detach(reason: reason))
    }

    /// Closes the connection (and any region descriptors not yet handed out).
    public func close() { socket.close() }

    /// Sends any frame as is; for tests and for frames this API does not wrap.
    public func sendFrame(_ frame: GuestFrame) throws(GuestClientError) {
        try socket.writeAll(frame.encode())
    }

    /// Sends one `MSG_SEND` per payload on `link`, all in one write and without waiting for answers (request
    /// id 0: only a refusal comes back, as `MSG_SENT`). The sender must hold that much credit (§7.5).
    /// (Concrete payload type: a generic version, unspecialised across the module boundary, spent most of its
    /// time looking up generic metadata.)
    public func sendMessages(link: UInt32, payloads: [ArraySlice<UInt8>], correlation: UInt64 = 0)
        throws(GuestClientError)
    {
        sendBuffer.bytes.removeAll(keepingCapacity: true)
        // By index, not by element: the loop then borrows each slice instead of retaining and releasing it.
        for index in payloads.indices {
            GuestFrame.encodeMessageSend(
                into: &sendBuffer, link: link, correlation: correlation, payload: payloads[index])
        }
        try socket.writeAll(sendBuffer.bytes)
        if sendBuffer.bytes.capacity > 1 << 20 { sendBuffer = ByteWriter(capacity: 0) }
    }

    /// Waits up to `timeout` seconds (nil = forever) for input, then hands every message delivery that has
    /// arrived to `handler`, in order, read in place (no frame or event is built; the view's slices are valid
    /// during the call only). Everything else that arrived (interrupts, credit, answers) waits for
    /// `receive`/`nextEvent` as usual, so deliveries may overtake frames that came between them. Deliveries
    /// already queued by other calls come first, without waiting. Returns how many were handled; 0 on timeout.
    public func receiveMessages(timeout: Double?, _ handler: (GuestDelivery) -> Void) throws(GuestClientError)
        -> Int
    {
        var handled = 0
        if queueHead < queued.count {
            var kept: [GuestFrame] = []
            for frame in queued[queueHead...] {
                guard case .msgDeliver(let delivery) = frame.message else {
                    kept.append(frame)
                    continue
                }
                handler(delivery)
                handled += 1
            }
            queued = kept
            queueHead = 0
            if handled > 0 { return handled }
        }
        guard let count = try socket.read(into: &readBuffer, timeout: timeout) else { return 0 }
        let bodies: [ArraySlice<UInt8>]
        do {
            bodies = try decoder.feedBodies(readBuffer[..<count])
        } catch {
            close()
            throw .malformed("\(error)")
        }
        for index in bodies.indices {
            if let delivery = GuestFrame.messageDelivery(in: bodies[index], limits: decoder.limits) {
                handler(delivery)
                handled += 1
            } else {
                try queue(GuestFrame.decode(body: bodies[index], limits: decoder.limits))
            }
        }
        return handled
    }

    func appendQueued(_ frame: GuestFrame) { queued.append(frame) }

    /// Puts frames a helper read past back in front of the queue, in order, for `receive`/`nextEvent`.
    func requeueFront(_ frames: [GuestFrame]) {
        guard !frames.isEmpty else { return }
        queued.replaceSubrange(0..<queueHead, with: frames)
        queueHead = 0
    }

    /// Removes and returns the first frame received but not yet handed out that `matches`, leaving the others in
    /// order for `receive` (an answer found among unsolicited frames).
    func takeQueued(where matches: (GuestFrame) -> Bool) -> GuestFrame? {
        guard let index = queued[queueHead...].firstIndex(where: matches) else { return nil }
        return queued.remove(at: index)
    }

    func sendFrameBytes(_ bytes: [UInt8]) throws(GuestClientError) { try socket.writeAll(bytes) }

    /// Sends several frames in one write (pipelined senders: benchmarks, bulk transfers).
    public func sendFrames(_ frames: [GuestFrame]) throws(GuestClientError) {
        var bytes: [UInt8] = []
        for frame in frames { bytes += frame.encode() }
        try socket.writeAll(bytes)
    }

    /// Sends `message` with a fresh request id and returns the answer frame; an `ERROR` answer throws.
    public func request(_ message: GuestMessage, channel: UInt16 = 0) throws(GuestClientError) -> GuestFrame {
        let requestId = nextRequestId
        nextRequestId = nextRequestId == UInt32.max ? 1 : nextRequestId + 1
        try socket.writeAll(GuestFrame(message, channel: channel, requestId: requestId).encode())
        let deadline = Self.now() + answerTimeout
        while true {
            if let index = queued[queueHead...].firstIndex(where: { $0.requestId == requestId && $0.type != .heartbeat }
            ) {
                let answer = queued.remove(at: index)
                if case .error(let code, let reason) = answer.message { throw .rejected(code: code, reason: reason) }
                return answer
            }
            let remaining = deadline - Self.now()
            guard remaining > 0 else { throw .timeout }
            guard try fill(timeout: remaining) else { throw .timeout }
        }
    }

    // MARK: Receiving

    /// The next frame the hub sent that answers no request, waiting up to `timeout` seconds
    /// (nil = forever). Returns nil on timeout. Hub heartbeats are answered automatically.
    public func receive(timeout: Double?) throws(GuestClientError) -> GuestFrame? {
        let deadline = timeout.map { Self.now() + $0 }
        // A timeout of 0 still looks at the socket once, without waiting.
        var looked = false
        while true {
            if queueHead < queued.count {
                let frame = queued[queueHead]
                queueHead += 1
                if queueHead > 64 && queueHead * 2 > queued.count {
                    queued.removeFirst(queueHead)
                    queueHead = 0
                }
                return frame
            }
            let remaining = deadline.map { max(0, $0 - Self.now()) }
            if let remaining, remaining <= 0, looked { return nil }
            looked = true
            guard try fill(timeout: remaining) else { return nil }
        }
    }

    /// `receive` in typed form. A `REGION_FD` event carries the descriptor that came with it.
    public func nextEvent(timeout: Double?) throws(GuestClientError) -> GuestEvent? {
        guard let frame = try receive(timeout: timeout) else { return nil }
        switch frame.message {
        case .irq(let line, let priority, let coalesced):
            return .irq(line: line, priority: priority, coalesced: coalesced)
        case .msgDeliver(let delivery): return .message(delivery)
        case .msgDeliverAs(let delivery, let identity): return .identifiedMessage(delivery, identity: identity)
        case .credit(let link, let credit): return .credit(link: link, credit: credit)
        case .suspend(let reason): return .suspend(reason: reason)
        case .resume: return .resume
        case .regionFD(let region, let access, let size):
            let fd = socket.receivedDescriptors.isEmpty ? nil : socket.receivedDescriptors.removeFirst()
            return .regionFD(region: region, access: access, size: size, descriptor: fd)
        case .detach(let reason): return .detach(reason: reason)
        case .linkOpened(let opened): return .linkOpened(opened)
        case .linkClosed(let link, let state, let held): return .linkClosed(link: link, state: state, held: held)
        case .channelData(let data): return .channelData(channel: frame.channel, data: Array(data))
        case .channelClose(let code, let reason):
            return .channelClose(channel: frame.channel, code: code, reason: reason)
        case .error(let code, let reason): return .error(code: code, reason: reason, requestId: frame.requestId)
        case .policyChanged(let generation, let profile, let summary):
            return .policyChanged(generation: generation, profile: profile, summary: summary)
        case .wake(let source, let line, let from):
            return .wake(source: source, line: line == 0xFFFF ? nil : line, from: from)
        default: return .other(frame)
        }
    }

    // MARK: Internals

    /// Sends `messages` (no answer awaited) in one write, in order.
    private func post(_ messages: GuestMessage..., channel: UInt16 = 0) throws(GuestClientError) {
        let frames = messages.map { GuestFrame($0, channel: channel, requestId: 0).encode() }
        // One message (the usual case, a channel's data among them) is written as encoded, not copied again.
        try socket.writeAll(frames.count == 1 ? frames[0] : Array(frames.joined()))
    }

    private func expectOK(_ message: GuestMessage) throws(GuestClientError) {
        let answer = try request(message)
        guard case .ok = answer.message else { throw .unexpected(answer.type) }
    }

    /// Reads once (waiting up to `timeout`) and queues every frame; false on timeout.
    func fill(timeout: Double?) throws(GuestClientError) -> Bool {
        guard let count = try socket.read(into: &readBuffer, timeout: timeout) else { return false }
        let results: [Result<GuestFrame, GuestDecodeError>]
        do {
            results = try decoder.feed(readBuffer[..<count])
        } catch {
            close()
            throw .malformed("\(error)")
        }
        for result in results { try queue(result) }
        return true
    }

    /// Queues a decoded frame for `receive`, answering hub heartbeats on the way.
    private func queue(_ result: Result<GuestFrame, GuestDecodeError>) throws(GuestClientError) {
        switch result {
        case .success(let frame):
            if case .heartbeat(let stamp) = frame.message {
                try socket.writeAll(GuestFrame(.heartbeatAck(stamp: stamp), requestId: frame.requestId).encode())
            }
            record(frame)
        case .failure(let error):
            // The hub sent something this version cannot read; the stream is still in sync.
            throw .malformed(error.description)
        }
    }

    private static func code(for status: GuestRegionStatus) -> GuestErrorCode {
        switch status {
        case .ok: return .internalError
        case .outOfGrant: return .outOfGrant
        case .outOfBounds: return .outOfBounds
        case .noSuchRegion: return .noSuchRegion
        }
    }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
