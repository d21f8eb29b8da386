import Foundation
import Glibc
import GuestWire
import HubGuest
import Testing

/// The Swift client's side of the power frames (`Protocols/power.md` §4–§5) against a scripted hub: the feature is
/// asked for, each request gets its typed answer, refusals throw the hub's code or come back as a status, `WAKE`
/// surfaces as a typed event before the interrupt it announces, also when it arrives while a request waits.
@Suite struct GuestClientPowerTests {
    /// A scripted hub on the other end of a socketpair: the handshake with the `power` feature, then `script`.
    final class ScriptedHub: @unchecked Sendable {
        let fd: Int32
        var decoder = GuestFrameDecoder()
        var pending: [[UInt8]] = []

        init(fd: Int32) { self.fd = fd }

        func read() -> (GuestFrame, [UInt8])? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while pending.isEmpty {
                // SAFETY: read(2) writes at most `count` bytes into the buffer's own storage.
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                guard count > 0, let bodies = try? decoder.feedBodies(buffer[..<count]) else { return nil }
                pending += bodies.map(Array.init)
            }
            let body = pending.removeFirst()
            guard case .success(let frame) = GuestFrame.decode(body: body[...]) else { return nil }
            return (frame, body)
        }

        func write(_ frames: GuestFrame...) {
            var bytes: [UInt8] = []
            for frame in frames { bytes += frame.encode() }
            // SAFETY: write(2) reads the array's bytes within the closure's lifetime.
            _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        }

        func handshake(secret: [UInt8]) -> Bool {
            guard let (hello, helloBody) = read(), case .hello(let greeting) = hello.message,
                greeting.features.contains(GuestProtocol.powerFeature)
            else { return false }
            let challenge = GuestFrame(
                .challenge(GuestChallenge(version: 1, nonce: Array(repeating: 7, count: 32), features: ["power"])),
                requestId: hello.requestId)
            write(challenge)
            guard let (proof, _) = read(), case .proof(let mac) = proof.message,
                GuestAuth.verify(
                    proof: mac, secret: secret,
                    transcript: GuestProtocol.transcript(helloBody: helloBody, challengeBody: challenge.encodeBody()))
            else { return false }
            write(
                GuestFrame(
                    .welcome(
                        GuestWelcome(
                            sessionId: 1, resumeToken: Array(repeating: 1, count: 16), resumed: false,
                            maxFrameLength: 65536, heartbeatMillis: 0, lines: [], links: [], regions: [], peers: [])),
                    requestId: proof.requestId))
            return true
        }
    }

    static let secret = Array("s3cret".utf8)
    static let info = GuestPowerInfo(
        platform: .idle, partition: .idle, batteryCentiPercent: 4250, charging: false, drawMw: 1200, locks: 1)

    /// Runs `script` as the hub on its own thread and returns the attached client.
    static func attach(_ script: @escaping @Sendable (ScriptedHub) -> Void) throws -> GuestClient {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let hub = ScriptedHub(fd: fds[1])
        Thread {
            defer { Glibc.close(hub.fd) }
            guard hub.handshake(secret: secret) else { return }
            script(hub)
            _ = hub.read()
        }.start()
        return try GuestClient.attach(
            descriptor: fds[0], partition: "mgmt", secret: secret, features: [GuestProtocol.powerFeature])
    }

    @Test func declaresTakesLocksAndQueriesWithWakeArrivingMidRequest() throws {
        let client = try Self.attach { hub in
            guard let (state, _) = hub.read(), case .powerState(.idle) = state.message else { return }
            hub.write(GuestFrame(.ok, requestId: state.requestId))
            guard let (lock, _) = hub.read(), case .wakeLock(true, "audio") = lock.message else { return }
            hub.write(GuestFrame(.ok, requestId: lock.requestId))
            guard let (more, _) = hub.read(), case .wakeLock(true, "gps") = more.message else { return }
            hub.write(GuestFrame(.error(code: .limitReached, reason: "16 locks"), requestId: more.requestId))
            // The hub wakes the guest for an interrupt while its POWER_QUERY is outstanding: WAKE, IRQ, then the
            // answer, in one write.
            guard let (query, _) = hub.read(), case .powerQuery = query.message else { return }
            hub.write(
                GuestFrame(.wake(source: "irq", line: 5, from: .idle)),
                GuestFrame(.irq(line: 5, priority: 1, coalesced: 1)),
                GuestFrame(.powerInfo(Self.info), requestId: query.requestId))
            guard let (release, _) = hub.read(), case .wakeLock(false, "audio") = release.message else { return }
            hub.write(GuestFrame(.ok, requestId: release.requestId))
            hub.write(GuestFrame(.wake(source: "irq", line: 0xFFFF, from: .suspended)))
        }
        #expect(client.hubOffersPower)
        try client.declarePower(.idle)
        try client.wakeLock("audio")
        #expect(throws: GuestClientError.rejected(code: .limitReached, reason: "16 locks")) {
            try client.wakeLock("gps")
        }
        #expect(try client.powerQuery() == Self.info)
        #expect(try client.nextEvent(timeout: 1) == .wake(source: "irq", line: 5, from: .idle))
        #expect(try client.nextEvent(timeout: 1) == .irq(line: 5, priority: 1, coalesced: 1))
        try client.wakeLock("audio", held: false)
        #expect(try client.nextEvent(timeout: 1) == .wake(source: "irq", line: nil, from: .suspended))
        client.close()
    }

    @Test func partitionControlReturnsEveryStatusAndAWrongAnswerIsUnexpected() throws {
        let client = try Self.attach { hub in
            for status in GuestPartitionControlStatus.allCases {
                guard let (control, _) = hub.read(),
                    case .partitionControl(.suspend, "linux", "call") = control.message
                else { return }
                hub.write(
                    GuestFrame(
                        .partitionControlResult(partition: "linux", action: .suspend, status: status),
                        requestId: control.requestId))
            }
            guard let (resume, _) = hub.read(), case .partitionControl(.resume, "linux", "") = resume.message else {
                return
            }
            hub.write(GuestFrame(.ok, requestId: resume.requestId))
            guard let (query, _) = hub.read(), case .powerQuery = query.message else { return }
            hub.write(GuestFrame(.error(code: .unknownFrameType, reason: "power"), requestId: query.requestId))
        }
        for status in GuestPartitionControlStatus.allCases {
            #expect(try client.partitionControl(.suspend, partition: "linux", reason: "call") == status)
        }
        #expect(throws: GuestClientError.unexpected(.ok)) {
            try client.partitionControl(.resume, partition: "linux")
        }
        #expect(throws: GuestClientError.rejected(code: .unknownFrameType, reason: "power")) {
            try client.powerQuery()
        }
        client.close()
    }
}
