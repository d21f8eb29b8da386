/// The server side of one RFB connection as a pure state machine (RFC 6143 §7.1–§7.5).
///
/// Primer: the server sends its ProtocolVersion; the client answers with its own (3.3, 3.7 or 3.8
/// here; other 3.x minor numbers are treated as 3.3, as §7.1.1 allows); security is negotiated (§7.1.2:
/// a list in 3.7/3.8, a single type chosen by the server in 3.3), VNC authentication runs if configured
/// (§7.2.2), SecurityResult reports the outcome (with a reason in 3.8), then ClientInit (shared flag) and
/// ServerInit. After that every byte is a client message (`RFBClientMessageDecoder`).
///
/// `feed` returns what to send and what happened; it never touches a socket or a clock. The challenge
/// for VNC authentication comes from the caller (the session glue draws it from the system's CSPRNG).
package struct RFBServerSession: Sendable {
    /// How clients must prove themselves.
    package enum Security: Sendable, Equatable {
        /// Security type 1: none (loopback listeners).
        case none
        /// Security type 2: VNC authentication with this password (at most 8 bytes count).
        case vncPassword([UInt8])

        var type: UInt8 {
            switch self {
            case .none: 1
            case .vncPassword: 2
            }
        }
    }

    /// The minor protocol version in use once the client answered (3, 7 or 8).
    package private(set) var minorVersion = 0

    /// What one `feed` produced.
    package struct Output: Sendable, Equatable {
        /// Bytes to write to the client, in order.
        package var send: [UInt8] = []
        /// ClientInit arrived: ServerInit is in `send`; `shared` is the client's flag.
        package var initialised: Bool?
        /// Client messages decoded after the handshake.
        package var messages: [RFBClientMessage] = []
        /// When set, close the connection after writing `send`; the text says why (for logs).
        package var close: String?
    }

    private enum Phase: Sendable {
        case version
        case securityChoice
        case authResponse
        case clientInit
        case running
        case closed
    }

    package static let serverVersion = Array("RFB 003.008\n".utf8)

    private let security: Security
    private let challenge: [UInt8]
    private let width: Int
    private let height: Int
    private let name: String
    private var phase = Phase.version
    private var pending: [UInt8] = []
    private var decoder: RFBClientMessageDecoder

    /// `challenge` must be 16 unpredictable bytes when `security` is `.vncPassword`.
    package init(security: Security, challenge: [UInt8], width: Int, height: Int, name: String, limits: RFBLimits) {
        self.security = security
        self.challenge = challenge
        self.width = width
        self.height = height
        self.name = name
        self.decoder = RFBClientMessageDecoder(limits: limits)
    }

    /// The first bytes the server sends.
    package var greeting: [UInt8] { Self.serverVersion }

    package var isRunning: Bool {
        if case .running = phase { return true }
        return false
    }

    /// Consumes client bytes. After an output with `close` set, further input is ignored.
    package mutating func feed(_ bytes: ArraySlice<UInt8>) -> Output {
        var output = Output()
        if case .running = phase {
            decodeMessages(bytes, into: &output)
            return output
        }
        if case .closed = phase { return output }
        pending.append(contentsOf: bytes)
        while true {
            switch phase {
            case .version:
                guard pending.count >= 12 else { return output }
                let text = pending[0..<12]
                pending.removeFirst(12)
                guard let minor = Self.parseVersion(text) else {
                    let shown = String(decoding: text.map { $0 >= 0x20 && $0 < 0x7f ? $0 : 0x3f }, as: UTF8.self)
                    return fail(&output, .badVersion(shown), sendReason: false)
                }
                minorVersion = minor
                if minor >= 7 {
                    output.send += [1, security.type]
                    phase = .securityChoice
                } else {
                    output.send += u32(UInt32(security.type))
                    startSecurity(type: security.type, &output)
                }
            case .securityChoice:
                guard !pending.isEmpty else { return output }
                let chosen = pending.removeFirst()
                guard chosen == security.type else {
                    return fail(&output, .unsupportedSecurity(chosen), sendReason: true)
                }
                startSecurity(type: chosen, &output)
            case .authResponse:
                guard pending.count >= VNCAuthentication.challengeSize else { return output }
                let response = pending[0..<VNCAuthentication.challengeSize]
                pending.removeFirst(VNCAuthentication.challengeSize)
                guard case .vncPassword(let password) = security,
                    VNCAuthentication.verify(response: response, challenge: challenge, password: password)
                else {
                    return fail(&output, .authenticationFailed, sendReason: true)
                }
                output.send += u32(0)
                phase = .clientInit
            case .clientInit:
                guard !pending.isEmpty else { return output }
                output.initialised = pending.removeFirst() != 0
                output.send += serverInit()
                phase = .running
                let rest = pending
                pending = []
                if !rest.isEmpty { decodeMessages(rest[...], into: &output) }
                return output
            case .running, .closed:
                return output
            }
        }
    }

    private mutating func startSecurity(type: UInt8, _ output: inout Output) {
        if type == 2 {
            output.send += challenge
            phase = .authResponse
        } else {
            // §7.1.3: 3.8 sends SecurityResult even for None; 3.3 and 3.7 go straight to ClientInit.
            if minorVersion >= 8 { output.send += u32(0) }
            phase = .clientInit
        }
    }

    private mutating func decodeMessages(_ bytes: ArraySlice<UInt8>, into output: inout Output) {
        // Messages before a violation are delivered, then the viewer closes: the same whatever the reads.
        let result = decoder.feedUntilViolation(bytes)
        output.messages += result.messages
        if let violation = result.violation {
            phase = .closed
            output.close = violation.description
        }
    }

    /// A refusal: in 3.8 SecurityResult "failed" with a reason (§7.1.3); in older versions the bare result.
    private mutating func fail(_ output: inout Output, _ error: RFBError, sendReason: Bool) -> Output {
        phase = .closed
        if sendReason {
            output.send += u32(1)
            if minorVersion >= 8 {
                let reason = Array(error.description.utf8)
                output.send += u32(UInt32(reason.count)) + reason
            }
        }
        output.close = error.description
        return output
    }

    private func serverInit() -> [UInt8] {
        var out: [UInt8] = []
        out += [UInt8(width >> 8), UInt8(width & 0xff), UInt8(height >> 8), UInt8(height & 0xff)]
        RFBPixelFormat.native.encode(into: &out)
        let nameBytes = Array(name.utf8)
        out += u32(UInt32(nameBytes.count)) + nameBytes
        return out
    }

    /// `RFB 003.00x\n`; returns the minor version this server will speak (3, 7 or 8).
    static func parseVersion(_ text: ArraySlice<UInt8>) -> Int? {
        let bytes = Array(text)
        guard bytes.count == 12, bytes[0..<4] == Array("RFB ".utf8)[...], bytes[7] == 0x2e, bytes[11] == 0x0a else {
            return nil
        }
        let digits = bytes[4..<7] + bytes[8..<11]
        guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let major = Int(bytes[4] - 0x30) * 100 + Int(bytes[5] - 0x30) * 10 + Int(bytes[6] - 0x30)
        let minor = Int(bytes[8] - 0x30) * 100 + Int(bytes[9] - 0x30) * 10 + Int(bytes[10] - 0x30)
        guard major == 3 else { return major > 3 ? 8 : nil }
        if minor >= 8 { return 8 }
        if minor == 7 { return 7 }
        return 3
    }

    /// Refusal for a connection the server will not serve at all (e.g. too many viewers): in 3.8 the
    /// security list is empty and a reason follows (§7.1.2). Send after `greeting` once the client's
    /// version is known; callers that do not wait may send it right after the greeting (clients read it
    /// after sending their version).
    package static func refusal(reason: String) -> [UInt8] {
        let bytes = Array(reason.utf8)
        return [0] + u32(UInt32(bytes.count)) + bytes
    }
}

@inline(__always)
func u32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
}
