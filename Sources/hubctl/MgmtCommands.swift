import ArgumentParser
import ControlWire
import Crypto
import Glibc
import JSON
import Management
import ManagementWire

/// `hubctl mgmt keygen|sign|submit|status|audit`: signed management commands (`Protocols/management.md`).
struct Mgmt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create keys, sign and submit management commands, show the trusted state and the audit log.",
        subcommands: [MgmtKeygen.self, MgmtSign.self, MgmtSubmit.self, MgmtStatus.self, MgmtAudit.self])
}

/// `hubctl mgmt keygen --out FILE`: a new Ed25519 key; the seed (hex) goes to FILE (mode 0600), the public key
/// (the form `management.authorities[].keys` takes) to stdout.
struct MgmtKeygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Create an Ed25519 key pair; print the public key.")
    @Option(help: "File for the private seed (64 hex digits), created with mode 0600; must not exist.") var out: String

    func run() throws {
        let key = Curve25519.Signing.PrivateKey()
        try writeNewFile(out, HexKey.text(Array(key.rawRepresentation)) + "\n")
        output(HexKey.text(Array(key.publicKey.rawRepresentation)))
    }
}

/// `hubctl mgmt sign`: builds the envelope and prints it in base64, ready for `mgmt submit`.
struct MgmtSign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign", abstract: "Sign a management command; print the envelope in base64.")
    @Option(name: .customLong("key"), help: "A private seed file (repeat for k of n).") var keys: [String]
    @Option(help: "The signing authority's name.") var authority: String
    @Option(help: "The authority's next counter (above every earlier one).") var counter: UInt64
    @Option(help: "Seconds until the command expires.") var expiresIn: UInt64 = 600
    @Option(help: "SHA-256 of the software the command carries, 64 hex digits.") var sha256: String?
    @Option(name: .customLong("param"), help: "A parameter NAME=VALUE (repeatable).") var params: [String] = []
    @Argument(help: "The operation (upgrade, rollback, rotateKeys...).") var operation: String
    @Argument(help: "The target partition (rotateKeys: the authority).") var target: String

    func run() throws {
        var parameters: [(key: String, value: String)] = []
        for param in params {
            guard let equals = param.firstIndex(of: "=") else { throw ValidationError("--param \(param): NAME=VALUE") }
            parameters.append((String(param[..<equals]), String(param[param.index(after: equals)...])))
        }
        var digest: [UInt8]? = nil
        if let sha256 {
            guard let bytes = HexKey.bytes(sha256.lowercased()) else {
                throw ValidationError("--sha256: 64 hex digits")
            }
            digest = bytes
        }
        let expires = UInt64(max(0, wallClockMs())) + expiresIn * 1000
        let command = ManagementCommand(
            operation: operation, target: target, authority: authority, counter: counter, expiresAtMs: expires,
            softwareSHA256: digest, parameters: ManagementCodec.sortedParameters(parameters))
        let body = ManagementCodec.encodeBody(command)
        let input = ManagementCodec.signingInput(body)
        var signatures: [ManagementSignature] = []
        for path in keys {
            let key = try readKey(path)
            signatures.append(
                ManagementSignature(
                    keyID: ManagementVerifier.keyID(Array(key.publicKey.rawRepresentation)),
                    signature: Array(try key.signature(for: input))))
        }
        output(Base64.encode(ManagementCodec.encodeEnvelope(ManagementEnvelope(body: command, signatures: signatures))))
    }
}

/// `hubctl mgmt submit [ENVELOPE]`: submits a base64 envelope (argument, or stdin) through `mgmt.submit`.
struct MgmtSubmit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Submit a signed envelope (base64; from stdin when omitted).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The envelope in base64, as `mgmt sign` prints it.") var envelope: String?

    func run() throws {
        let text = (envelope ?? readStandardInput()).filter { !$0.isWhitespace }
        try global.call("mgmt.submit", ["envelope": .string(text)]) { result in
            "accepted " + (result["output"]?.serialized() ?? "{}")
        }
    }
}

struct MgmtStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Authorities with their counters and keys, and the newest audit entries.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.call("mgmt.status") { result in
            var lines = (result["authorities"]?.arrayValue ?? []).map { authority in
                "\(cell(authority["name"])): counter \(cell(authority["counter"])), "
                    + "\(authority["threshold"]?.int64Value ?? 0) of \(authority["keys"]?.arrayValue?.count ?? 0) keys"
            }
            if lines.isEmpty { lines = ["no authorities"] }
            if result["persistent"] == false { lines.append("(no hub.stateDirectory: nothing persists)") }
            return (lines + (result["auditTail"]?.arrayValue ?? []).map(auditLine)).joined(separator: "\n")
        }
    }
}

struct MgmtAudit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "A page of the audit log.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "First sequence number.") var from: UInt64 = 0
    @Option(help: "At most this many entries (1...1000).") var limit: Int = 100

    func run() throws {
        try global.call("mgmt.audit", ["from": .uint(from), "limit": .int(Int64(limit))]) { result in
            (result["entries"]?.arrayValue ?? []).map(auditLine).joined(separator: "\n")
        }
    }
}

private func auditLine(_ entry: JSON) -> String {
    "#\(cell(entry["seq"])) \(cell(entry["source"])) \(cell(entry["authority"])) \(cell(entry["operation"])) "
        + "\(cell(entry["target"])) counter \(cell(entry["counter"])): \(cell(entry["result"]))"
        + ((entry["detail"]?.stringValue).map { $0.isEmpty ? "" : " (\($0))" } ?? "")
}

private func wallClockMs() -> Int64 {
    var now = timespec()
    // SAFETY: clock_gettime writes one timespec into the local for the call.
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

private func readKey(_ path: String) throws -> Curve25519.Signing.PrivateKey {
    let text = try readSmallFile(path).filter { !$0.isWhitespace }
    guard let seed = HexKey.bytes(text.lowercased()) else {
        throw ValidationError("\(path): not a key seed (64 hex digits, as `mgmt keygen` writes)")
    }
    return try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
}

private func readSmallFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ValidationError("\(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    // SAFETY: read(2) writes at most buffer.count bytes into the array's storage, alive for the call.
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count >= 0 else { throw ValidationError("\(path): \(String(cString: strerror(errno)))") }
    return String(decoding: buffer[..<count], as: UTF8.self)
}

private func readStandardInput() -> String {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while bytes.count < 1 << 20 {
        // SAFETY: read(2) writes at most buffer.count bytes into the array's storage, alive for the call.
        let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

private func writeNewFile(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw ValidationError("\(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    // SAFETY: write(2) reads at most bytes.count bytes from the array's storage, alive for the call.
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw ValidationError("\(path): short write") }
}
