import Crypto
import DeviceKit
import EventLoop
import GuestWire
import HubSystem
import Hypervisor
import Logging
import Wire

/// One guest connection: the handshake of `Protocols/guest.md` §5, then the session channel
/// (§6–§9) mapped onto the platform model.
///
/// Frames to the guest are batched and written once per loop pass (`flush`). A guest that stops
/// reading is not read from either once its write queue passes the high watermark: it cannot make
/// the hub queue answers without bound, and its message deliveries are bounded by its receive window.
/// What it sent before waits in the decoder once its unsent answers pass the watermark (`handleReadFrames`).
final class GuestSession {
    enum State {
        case awaitingHello
        case awaitingProof(partition: String, resumeToken: [UInt8]?, transcript: [UInt8], features: [String])
        case attached(SessionID, partition: String)
        case closed
    }

    let connectionID: UInt64
    let connection: Connection
    unowned let hub: Hub
    /// Also holds the frames read and not yet handled (`handleReadFrames`).
    private var decoder: GuestFrameDecoder
    private var handlingFrames = false
    /// Armed while the frames read wait for the end of the pass (`yieldPass`).
    private var passEnd: EndOfPass?
    private(set) var state: State = .awaitingHello
    /// Frames queued this pass, prefixed and back to back: one buffer, one write per flush.
    private var output = ByteWriter(capacity: 0)
    private var livenessTimer: Timer?
    /// Judges liveness at the end of the pass the liveness timer found the session silent in (`judgeLiveness`).
    private var livenessJudgment: EndOfPass?
    /// Retries descriptor frames the socket had no room for (`sendPendingDescriptors`).
    private var descriptorRetryTimer: Timer?
    private var lastTrafficNanos = MonotonicClock.nanoseconds()
    var linkIDs: [String: UInt32] = [:]
    var linkNames: [UInt32: String] = [:]
    /// The ids in `linkNames`, for the per-message paths (no hashing for configured links).
    private var knownLinks: KnownLinks
    /// The guest asked for the `runtime-links` feature (§7.6): it may open and close links and is told
    /// about links its peers open.
    private(set) var runtimeLinks = false
    /// The guest asked for the `send-sequence` feature (§7.10): it may send `MSG_SEND_SEQ` and is told the last
    /// accepted sequence per link after `WELCOME`.
    private(set) var sendSequence = false
    /// The guest asked for the `mark-good` feature (§9.4): its image on probation passes only once it sends `MARK_GOOD`.
    private(set) var marksGood = false
    /// The guest asked for `identity` (§7.12): it may send `MSG_SEND_AS` and receives `MSG_DELIVER_AS`.
    private(set) var identity = false
    /// The guest asked for `rate-limit` (§7.12): a send over budget is answered `rate_limited`, not `queue_full`.
    private(set) var rateLimitStatus = false
    /// The guest asked for the `power` feature (`Protocols/power.md`): power states, wake locks, `WAKE`.
    private(set) var powerFrames = false
    /// The guest asked for the `error-log` feature (§9.5): it may send `ERROR_REPORT`.
    private(set) var reportsErrors = false
    private var regionNames: [UInt32: String] = [:]
    var actions: [Action] = []
    /// Open device channels by channel number (`Protocols/guest.md` §10).
    private var channels: [UInt16: GuestChannel] = [:]
    /// The device of each open channel, so a withdrawn grant closes exactly its channels (`Protocols/policy.md` §3).
    var channelDevices: [UInt16: String] = [:]
    /// The guest asked for `policy-profiles` (§9.6–§9.7).
    var policyProfiles = false
    /// Frames waiting to go out with a descriptor (`REGION_FD` §8.5, device channel frames), oldest first.
    private var pendingDescriptors: [PendingDescriptorFrame] = []
    var logger: Logger
    let remote: String
    private(set) var framesReceived: UInt64 = 0
    /// The hub's model, held directly: the per-message paths would otherwise go through the unowned `hub`.
    private let platform: Platform
    /// The write queue passed the high watermark: the guest is not reading, so its input waits too.
    private var writeQueueFull = false
    /// A fair-share partition's session: its input is taken one slice per loop pass.
    private var readsInSlices = false
    /// This pass's slice was taken; reading resumes at the next pass.
    private var sliceTaken = false
    /// In the hub's list of sessions to flush at the end of the pass (a flag, not a set: no hashing per frame).
    var flushPending = false
    private(set) var errorsSent: UInt64 = 0
    private(set) var attachedAtUnixNs: UInt64 = 0
    /// This connection's place in the guest listener's admission budgets (`Admission.swift`): pending until
    /// WELCOME, with its handshake deadline.
    var admission: AdmissionSlot?

    init(connectionID: UInt64, connection: Connection, hub: Hub, logger: Logger) {
        self.connectionID = connectionID
        self.connection = connection
        self.hub = hub
        self.platform = hub.platform
        self.logger = logger
        self.remote = connection.peerAddress?.description ?? "unix"
        var limits = GuestLimits.default
        // Until WELCOME only the small handshake frames are accepted (`Protocols/guest.md` §3.1), so peers that
        // never authenticate cannot make the hub buffer large frames.
        limits.maxFrameLength = min(
            hub.configuration.hub.limits.guestPreAuthFrameBytes, hub.configuration.hub.limits.guestMaxFrameBytes)
        decoder = GuestFrameDecoder(limits: limits)
        knownLinks = KnownLinks(configuredLinks: hub.configuration.links.count)
    }

    var sessionID: SessionID? {
        if case .attached(let id, _) = state { return id }
        return nil
    }

    var partition: String? {
        if case .attached(_, let name) = state { return name }
        return nil
    }

    func start() {
        let limits = hub.configuration.hub.limits
        connection.highWatermark = limits.writeHighWatermarkBytes
        connection.lowWatermark = limits.writeLowWatermarkBytes
        connection.onData = { [unowned self] bytes in self.received(bytes) }
        connection.onEnd = { [unowned self] _ in self.connectionLost("peer closed") }
        connection.onWriteError = { [unowned self] error in self.writeFailed(error) }
        connection.onHighWatermark = { [unowned self] in
            self.writeQueueFull = true
            self.updateReading()
        }
        connection.onLowWatermark = { [unowned self] in
            self.writeQueueFull = false
            self.resumeReadFrames()
        }
        // The handshake deadline (hub.handshakeTimeoutMs) is the admission slot's, counted per listener.
        admission?.onDeadline = { [unowned self] refusal in
            if refusal == .evicted {
                self.refuse(.rateLimited, self.hub.guestGate.refusalText(refusal))
            } else {
                self.refuse(
                    .timeout, "handshake not completed within \(self.hub.configuration.hub.handshakeTimeoutMs) ms")
            }
        }
        do {
            try connection.startReading()
        } catch {
            connectionLost("cannot read: \(error)")
        }
    }

    // MARK: Input

    private func received(_ bytes: ArraySlice<UInt8>) {
        lastTrafficNanos = MonotonicClock.nanoseconds()
        do {
            try decoder.hold(bytes)
        } catch {
            // An oversized length prefix: the stream cannot be resynchronised (§3.1).
            sendError(.tooLarge, "\(error)", requestId: 0)
            closeConnection(reason: "frame over the limit: \(error)", detach: .protocolError)
            return
        }
        handleReadFrames()
        if readsInSlices, !sliceTaken, case .attached = state {
            sliceTaken = true
            updateReading()
            hub.resumeReadingNextPass(self)
        }
    }

    /// Handles the frames read, in order, while the unsent answers stay within the high watermark (guest.md §3.3).
    /// Past it the rest waits, unread, for the low watermark, or for the end of the pass if the socket took them.
    private func handleReadFrames() {
        guard !handlingFrames else { return }
        handlingFrames = true
        while decoder.holdsBodies {
            if writeQueueFull || output.count + connection.queuedWriteBytes > connection.highWatermark {
                flush()
                if writeQueueFull || yieldPass() { break }
            }
            if case .closed = state { break }
            guard let body = decoder.nextHeldBody() else { break }
            framesReceived += 1
            if case .attached(let session, _) = state, let send = GuestFrame.messageSend(in: body) {
                handleMessageSend(
                    link: send.link, correlation: send.correlation, payload: send.payload, request: send.requestId,
                    session: session, sequence: send.sequence)
                continue
            }
            switch GuestFrame.decode(body: body, limits: decoder.limits) {
            case .success(let frame): handle(frame, body: body)
            case .failure(let error): malformed(error)
            }
        }
        handlingFrames = false
        flush()
        hub.perform(&actions)
        updateReading()
    }

    /// Until the end of this pass; false when no handle can be had (handling goes on now).
    private func yieldPass() -> Bool {
        if case .closed = state { return true }
        if passEnd == nil { passEnd = try? EndOfPass(loop: hub.loop) { [unowned self] in self.resumeReadFrames() } }
        passEnd?.arm()
        return passEnd != nil
    }

    /// The queue drained, the pass ended or writing failed: held frames first, then reading.
    private func resumeReadFrames() {
        if !writeQueueFull, passEnd?.isArmed != true { handleReadFrames() }
    }

    /// The guest no longer takes bytes (it hung up, or reset the connection). What it wrote before is still read
    /// and carried out — its last messages and its DETACH may be waiting behind a slice — and the end of its
    /// stream then closes the session; a reset ends the read at once.
    private func writeFailed(_ error: LoopError) {
        logger.debug("guest \(remote) stopped taking bytes (\(error)); reading what it sent before")
        output.bytes.removeAll()
        writeQueueFull = false
        resumeReadFrames()
    }

    /// Reads while nothing holds the session back (a full write queue, this pass's slice taken, frames held).
    private func updateReading() {
        if case .closed = state { return }
        if writeQueueFull || sliceTaken || decoder.holdsBodies {
            connection.stopReading()
        } else {
            do {
                try connection.startReading()
            } catch {
                connectionLost("cannot read: \(error)")
            }
        }
    }

    /// A device's per-pass slice of this guest's input is used (an Ethernet channel, `Protocols/ethernet.md` §4.8):
    /// what this read carried is still handled, then the session reads nothing more until the next pass, as a
    /// fair-share session does after its slice.
    func holdInputUntilNextPass() {
        guard !sliceTaken, case .attached = state else { return }
        sliceTaken = true
        updateReading()
        hub.resumeReadingNextPass(self)
    }

    /// The next loop pass began: the fair-share session may take another slice.
    func resumeReadingAfterSlice() {
        sliceTaken = false
        updateReading()
    }

    private func malformed(_ error: GuestDecodeError) {
        hub.guestCounters.malformedFrames += 1
        // On the frame's channel, as every answer (§3.2, §11).
        sendError(
            error.errorCode, error.description, requestId: error.header?.requestId ?? 0,
            channel: error.header?.channel ?? 0)
        if sessionID == nil { closeConnection(reason: "malformed frame before WELCOME: \(error)", detach: nil) }
    }

    private func handle(_ frame: GuestFrame, body: ArraySlice<UInt8>) {
        switch state {
        case .awaitingHello:
            guard case .hello(let hello) = frame.message else {
                return refuse(.handshakeRequired, "send HELLO first", requestId: frame.requestId)
            }
            handleHello(hello, body: body, requestId: frame.requestId)
        case .awaitingProof(let partition, let resumeToken, let transcript, let features):
            guard case .proof(let mac) = frame.message else {
                return refuse(.handshakeRequired, "send PROOF after CHALLENGE", requestId: frame.requestId)
            }
            runtimeLinks = features.contains(GuestProtocol.runtimeLinksFeature)
            sendSequence = features.contains(GuestProtocol.sendSequenceFeature)
            marksGood = features.contains(GuestProtocol.markGoodFeature)
            identity = features.contains(GuestProtocol.identityFeature)
            rateLimitStatus = features.contains(GuestProtocol.rateLimitFeature)
            powerFrames = features.contains(GuestProtocol.powerFeature)
            reportsErrors = features.contains(GuestProtocol.errorLogFeature)
            policyProfiles = features.contains(GuestProtocol.policyProfilesFeature)
            handleProof(
                mac: mac, partition: partition, resumeToken: resumeToken, transcript: transcript,
                requestId: frame.requestId)
        case .attached(let session, _):
            handleAttached(frame, session: session)
        case .closed:
            break
        }
    }

    // MARK: Handshake (§5)

    private func handleHello(_ hello: GuestHello, body: ArraySlice<UInt8>, requestId: UInt32) {
        guard let version = GuestProtocol.negotiate(clientMin: hello.minVersion, clientMax: hello.maxVersion) else {
            return refuse(
                .badVersion,
                "no common version: guest speaks \(hello.minVersion)...\(hello.maxVersion), hub \(GuestProtocol.minimumVersion)...\(GuestProtocol.version)",
                requestId: requestId)
        }
        guard hub.configuration.partition(named: hello.partition) != nil else {
            return refuse(.unknownPartition, "no partition named '\(hello.partition)'", requestId: requestId)
        }
        let challenge = GuestFrame(
            .challenge(
                GuestChallenge(
                    version: version, nonce: SecureRandom.bytes(GuestProtocol.nonceLength),
                    features: GuestSession.offeredFeatures)),
            requestId: requestId)
        let encoded = challenge.encode()
        let transcript = GuestProtocol.transcript(
            helloBody: body, challengeBody: encoded[GuestProtocol.prefixLength...])
        state = .awaitingProof(
            partition: hello.partition, resumeToken: hello.resumeToken, transcript: transcript,
            features: hello.features)
        output.writeBytes(encoded)
    }

    private func handleProof(
        mac: [UInt8], partition: String, resumeToken: [UInt8]?, transcript: [UInt8], requestId: UInt32
    ) {
        guard let config = hub.configuration.partition(named: partition) else {
            return refuse(.unknownPartition, "no partition named '\(partition)'", requestId: requestId)
        }
        let key = SymmetricKey(data: Array(config.secret.utf8))
        // swift-crypto compares in constant time.
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: transcript, using: key) else {
            hub.guestCounters.authFailures += 1
            hub.publish("guest.authFailed", partition: partition, data: ["remote": .string(remote)])
            return refuse(.authFailed, "proof does not match the partition secret", requestId: requestId)
        }
        if let admission, !admission.authenticate() {
            hub.guestCounters.refusedOverLimit += 1
            return refuse(.rateLimited, hub.guestGate.refusalText(.tooManyClients), requestId: requestId)
        }
        switch hub.platform.attach(partition: partition, resumeToken: resumeToken, actions: &actions) {
        case .refused(let refusal):
            let code: GuestErrorCode
            switch refusal {
            case .noSuchPartition: code = .unknownPartition
            case .alreadyAttached: code = .alreadyAttached
            case .invalidResumeToken: code = .badResumeToken
            }
            refuse(code, "attach refused: \(refusal.rawValue)", requestId: requestId)
        case .attached(let info):
            state = .attached(info.session, partition: partition)
            if config.schedulingClass == .fairShare {
                readsInSlices = true
                connection.maxReadBytes = hub.configuration.hub.limits.fairShareReadBytesPerPass
            }
            decoder.setMaxFrameLength(hub.configuration.hub.limits.guestMaxFrameBytes)
            attachedAtUnixNs = Hub.wallClockNanos()
            logger[metadataKey: "partition"] = "\(partition)"
            hub.guestDidAttach(self, session: info.session)
            queue(
                GuestFrame(.welcome(welcome(for: info, heartbeatMs: config.heartbeatMs)), requestId: requestId))
            if sendSequence { queueSendSequences(info) }
            if runtimeLinks { enableRuntimeLinks(info) }
            // A partition suspended before this guest attached (a restarted guest, a new connection) is still
            // suspended: the guest is told so at once (§9.2).
            if isSuspended { queue(GuestFrame(.suspend(reason: "partition is suspended"))) }
            startLivenessCheck(heartbeatMs: config.heartbeatMs)
            if connection.kind == .unix { queueRegionDescriptors(info) }
        // Actions of the attach (credit, events) are performed after the welcome is queued.
        }
    }

    private func welcome(for info: AttachInfo, heartbeatMs: Int?) -> GuestWelcome {
        linkIDs = [:]
        linkNames = [:]
        knownLinks = KnownLinks(configuredLinks: hub.configuration.links.count)
        regionNames = [:]
        var links: [GuestLinkInfo] = []
        for view in info.links {
            // Configured links' ids are their position in the configuration; runtime links' ids are assigned
            // when opened and never reused: stable across sessions either way.
            let id = view.id
            linkIDs[view.name] = id
            linkNames[id] = view.name
            markWelcomed(link: id, true)
            links.append(
                GuestLinkInfo(
                    id: id, name: view.name, peer: view.peer, maxMessage: UInt32(view.maxMessageBytes),
                    depth: UInt32(view.depth), initialCredit: UInt32(max(0, view.sendCredit))))
        }
        var regions: [GuestRegionInfo] = []
        for view in info.regions {
            let id = UInt32(hub.configuration.regions.firstIndex { $0.name == view.name } ?? regions.count)
            regionNames[id] = view.name
            regions.append(
                GuestRegionInfo(
                    id: id, name: view.name, size: view.sizeBytes,
                    access: view.access == .readWrite ? .readWrite : .readOnly,
                    doorbellLine: view.doorbellLine.map { UInt16($0) } ?? GuestProtocol.noLine))
        }
        let controller = hub.platform.interruptController(ofPartition: info.partition)
        let lines = (0..<info.interruptLines).map { line in
            GuestLineInfo(line: UInt16(line), priority: controller?.lines[line].priority ?? 7)
        }
        return GuestWelcome(
            sessionId: info.session.rawValue, resumeToken: info.resumeToken, resumed: info.resumed,
            maxFrameLength: UInt32(decoder.limits.maxFrameLength), heartbeatMillis: UInt32(heartbeatMs ?? 0),
            lines: lines, links: links, regions: regions, peers: info.mayInterrupt)
    }

    /// A session silent for three heartbeat periods is closed (§5.4 `heartbeat_ms`, §9.1).
    ///
    /// libuv runs expired timers before it polls sockets. When the loop was held up longer than the timeout
    /// (a long pass, the hub stopped or descheduled), the timer fires first in the next pass while the
    /// guest's heartbeats of that time still wait unread in its socket; judging then disconnected live guests.
    /// So the timer only notices the silence, and the verdict waits for the end of the pass, after the poll
    /// phase has read what was waiting.
    private func startLivenessCheck(heartbeatMs: Int?) {
        guard let heartbeatMs, heartbeatMs > 0, let timer = try? Timer(loop: hub.loop) else { return }
        livenessTimer = timer
        livenessJudgment = try? EndOfPass(loop: hub.loop)
        let period = UInt64(heartbeatMs)
        timer.start(afterMilliseconds: period, repeatMilliseconds: period) { [unowned self] in
            guard self.silentMilliseconds > 3 * period, !self.isSuspended else { return }
            guard let judgment = self.livenessJudgment else { return self.judgeLiveness(period: period) }
            judgment.arm { [unowned self] in self.judgeLiveness(period: period) }
        }
    }

    private var silentMilliseconds: UInt64 { (MonotonicClock.nanoseconds() &- lastTrafficNanos) / 1_000_000 }

    /// Management suspended the partition: its liveness clock stands still (a suspended guest may be a
    /// stopped process, `partition.suspend`), and restarts on resume (`notifySuspended`).
    private var isSuspended: Bool {
        guard case .attached(_, let name) = state, case .suspended = platform.state(ofPartition: name) else {
            return false
        }
        return true
    }

    private func judgeLiveness(period: UInt64) {
        guard case .attached = state, !isSuspended else { return }
        let silentFor = silentMilliseconds
        guard silentFor > 3 * period else { return }
        hub.guestCounters.heartbeatsMissed += 1
        sendError(.timeout, "no traffic for \(silentFor) ms (heartbeat every \(period) ms)", requestId: 0)
        closeConnection(reason: "missed heartbeats", detach: .heartbeatMissed)
    }

    // MARK: Attached session (§6–§10)

    private func handleAttached(_ frame: GuestFrame, session: SessionID) {
        let request = frame.requestId
        switch frame.message {
        case .raise(let target, let line):
            let outcome = platform.raise(from: .session(session), to: target, line: Int(line), actions: &actions)
            answer(
                GuestFrame(.raiseResult(outcome.guestOutcome), requestId: request),
                unless: outcome == .delivered || outcome == .latched)
        case .eoi(let line):
            answer(line: platform.endOfInterrupt(session: session, line: Int(line)), requestId: request)
        case .mask(let line):
            answer(line: platform.setMasked(session: session, line: Int(line), masked: true), requestId: request)
        case .unmask(let line):
            answer(line: platform.setMasked(session: session, line: Int(line), masked: false), requestId: request)
            hub.scheduleDeliveries()
        case .setPriority(let line, let priority):
            answer(
                line: platform.setPriority(session: session, line: Int(line), priority: priority), requestId: request)
        case .timerSet(let line, let firstDelay, let period):
            // Decoded but refused by the operation (guest.md §6.7): `invalid_argument`, naming the bound.
            if let reason = platform.timerRefusal(firstDelayMicroseconds: firstDelay, periodMicroseconds: period) {
                return sendError(.invalidArgument, reason, requestId: request)
            }
            answer(
                line: platform.armTimer(
                    session: session, line: Int(line), afterNanoseconds: firstDelay * 1000,
                    periodNanoseconds: period == 0 ? nil : period * 1000),
                requestId: request)
        case .timerCancel(let line):
            answer(line: platform.cancelTimer(session: session, line: Int(line)), requestId: request)
        case .msgSend(let linkID, let correlation, let payload):
            handleMessageSend(
                link: linkID, correlation: correlation, payload: payload, request: request, session: session)
        case .msgSendSequenced(let linkID, let sequence, let correlation, let payload):
            handleMessageSend(
                link: linkID, correlation: correlation, payload: payload, request: request, session: session,
                sequence: sequence)
        case .msgSendAs(let linkID, let correlation, let identity, let payload):
            guard self.identity else { return refuseIdentitySend(request: request) }
            handleMessageSend(
                link: linkID, correlation: correlation, payload: payload, request: request, session: session,
                identity: identity)
        case .msgAck(let linkID, let upTo):
            acknowledge(link: linkID, upTo: upTo, request: request, session: session)
        case .regionRead(let regionID, let offset, let length):
            readRegion(regionID, offset: offset, length: length, request: request, session: session)
        case .regionWrite(let regionID, let offset, let bytes):
            writeRegion(regionID, offset: offset, bytes: bytes, request: request, session: session)
        case .heartbeat(let stamp):
            // Any frame counts as traffic; an answer only when asked for (§3.3).
            if request != 0 { queue(GuestFrame(.heartbeatAck(stamp: stamp), requestId: request)) }
        case .heartbeatAck:
            break
        case .detach(let reason):
            if request != 0 { queue(GuestFrame(.ok, requestId: request)) }
            closeConnection(reason: "guest detached: \(reason)", detach: .guestRequested)
        case .channelOpen(let device, let options):
            openChannel(frame.channel, device: device, options: options, requestId: request)
        case .channelData(let data):
            channelData(data, channel: frame.channel, request: request)
        case .channelClose(_, let reason):
            closeChannel(frame.channel, reason: reason, request: request)
        case .linkOpen(let name, let peer, let maxMessage, let depth):
            openLink(name: name, peer: peer, maxMessage: maxMessage, depth: depth, requestId: request)
        case .linkClose(let linkID):
            closeLink(linkID, requestId: request)
        case .markGood:
            markGood(requestId: request)
        case .powerState, .wakeLock, .partitionControl, .powerQuery:
            power(frame.message, requestId: request)
        case .errorReport(let severity, let code, let text):
            reportError(severity: severity, code: code, text: text, requestId: request)
        case .policyActivate(let profile):
            activatePolicy(profile, requestId: request)
        case .hello, .proof:
            sendError(.unexpectedFrame, "already attached", requestId: request)
        case .challenge, .welcome, .error, .ok, .raiseResult, .irq, .msgSent, .msgDeliver, .credit, .regionData,
            .regionResult, .regionFD, .suspend, .resume, .channelOpened, .linkOpened, .linkClosed, .sendSequences,
            .msgDeliverAs, .wake, .partitionControlResult, .powerInfo, .policyChanged:
            sendError(.unexpectedFrame, "\(frame.type) travels from hub to guest only", requestId: request)
        }
    }

    /// MSG_ACK (§7.4).
    private func acknowledge(link linkID: UInt32, upTo: UInt64, request: UInt32, session: SessionID) {
        guard let link = linkNames[linkID] else {
            return sendError(.noSuchLink, "link \(linkID)", requestId: request)
        }
        switch platform.acknowledge(session: session, link: link, upTo: upTo, actions: &actions) {
        case .acknowledged: if request != 0 { queue(GuestFrame(.ok, requestId: request)) }
        case .beyondDelivered:
            sendError(.unexpectedFrame, "ack \(upTo) beyond the last delivered id", requestId: request)
        case .noSuchLink: sendError(.noSuchLink, "link \(linkID)", requestId: request)
        case .notPermitted: sendError(.notPermitted, "link \(link)", requestId: request)
        }
    }

    /// REGION_READ (§8.1).
    private func readRegion(_ regionID: UInt32, offset: UInt64, length: UInt32, request: UInt32, session: SessionID) {
        guard let region = regionNames[regionID] else {
            return answer(
                GuestFrame(.regionResult(region: regionID, status: .noSuchRegion), requestId: request),
                unless: false)
        }
        switch platform.readRegion(
            session: session, region: region, offset: offset, length: Int(length), actions: &actions)
        {
        case .ok(let bytes):
            queue(
                GuestFrame(.regionData(region: regionID, offset: offset, bytes: bytes[...]), requestId: request))
        case .outOfGrant:
            answer(
                GuestFrame(.regionResult(region: regionID, status: .outOfGrant), requestId: request), unless: false)
        case .outOfBounds, .tooLarge:
            answer(
                GuestFrame(.regionResult(region: regionID, status: .outOfBounds), requestId: request), unless: false
            )
        case .noSuchRegion:
            answer(
                GuestFrame(.regionResult(region: regionID, status: .noSuchRegion), requestId: request),
                unless: false)
        }
    }

    /// REGION_WRITE (§8.3).
    private func writeRegion(
        _ regionID: UInt32, offset: UInt64, bytes: ArraySlice<UInt8>, request: UInt32, session: SessionID
    ) {
        guard let region = regionNames[regionID] else {
            return answer(
                GuestFrame(.regionResult(region: regionID, status: .noSuchRegion), requestId: request),
                unless: false)
        }
        let status: GuestRegionStatus =
            switch platform.writeRegion(
                session: session, region: region, offset: offset, bytes: bytes, actions: &actions)
            {
            case .ok: .ok
            case .outOfGrant: .outOfGrant
            case .outOfBounds, .tooLarge: .outOfBounds
            case .noSuchRegion, .noDoorbell: .noSuchRegion
            }
        answer(
            GuestFrame(.regionResult(region: regionID, status: status), requestId: request), unless: status == .ok)
    }

    /// CHANNEL_DATA from the guest (§10.3).
    private func channelData(_ data: ArraySlice<UInt8>, channel channelID: UInt16, request: UInt32) {
        guard let channel = channels[channelID] else {
            return sendError(
                .noSuchChannel, "channel \(channelID) is not open", requestId: request, channel: channelID)
        }
        guard data.count <= Int(channel.maxData) else {
            return sendError(
                .tooLarge, "\(data.count) bytes exceed the channel's max_data of \(channel.maxData)",
                requestId: request, channel: channelID)
        }
        channel.received(data)
    }

    /// CHANNEL_CLOSE from the guest (§10.4).
    private func closeChannel(_ channelID: UInt16, reason: String, request: UInt32) {
        channelDevices[channelID] = nil
        guard let channel = channels.removeValue(forKey: channelID) else {
            return sendError(
                .noSuchChannel, "channel \(channelID) is not open", requestId: request, channel: channelID)
        }
        channel.closed(reason: reason.isEmpty ? "closed by the guest" : reason)
        if request != 0 { queue(GuestFrame(.ok, channel: channelID, requestId: request)) }
    }

    /// MSG_SEND (§7.1) and MSG_SEND_SEQ (§7.10, `sequence` ≥ 1): reached from the decoded frame and from the
    /// in-place fast path in `received`.
    private func handleMessageSend(
        link linkID: UInt32, correlation: UInt64, payload: ArraySlice<UInt8>, request: UInt32, session: SessionID,
        sequence: UInt64 = 0, identity: String? = nil
    ) {
        if sequence != 0 && !sendSequence { return refuseSequencedSend(request: request) }
        guard welcomed(link: linkID), let position = platform.linkIndex(forID: linkID) else {
            return answer(
                GuestFrame(.msgSent(link: linkID, messageId: 0, status: .noSuchLink), requestId: request),
                unless: false)
        }
        if sequence != 0 {
            return sendSequenced(
                link: linkID, position: position, sequence: sequence, correlation: correlation, payload: payload,
                request: request, session: session)
        }
        let outcome = platform.send(
            from: .session(session), linkAt: position, payload: payload,
            correlation: correlation == 0 ? nil : correlation, identity: identity, actions: &actions)
        let (id, status) = sentAnswer(outcome)
        // The frame is built only when it goes out (`answer`): most sends are queued with request id 0.
        guard request != 0 || status != .queued else { return }
        queue(GuestFrame(.msgSent(link: linkID, messageId: id, status: status), requestId: request))
    }

    /// The `MSG_SENT` id and status of a send's outcome (§7.2).
    func sentAnswer(_ outcome: SendOutcome) -> (UInt64, GuestSendStatus) {
        switch outcome {
        case .queued(let id): (id, .queued)
        case .queueFull: (0, .queueFull)
        case .tooLarge: (0, .tooLarge)
        case .noSuchLink: (0, .noSuchLink)
        case .notPermitted: (0, .notPermitted)
        // Older clients (no `runtime-links`) know no closing state: for them the link is gone.
        case .linkClosing: (0, runtimeLinks ? .linkClosing : .noSuchLink)
        // Older clients know no rate status; `queue_full` also means "not queued, no credit used, try later".
        case .rateLimited: (0, rateLimitStatus ? .rateLimited : .queueFull)
        }
    }

    private func welcomed(link id: UInt32) -> Bool { knownLinks.contains(id) }

    /// Records whether this session knows link `id` (from its WELCOME or a LINK_OPENED), for the per-message
    /// checks (`KnownLinks`: runtime ids grow for the hub's life, so they are not table indices).
    func markWelcomed(link id: UInt32, _ known: Bool) { knownLinks.set(id, known: known) }

    /// Typed answers go out when the guest asked (request id ≠ 0). With request id 0, only a failure is
    /// reported, as the typed frame itself (it carries the status).
    func answer(_ frame: GuestFrame, unless success: Bool) {
        if frame.requestId != 0 || !success { queue(frame) }
    }

    private func answer(line outcome: LineOutcome, requestId: UInt32) {
        switch outcome {
        case .ok: if requestId != 0 { queue(GuestFrame(.ok, requestId: requestId)) }
        case .noSuchLine: sendError(.noSuchLine, "no such line", requestId: requestId)
        // Well-formed, but not in the line's state: an EOI of a line not in service (§6.4).
        case .invalid:
            sendError(.unexpectedFrame, "not valid in the line's state (not in service)", requestId: requestId)
        case .notAttached: sendError(.unexpectedFrame, "session is not attached", requestId: requestId)
        }
    }

    // MARK: Output

    func deliverInterrupt(line: Int, priority: UInt8, coalesced: UInt32) {
        GuestFrame.encodeInterrupt(
            into: &output, line: UInt16(line), priority: priority, coalesced: max(1, coalesced))
    }

    func deliverMessages(_ batch: MessageBatch) {
        guard welcomed(link: batch.linkID) else { return }
        // Encode into a local buffer (swapped with `output`), not through `self` once per message.
        var buffer = ByteWriter(capacity: 0)
        swap(&buffer, &output)
        buffer.bytes.reserveCapacity(buffer.count + batch.count * 96)
        let identities = identity
        hub.platform.forEachMessage(in: batch) { id, sender, correlation, payload, identity in
            // A receiver without the `identity` feature gets the message without it (§7.12).
            if let identity, identities {
                GuestFrame.encodeMessageDeliveryAs(
                    into: &buffer, link: batch.linkID, messageId: id, sender: sender.description, identity: identity,
                    correlation: correlation ?? 0, payload: payload)
            } else {
                GuestFrame.encodeMessageDelivery(
                    into: &buffer, link: batch.linkID, messageId: id, sender: sender.description,
                    correlation: correlation ?? 0, payload: payload)
            }
        }
        swap(&buffer, &output)
    }

    func grantCredit(link: String, credit: Int) {
        guard let id = linkIDs[link], credit > 0 else { return }
        queue(GuestFrame(.credit(link: id, credit: UInt32(min(credit, Int(UInt32.max))))))
    }

    func notifySuspended(_ suspended: Bool, reason: String) {
        // The liveness clock restarts on resume: the time suspended is not silence (§9.2).
        if !suspended { lastTrafficNanos = MonotonicClock.nanoseconds() }
        queue(GuestFrame(suspended ? .suspend(reason: reason) : .resume))
        flush()
    }

    /// The largest output buffer kept between passes.
    static let retainedOutputBytes = 64 << 10

    /// Appends one frame to this pass's output.
    func queue(_ frame: GuestFrame) { frame.encode(into: &output) }

    /// Writes everything queued this pass as one write, then any region descriptor that can go.
    func flush() {
        if case .closed = state { return }
        if output.count > 0 {
            // Taken out first: a write failing at once closes the session, which may touch `output`.
            var out = ByteWriter(capacity: 0)
            swap(&out, &output)
            if pendingDescriptors.isEmpty {
                // The usual case: `writeNow` hands the bytes to the kernel in this call (`uv_try_write`) and
                // queues only what it does not take. A queued write costs a request, a copy, a callback a pass
                // later and, when libuv's queue drains, an `epoll_ctl` to stop watching for writability: one
                // system call more per forwarded interrupt or message than the read and write themselves.
                _ = connection.writeNow(out.bytes)
            } else {
                // While descriptors wait for libuv's queue to drain, each write's completion tries them again. It
                // holds the session strongly until libuv calls it (it always does, with ECANCELED on close): a weak
                // reference would give the session a side table and make every retain of it take the slow path.
                connection.write(out.bytes, completion: { [self] _ in self.sendPendingDescriptors() })
            }
            // A burst of large frames must not pin its buffer for the session's life.
            if out.bytes.capacity <= GuestSession.retainedOutputBytes, output.count == 0 {
                out.bytes.removeAll(keepingCapacity: true)
                swap(&out, &output)
            }
        }
        if !pendingDescriptors.isEmpty { sendPendingDescriptors() }
    }

    // MARK: Region descriptors (§8.5)

    /// One `REGION_FD` per granted region backed by a memfd; read-only grants get a read-only descriptor.
    private func queueRegionDescriptors(_ info: AttachInfo) {
        for view in info.regions {
            guard let backing = hub.regionBackings[view.name],
                let id = regionNames.first(where: { $0.value == view.name })?.key
            else { continue }
            let readWrite = view.access == .readWrite
            let descriptor: Int32
            do {
                descriptor = readWrite ? backing.descriptor : try backing.openReadOnly()
            } catch {
                logger.warning(
                    "region \(view.name): no read-only descriptor (errno \(error.code)); TCP-style access only")
                continue
            }
            let frame = GuestFrame(
                .regionFD(region: id, access: readWrite ? .readWrite : .readOnly, size: view.sizeBytes)
            ).encode()
            pendingDescriptors.append(
                PendingDescriptorFrame(frame: frame, descriptor: descriptor, ownsDescriptor: !readWrite))
        }
    }

    /// Sends waiting descriptor frames with `sendmsg`, the descriptor riding on the frame's first byte.
    /// Only when libuv holds nothing unsent, or the frame would overtake queued bytes.
    private func sendPendingDescriptors() {
        guard case .attached = state else { return }
        while let next = pendingDescriptors.first {
            // A write queued earlier carries a completion that calls this again.
            guard connection.unsentBytes == 0 else { return }
            let sent = sendWithDescriptor(
                socket: connection.fileDescriptor, bytes: next.frame, descriptor: next.descriptor)
            if sent.count == 0 {
                guard sent.error?.wouldBlock ?? true else {
                    // The connection is failing; reading will report it.
                    logger.info("descriptor not sent: errno \(sent.error?.code ?? 0)")
                    releasePendingDescriptors()
                    return
                }
                // The socket buffer is full and libuv has nothing queued to call us back. Retry shortly: a zero
                // timer restarted from the flush that runs here would run again in the same timer phase and
                // spin the loop until the guest reads.
                retryDescriptorsSoon()
                return
            }
            pendingDescriptors.removeFirst()
            if next.ownsDescriptor { Descriptors.close(next.descriptor) }
            if sent.count < next.frame.count {
                let retry: ((LoopError?) -> Void)? =
                    pendingDescriptors.isEmpty ? nil : { [self] _ in self.sendPendingDescriptors() }
                connection.write(Array(next.frame[sent.count...]), completion: retry)
            }
        }
    }

    private func retryDescriptorsSoon() {
        if descriptorRetryTimer == nil { descriptorRetryTimer = try? Timer(loop: hub.loop) }
        guard let timer = descriptorRetryTimer, !timer.isActive else { return }
        timer.start(afterMilliseconds: 1) { [unowned self] in self.sendPendingDescriptors() }
    }

    private func releasePendingDescriptors() {
        for pending in pendingDescriptors where pending.ownsDescriptor { Descriptors.close(pending.descriptor) }
        pendingDescriptors.removeAll()
    }

    func sendError(_ code: GuestErrorCode, _ reason: String, requestId: UInt32, channel: UInt16 = 0) {
        errorsSent += 1
        let text = String(reason.utf8.prefix(1000)) ?? "error"
        queue(GuestFrame(.error(code: code, reason: text), channel: channel, requestId: requestId))
    }

    // MARK: Device channels (§10)

    private func openChannel(_ number: UInt16, device: String, options: ArraySlice<UInt8>, requestId: UInt32) {
        guard channels[number] == nil else {
            return sendError(.channelInUse, "channel \(number) is already open", requestId: requestId, channel: number)
        }
        guard let partition, let provider = hub.device(offering: device) else {
            return sendError(
                .noSuchDevice, "no device '\(device)' offers a guest channel", requestId: requestId, channel: number)
        }
        let endpoint = SessionChannelEndpoint(partition: partition, channel: number, session: self)
        switch provider.openChannel(device: device, options: options, endpoint: endpoint) {
        case .failure(let refusal):
            sendError(refusal.code, refusal.reason, requestId: requestId, channel: number)
        case .success(let channel):
            channels[number] = channel
            channelDevices[number] = device
            queue(
                GuestFrame(
                    .channelOpened(maxData: channel.maxData, options: channel.openedOptions[...]), channel: number,
                    requestId: requestId
                ))
        }
    }

    func hasChannel(_ number: UInt16) -> Bool { channels[number] != nil }

    /// Closes the channel because its grant went: the device is told, the guest gets `CHANNEL_CLOSE` `code`.
    func closeChannelForPolicy(_ number: UInt16, code: UInt16, reason: String) {
        channelDevices[number] = nil
        guard let channel = channels.removeValue(forKey: number) else { return }
        channel.closed(reason: reason)
        queue(GuestFrame(.channelClose(code: code, reason: reason), channel: number))
        hub.scheduleFlush(of: self)
    }

    /// Whether frames can carry descriptors (`SCM_RIGHTS`): only on Unix sockets.
    var passesDescriptors: Bool { connection.kind == .unix }

    /// Queues one `CHANNEL_DATA` frame that carries `descriptor` on its first byte (through the same
    /// `sendmsg` path as `REGION_FD`). With `ownsDescriptor` the session closes it once sent or dropped.
    func queueChannelData(
        _ number: UInt16, _ data: some Collection<UInt8>, passing descriptor: Int32, ownsDescriptor: Bool
    ) {
        let frame = GuestFrame(.channelData(ArraySlice(data)), channel: number).encode()
        guard case .attached = state, passesDescriptors else {
            if ownsDescriptor { Descriptors.close(descriptor) }
            return
        }
        pendingDescriptors.append(
            PendingDescriptorFrame(frame: frame, descriptor: descriptor, ownsDescriptor: ownsDescriptor))
        hub.scheduleFlush(of: self)
    }

    /// A guest-protocol `ERROR` frame (§5.5) on a device channel, request id 0: how devices refuse a
    /// command without closing the channel.
    func queueChannelError(_ number: UInt16, code: GuestErrorCode, reason: String) {
        guard channels[number] != nil else { return }
        sendError(code, reason, requestId: 0, channel: number)
        hub.scheduleFlush(of: self)
    }

    var isWriteQueueFull: Bool { connection.isAboveHighWatermark }
    var unsentBytes: Int { connection.queuedWriteBytes + output.count }

    func queueChannelData(_ number: UInt16, _ data: some Collection<UInt8>) {
        queue(GuestFrame(.channelData(ArraySlice(data)), channel: number))
        hub.scheduleFlush(of: self)
    }

    func closeChannelFromDevice(_ number: UInt16, code: UInt16, reason: String) {
        channelDevices[number] = nil
        guard channels.removeValue(forKey: number) != nil else { return }
        queue(GuestFrame(.channelClose(code: code, reason: reason), channel: number))
        hub.scheduleFlush(of: self)
    }

    private func closeAllChannels(reason: String) {
        let open = channels
        channels.removeAll()
        channelDevices.removeAll()
        for channel in open.values { channel.closed(reason: reason) }
    }

    /// Refuses during the handshake: ERROR, then close (§5).
    private func refuse(_ code: GuestErrorCode, _ reason: String, requestId: UInt32 = 0) {
        logger.info("guest \(remote) refused: \(reason)")
        sendError(code, reason, requestId: requestId)
        closeConnection(reason: reason, detach: nil)
    }

    // MARK: Closing

    /// The model closed this session (take-over, stop): tell the guest why, then hang up.
    func close(reason: DetachReason) {
        guard case .attached = state else { return }
        queue(GuestFrame(.detach(reason: reason.rawValue)))
        finish(reason: "detached by the hub: \(reason.rawValue)")
    }

    private func connectionLost(_ why: String) {
        closeConnection(reason: why, detach: .connectionLost)
    }

    /// Ends the session: detaches it from the model (when attached) and closes after queued frames.
    func closeConnection(reason: String, detach: DetachReason?) {
        // §9.3: a hub that stops tells every attached guest with DETACH; `finish` flushes it before the close.
        if detach == .shutdown, case .attached = state {
            queue(GuestFrame(.detach(reason: DetachReason.shutdown.rawValue)))
        }
        if case .attached(let session, let partition) = state, let detach {
            _ = hub.platform.detach(session: session, reason: detach, actions: &actions)
            hub.guestSessionEnded(partition: partition, reason: detach)
        }
        finish(reason: reason)
        hub.perform(&actions)
    }

    private func finish(reason: String) {
        if case .closed = state { return }
        let session = sessionID
        let detachedPartition = partition
        flush()
        state = .closed
        releasePendingDescriptors()
        closeAllChannels(reason: reason)
        if let detachedPartition { hub.partitionDetached(detachedPartition) }
        logger.debug("guest connection \(remote) closed: \(reason)")
        admission?.release()
        livenessTimer?.close()
        livenessJudgment?.close()
        descriptorRetryTimer?.close()
        passEnd?.close()
        // The hub lets go of this session now: the connection must not call back into it (its
        // callbacks hold it unowned) while it drains and closes.
        connection.detachCallbacks()
        hub.guestDidClose(self, session: session)
        connection.closeAfterWrites(within: UInt64(hub.configuration.hub.limits.guestCloseDrainMs))
    }
}

extension RaiseOutcome {
    var guestOutcome: GuestRaiseOutcome {
        switch self {
        case .delivered: return .delivered
        case .latched: return .latched
        case .notPermitted: return .notPermitted
        case .noSuchPartition: return .noSuchPartition
        case .noSuchLine: return .noSuchLine
        }
    }
}
