import Foundation
import Glibc
import GuestWire
import HubGuest
import Testing
import Wire

private let sampleWelcome = GuestWelcome(
    sessionId: 77, resumeToken: Array(repeating: 0x5a, count: 16), resumed: false, maxFrameLength: 1_048_640,
    heartbeatMillis: 0, lines: [GuestLineInfo(line: 1, priority: 0)],
    links: [GuestLinkInfo(id: 1, name: "rtos-linux", peer: "linux", maxMessage: 4096, depth: 64, initialCredit: 8)],
    regions: [GuestRegionInfo(id: 2, name: "shm0", size: 4096, access: .readOnly, doorbellLine: 3)],
    peers: ["linux"])

@Suite struct GuestClientTests {
    @Test func attachesAndMatchesAnswersAmongUnsolicitedFrames() throws {
        let (clientFD, hubFD) = socketPair()
        let secret = Array("s3cret".utf8)
        let hubThread = Thread {
            let hub = ScriptedGuestHub(fd: hubFD)
            defer { Glibc.close(hubFD) }
            guard hub.handshake(secret: secret, welcome: sampleWelcome) else { return }
            // RAISE: an IRQ and a delivery arrive before the answer.
            guard let (raise, _) = hub.read(), case .raise("linux", 1) = raise.message else { return }
            hub.write(GuestFrame(.irq(line: 1, priority: 0, coalesced: 2)))
            let delivery = GuestDelivery(
                link: 1, messageId: 5, sender: "linux", correlation: 9, payload: Array("hi".utf8)[...])
            hub.write(GuestFrame(.msgDeliver(delivery)))
            hub.write(GuestFrame(.raiseResult(.latched), requestId: raise.requestId))
            // MSG_SEND answered queued with id 41.
            guard let (send, _) = hub.read(), case .msgSend(1, 7, let payload) = send.message,
                Array(payload) == Array("ping".utf8)
            else { return }
            hub.write(GuestFrame(.msgSent(link: 1, messageId: 41, status: .queued), requestId: send.requestId))
            // REGION_WRITE refused, then a region descriptor passed with SCM_RIGHTS.
            guard let (write, _) = hub.read(), case .regionWrite(2, 0, _) = write.message else { return }
            hub.write(GuestFrame(.regionResult(region: 2, status: .outOfGrant), requestId: write.requestId))
            let passed = open("/dev/null", O_RDONLY)
            hub.write(GuestFrame(.regionFD(region: 2, access: .readOnly, size: 4096)), passing: passed)
            Glibc.close(passed)
            // MSG_ACK (no answer), then a heartbeat round trip.
            guard let (ack, _) = hub.read(), case .msgAck(1, 5) = ack.message else { return }
            guard let (beat, _) = hub.read(), case .heartbeat(let stamp) = beat.message else { return }
            hub.write(GuestFrame(.heartbeatAck(stamp: stamp), requestId: beat.requestId))
            _ = hub.read()  // until the client closes
        }
        hubThread.start()

        let client = try GuestClient.attach(descriptor: clientFD, partition: "rtos", secret: secret)
        #expect(client.welcome == sampleWelcome)
        #expect(client.version == 1)
        #expect(client.hubFeatures == ["irq"])

        #expect(try client.raise(partition: "linux", line: 1) == .latched)
        #expect(try client.nextEvent(timeout: 1) == .irq(line: 1, priority: 0, coalesced: 2))
        guard case .message(let delivery)? = try client.nextEvent(timeout: 1) else {
            Issue.record("no delivery")
            return
        }
        #expect(delivery.sender == "linux" && Array(delivery.payload) == Array("hi".utf8))
        #expect(try client.nextEvent(timeout: 0.01) == nil)

        #expect(
            try client.send(link: 1, payload: Array("ping".utf8), correlation: 7)
                == SendOutcome(status: .queued, messageId: 41))
        #expect(try client.writeRegion(2, offset: 0, bytes: [1, 2]) == .outOfGrant)
        guard case .regionFD(2, .readOnly, 4096, let descriptor?)? = try client.nextEvent(timeout: 2) else {
            Issue.record("no region descriptor")
            return
        }
        #expect(fcntl(descriptor, F_GETFD) >= 0)
        Glibc.close(descriptor)
        try client.ack(link: 1, upTo: 5)
        try client.heartbeat(stamp: 123)
        client.close()
    }

    /// §9.5: `reportError` sends ERROR_REPORT with its fields and returns on OK; a refusal (rate limit) is
    /// reported as `.rejected` with its code.
    @Test func reportErrorSendsTheEntryAndReportsRefusals() throws {
        let (clientFD, hubFD) = socketPair()
        let secret = Array("s3cret".utf8)
        let hubThread = Thread {
            let hub = ScriptedGuestHub(fd: hubFD)
            defer { Glibc.close(hubFD) }
            guard hub.handshake(secret: secret, welcome: sampleWelcome, features: [GuestProtocol.errorLogFeature])
            else { return }
            guard let (first, _) = hub.read(),
                case .errorReport(.critical, "modem-lost", "no answer") = first.message, first.requestId != 0
            else { return }
            hub.write(GuestFrame(.ok, requestId: first.requestId))
            guard let (second, _) = hub.read(), case .errorReport = second.message else { return }
            hub.write(GuestFrame(.error(code: .rateLimited, reason: "too many"), requestId: second.requestId))
            _ = hub.read()
        }
        hubThread.start()
        let client = try GuestClient.attach(
            descriptor: clientFD, partition: "rtos", secret: secret, features: [GuestProtocol.errorLogFeature])
        try client.reportError(severity: .critical, code: "modem-lost", text: "no answer")
        #expect(throws: GuestClientError.rejected(code: .rateLimited, reason: "too many")) {
            try client.reportError(severity: .info, code: "x", text: "")
        }
        client.close()
    }

    /// §7.11: SEND_SEQUENCES follows WELCOME; the client waits for it however it is cut, and keeps its record
    /// from the answers that carry one.
    @Test func sendSequencesAreReadAfterWelcomeEvenByteAtATime() throws {
        let (clientFD, hubFD) = socketPair()
        let secret = Array("s3cret".utf8)
        let hubThread = Thread {
            let hub = ScriptedGuestHub(fd: hubFD)
            defer { Glibc.close(hubFD) }
            guard hub.handshake(secret: secret, welcome: sampleWelcome, features: [GuestProtocol.sendSequenceFeature])
            else { return }
            usleep(20_000)
            for byte in GuestFrame(.sendSequences([GuestSendSequence(link: 1, lastAccepted: 41)])).encode() {
                _ = withUnsafeBytes(of: byte) { Glibc.write(hubFD, $0.baseAddress, 1) }
                usleep(1000)
            }
            hub.write(GuestFrame(.credit(link: 1, credit: 3)))
            guard let (send, _) = hub.read(), case .msgSendSequenced(1, 40, 0, _) = send.message else { return }
            hub.write(GuestFrame(.msgSent(link: 1, messageId: 41, status: .duplicate), requestId: send.requestId))
            guard let (refused, _) = hub.read(), case .msgSendSequenced(1, 42, 0, _) = refused.message else { return }
            hub.write(GuestFrame(.msgSent(link: 1, messageId: 0, status: .notPermitted), requestId: refused.requestId))
            _ = hub.read()  // until the client closes
        }
        hubThread.start()

        let client = try GuestClient.attach(
            descriptor: clientFD, partition: "rtos", secret: secret, features: [GuestProtocol.sendSequenceFeature])
        #expect(client.hubOffersSendSequence)
        #expect(client.sendSequences == [1: 41])
        #expect(try client.nextEvent(timeout: 1) == .credit(link: 1, credit: 3), "what followed is kept in order")
        #expect(
            try client.sendSequenced(link: 1, sequence: 40, payload: [0])
                == SendOutcome(status: .duplicate, messageId: 41))
        #expect(try client.sendSequenced(link: 1, sequence: 42, payload: [0]).status == .notPermitted)
        #expect(client.sendSequences == [1: 41], "a refusal before the sequence check carries no record")
        client.close()
    }

    /// `eoiAndRaise` sends the EOI and then the raise in one write (§6.4, §6.2), so the hub meets both in one read.
    /// The scripted hub answers an IRQ on line 9 when one read brought exactly those two frames, else line 0.
    @Test func eoiAndRaiseAreOneWriteWithTheEOIFirst() throws {
        let (clientFD, hubFD) = socketPair(keepingWrites: true)
        let secret = Array("s3cret".utf8)
        let hubThread = Thread {
            let hub = ScriptedGuestHub(fd: hubFD)
            defer { Glibc.close(hubFD) }
            guard hub.handshake(secret: secret, welcome: sampleWelcome) else { return }
            let frames = hub.readOnce() ?? []
            let expected =
                frames.map(\.message) == [.eoi(line: 1), .raise(partition: "linux", line: 4)]
                && frames.allSatisfy { $0.requestId == 0 }
            hub.write(GuestFrame(.irq(line: expected ? 9 : 0, priority: 0, coalesced: 1)))
            _ = hub.read()  // until the client closes
        }
        hubThread.start()
        let client = try GuestClient.attach(descriptor: clientFD, partition: "rtos", secret: secret)
        try client.eoiAndRaise(line: 1, partition: "linux", raising: 4)
        #expect(try client.nextEvent(timeout: 5) == .irq(line: 9, priority: 0, coalesced: 1))
        client.close()
    }

    @Test func aWrongSecretIsRefused() throws {
        let (clientFD, hubFD) = socketPair()
        let hubThread = Thread {
            let hub = ScriptedGuestHub(fd: hubFD)
            _ = hub.handshake(secret: Array("right".utf8), welcome: sampleWelcome)
            Glibc.close(hubFD)
        }
        hubThread.start()
        #expect(throws: GuestClientError.rejected(code: .authFailed, reason: "bad proof")) {
            _ = try GuestClient.attach(descriptor: clientFD, partition: "rtos", secret: Array("wrong".utf8))
        }
    }

    /// A hub that refuses at accept (`Protocols/guest.md` §5: over `guestMaxSessions`, or evicted from the pending
    /// budget) sends ERROR and closes, possibly before the client's HELLO went out. The send then fails (EPIPE),
    /// but the refusal is still waiting to be read: the client reports it, not a bare "connection closed".
    @Test func aRefusalSentBeforeHelloIsReportedNotJustTheClose() throws {
        let (clientFD, hubFD) = socketPair()
        let refusal = "too_many_clients: guestMaxSessions (3) already connected"
        ScriptedGuestHub(fd: hubFD).write(GuestFrame(.error(code: .rateLimited, reason: refusal)))
        Glibc.close(hubFD)
        #expect(throws: GuestClientError.rejected(code: .rateLimited, reason: refusal)) {
            _ = try GuestClient.attach(descriptor: clientFD, partition: "rtos", secret: Array("secret".utf8))
        }
    }

    /// The same between CHALLENGE and PROOF: the hub's handshake deadline passed and it said so before closing.
    @Test func aRefusalSentBeforeProofIsReportedNotJustTheClose() throws {
        let (clientFD, hubFD) = socketPair()
        let reason = "handshake_timeout: handshake not completed within 10 ms"
        let hubThread = Thread {
            let hub = ScriptedGuestHub(fd: hubFD)
            guard let (hello, _) = hub.read() else { return }
            let challenge = GuestChallenge(version: 1, nonce: Array(repeating: 1, count: 32), features: [])
            hub.write(GuestFrame(.challenge(challenge), requestId: hello.requestId))
            hub.write(GuestFrame(.error(code: .timeout, reason: reason)))
            Glibc.close(hubFD)
        }
        hubThread.start()
        // The client's PROOF send races the close: either it fails (EPIPE) or the proof goes out unread; both
        // ways the answer is the hub's ERROR.
        #expect(throws: GuestClientError.rejected(code: .timeout, reason: reason)) {
            _ = try GuestClient.attach(descriptor: clientFD, partition: "rtos", secret: Array("secret".utf8))
        }
    }

    @Test func badEndpointsAreRefused() {
        #expect(throws: GuestClientError.badEndpoint("udp:1.2.3.4:5")) {
            _ = try GuestClient.connect(endpoint: "udp:1.2.3.4:5", partition: "rtos", secret: "x")
        }
        #expect(throws: GuestClientError.badEndpoint("tcp:localhost")) {
            _ = try GuestClient.connect(endpoint: "tcp:localhost", partition: "rtos", secret: "x")
        }
    }
}
