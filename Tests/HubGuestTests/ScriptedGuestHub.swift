import Foundation
import Glibc
import GuestWire
import HubGuest

/// A scripted hub on the other end of a socketpair, for the client suites: just enough of `Protocols/guest.md`
/// §5–§8 (framing, the HELLO → CHALLENGE → PROOF → WELCOME handshake, descriptor passing) to drive the client
/// from a test's own thread. One class for every suite, so a change to the handshake is made once.
final class ScriptedGuestHub: @unchecked Sendable {
    let fd: Int32
    private var decoder = GuestFrameDecoder()
    private var pending: [[UInt8]] = []

    init(fd: Int32) { self.fd = fd }

    /// The next frame and its body, or nil once the client has closed or sent something undecodable.
    func read() -> (frame: GuestFrame, body: [UInt8])? {
        while pending.isEmpty {
            guard let bodies = readBodies() else { return nil }
            pending += bodies
        }
        let body = pending.removeFirst()
        guard case .success(let frame) = GuestFrame.decode(body: body[...]) else { return nil }
        return (frame, body)
    }

    /// The frames that one read(2) of up to 4 KiB brings, when no frame read before is waiting; nil once the client
    /// has closed or sent something undecodable. On a `socketPair(keepingWrites: true)`: the frames of one write.
    func readOnce() -> [GuestFrame]? {
        guard pending.isEmpty, let bodies = readBodies() else { return nil }
        var frames: [GuestFrame] = []
        for body in bodies {
            guard case .success(let frame) = GuestFrame.decode(body: body[...]) else { return nil }
            frames.append(frame)
        }
        return frames
    }

    /// One read(2) of up to 4 KiB, fed to the decoder: the whole frame bodies it completed (perhaps none); nil at
    /// the end of the stream or on bytes that cannot be framed.
    private func readBodies() -> [[UInt8]]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        // SAFETY: read(2) writes at most `count` bytes into the buffer's own storage.
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0, let bodies = try? decoder.feedBodies(buffer[..<count]) else { return nil }
        return bodies.map(Array.init)
    }

    /// Writes `frames` in one write, so the client meets them in one read.
    func write(_ frames: GuestFrame...) {
        var bytes: [UInt8] = []
        for frame in frames { bytes += frame.encode() }
        // SAFETY: write(2) reads the array's bytes within the closure's lifetime.
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// Writes `frame` with `descriptor` passed beside it (one SCM_RIGHTS control message).
    func write(_ frame: GuestFrame, passing descriptor: Int32) {
        var bytes = frame.encode()
        // The control message is laid out by hand: CMSG_* are macros Swift does not import.
        let headerSize = MemoryLayout<cmsghdr>.size
        var control = [UInt8](repeating: 0, count: headerSize + 8)
        control.withUnsafeMutableBytes { raw in
            var header = cmsghdr()
            header.cmsg_len = headerSize + 4
            header.cmsg_level = SOL_SOCKET
            header.cmsg_type = Int32(SCM_RIGHTS)
            raw.storeBytes(of: header, as: cmsghdr.self)
            raw.storeBytes(of: descriptor, toByteOffset: headerSize, as: Int32.self)
        }
        let controlLength = control.count
        // SAFETY: sendmsg(2) reads the frame and the control message within these closures' lifetimes.
        bytes.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { controlRaw in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlRaw.baseAddress
                    message.msg_controllen = controlLength
                    _ = sendmsg(fd, &message, 0)
                }
            }
        }
    }

    /// HELLO → CHALLENGE (offering `features`) → PROOF → WELCOME; ERROR auth_failed when the proof is wrong.
    /// False, with nothing more sent, when the HELLO does not ask for every feature in `required`.
    func handshake(
        secret: [UInt8], welcome: GuestWelcome = ScriptedGuestHub.plainWelcome, features: [String] = ["irq"],
        required: [String] = []
    ) -> Bool {
        guard let (hello, helloBody) = read(), case .hello(let greeting) = hello.message,
            required.allSatisfy(greeting.features.contains)
        else { return false }
        let challenge = GuestFrame(
            .challenge(GuestChallenge(version: 1, nonce: (0..<32).map { UInt8($0 * 7 & 0xff) }, features: features)),
            requestId: hello.requestId)
        write(challenge)
        guard let (proof, _) = read(), case .proof(let mac) = proof.message else { return false }
        let transcript = GuestProtocol.transcript(helloBody: helloBody, challengeBody: challenge.encodeBody())
        guard GuestAuth.verify(proof: mac, secret: secret, transcript: transcript) else {
            write(GuestFrame(.error(code: .authFailed, reason: "bad proof"), requestId: proof.requestId))
            return false
        }
        write(GuestFrame(.welcome(welcome), requestId: proof.requestId))
        return true
    }

    /// A welcome with no lines, links, regions or peers.
    static let plainWelcome = GuestWelcome(
        sessionId: 1, resumeToken: Array(repeating: 1, count: 16), resumed: false, maxFrameLength: 65536,
        heartbeatMillis: 0, lines: [], links: [], regions: [], peers: [])

    /// Runs `script` as the hub on its own thread after a handshake offering and requiring `feature`, then reads
    /// until the client closes; returns the client attached as `mgmt` with `secret`.
    static func attachClient(
        feature: String, secret: [UInt8] = Array("s3cret".utf8),
        _ script: @escaping @Sendable (ScriptedGuestHub) -> Void
    ) throws -> GuestClient {
        let (clientFD, hubFD) = socketPair()
        let hub = ScriptedGuestHub(fd: hubFD)
        Thread {
            defer { Glibc.close(hub.fd) }
            guard hub.handshake(secret: secret, features: [feature], required: [feature]) else { return }
            script(hub)
            _ = hub.read()
        }.start()
        return try GuestClient.attach(descriptor: clientFD, partition: "mgmt", secret: secret, features: [feature])
    }
}

/// A connected pair of Unix stream sockets: (client end, hub end).
/// `keepingWrites`: a `SOCK_SEQPACKET` pair instead, on which each read returns exactly one write of the peer, so a
/// test can tell one write from several (the client's code does not depend on the difference).
func socketPair(keepingWrites: Bool = false) -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    let type = keepingWrites ? SOCK_SEQPACKET : SOCK_STREAM
    let result = socketpair(AF_UNIX, Int32(type.rawValue), 0, &fds)
    precondition(result == 0)
    return (fds[0], fds[1])
}
