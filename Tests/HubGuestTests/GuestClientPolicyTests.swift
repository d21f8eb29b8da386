import Foundation
import Glibc
import GuestWire
import HubGuest
import Testing

/// The Swift client's side of policy profiles (`Protocols/guest.md` §9.6–§9.7) against a scripted hub: the
/// feature is asked for, `POLICY_ACTIVATE` is answered `OK` with `POLICY_CHANGED` arriving first, a refusal throws
/// the hub's code, and `POLICY_CHANGED` surfaces as a typed event.
@Suite struct GuestClientPolicyTests {
    @Test func activatesAndSeesPolicyChanged() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let (clientFD, hubFD) = (fds[0], fds[1])
        let secret = Array("s3cret".utf8)
        let hubThread = Thread {
            defer { Glibc.close(hubFD) }
            var decoder = GuestFrameDecoder()
            var pending: [[UInt8]] = []
            func read() -> (GuestFrame, [UInt8])? {
                var buffer = [UInt8](repeating: 0, count: 4096)
                while pending.isEmpty {
                    // SAFETY: read(2) writes at most `count` bytes into the buffer's own storage.
                    let count = buffer.withUnsafeMutableBytes { Glibc.read(hubFD, $0.baseAddress, $0.count) }
                    guard count > 0, let bodies = try? decoder.feedBodies(buffer[..<count]) else { return nil }
                    pending += bodies.map(Array.init)
                }
                let body = pending.removeFirst()
                guard case .success(let frame) = GuestFrame.decode(body: body[...]) else { return nil }
                return (frame, body)
            }
            func write(_ frame: GuestFrame) {
                let bytes = frame.encode()
                // SAFETY: write(2) reads the array's bytes within the closure's lifetime.
                _ = bytes.withUnsafeBytes { Glibc.write(hubFD, $0.baseAddress, $0.count) }
            }
            guard let (hello, helloBody) = read(), case .hello(let greeting) = hello.message,
                greeting.features.contains(GuestProtocol.policyProfilesFeature)
            else { return }
            let challenge = GuestFrame(
                .challenge(
                    GuestChallenge(version: 1, nonce: Array(repeating: 7, count: 32), features: ["policy-profiles"])),
                requestId: hello.requestId)
            write(challenge)
            guard let (proof, _) = read(), case .proof(let mac) = proof.message,
                GuestAuth.verify(
                    proof: mac, secret: secret,
                    transcript: GuestProtocol.transcript(helloBody: helloBody, challengeBody: challenge.encodeBody()))
            else { return }
            write(
                GuestFrame(
                    .welcome(
                        GuestWelcome(
                            sessionId: 1, resumeToken: Array(repeating: 1, count: 16), resumed: false,
                            maxFrameLength: 65536, heartbeatMillis: 0, lines: [], links: [], regions: [], peers: [])),
                    requestId: proof.requestId))
            guard let (first, _) = read(), case .policyActivate("enterprise") = first.message else { return }
            write(GuestFrame(.policyChanged(generation: 4, profile: "enterprise", summary: "lost lan0")))
            write(GuestFrame(.ok, requestId: first.requestId))
            guard let (second, _) = read(), case .policyActivate("") = second.message else { return }
            write(GuestFrame(.error(code: .notPermitted, reason: "no"), requestId: second.requestId))
            _ = read()
        }
        hubThread.start()
        let client = try GuestClient.attach(
            descriptor: clientFD, partition: "mgmt", secret: secret, features: [GuestProtocol.policyProfilesFeature])
        #expect(client.hubOffersPolicyProfiles)
        try client.activatePolicy("enterprise")
        #expect(
            try client.nextEvent(timeout: 1)
                == .policyChanged(generation: 4, profile: "enterprise", summary: "lost lan0"))
        #expect(throws: GuestClientError.self) { try client.activatePolicy(nil) }
        client.close()
    }
}
