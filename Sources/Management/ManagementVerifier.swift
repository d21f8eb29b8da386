import Crypto
import ManagementWire
import PlatformConfig

/// Checks a command in the order of `Protocols/management.md` §4 and keeps the trusted state. Pure: the time
/// is passed in and persistence is the caller's (`ManagementServer` writes `trust` after each acceptance,
/// before the command is executed).
package struct ManagementVerifier: Sendable {
    package private(set) var trust: ManagementTrust
    /// Each authority's current keys by key id, checked and parsed once: when the state is made and when a
    /// `rotateKeys` changes them. A submission then costs its signature checks only. (Checking every key's point
    /// again for each submission was most of a forged envelope's cost, so a flood of them held the loop.)
    private var verifyingKeys: [String: [[UInt8]: Curve25519.Signing.PublicKey]] = [:]
    private let authorities: [String: ManagementAuthorityConfig]
    private let maxLifetimeMs: UInt64

    package init(config: ManagementConfig, persisted: ManagementTrust?) {
        trust = ManagementTrust(config: config, persisted: persisted)
        maxLifetimeMs = UInt64(max(0, config.maxCommandLifetimeMs))
        var byName: [String: ManagementAuthorityConfig] = [:]
        for authority in config.authorities { byName[authority.name] = authority }
        authorities = byName
        for (name, state) in trust.authorities { verifyingKeys[name] = Self.verifyingKeys(state.keys) }
    }

    /// The key id of a public key (§2.4): the first 8 bytes of its SHA-256.
    package static func keyID(_ publicKey: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: publicKey).prefix(8)) }

    /// Verifies `envelope` at `nowMs` (Unix milliseconds). Changes nothing: `accept` does.
    package func verify(_ envelope: ManagementEnvelope, nowMs: UInt64, source: String) -> Result<
        VerifiedCommand, ManagementRefusal
    > {
        let command = envelope.body
        guard let authority = authorities[command.authority], let state = trust.authorities[command.authority] else {
            return .failure(ManagementRefusal("unknown_authority", "no authority '\(command.authority)'"))
        }
        if let refusal = Self.checkSignatures(
            envelope, keys: verifyingKeys[command.authority] ?? [:], threshold: state.threshold)
        {
            return .failure(refusal)
        }
        guard nowMs < command.expiresAtMs else {
            return .failure(ManagementRefusal("expired", "expired at \(command.expiresAtMs), now \(nowMs)"))
        }
        // Freeze: a command valid for years could be withheld and played much later (§4 step 5).
        guard command.expiresAtMs - nowMs <= maxLifetimeMs else {
            return .failure(
                ManagementRefusal(
                    "expiry_too_far",
                    "expires \(command.expiresAtMs - nowMs) ms from now, more than management.maxCommandLifetimeMs \(maxLifetimeMs)"
                ))
        }
        guard command.counter > state.counter else {
            return .failure(
                ManagementRefusal("replayed", "counter \(command.counter) is not above \(state.counter)"))
        }
        if let refusal = Self.checkGrant(command, authority) { return .failure(refusal) }
        return .success(VerifiedCommand(command: command, mayDowngrade: authority.mayDowngrade, source: source))
    }

    /// `keys` (hex) that can verify, by key id.
    static func verifyingKeys(_ keys: [String]) -> [[UInt8]: Curve25519.Signing.PublicKey] {
        var byID: [[UInt8]: Curve25519.Signing.PublicKey] = [:]
        for hex in keys {
            // A weak key never gets here (configuration, rotation and trust file refuse it); were one to, it
            // verifies nothing rather than signatures anyone can make.
            guard ManagementConfig.publicKeyProblem(hex) == nil, let raw = HexKey.bytes(hex),
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
            else { continue }
            byID[keyID(raw)] = key
        }
        return byID
    }

    /// Every signature must be by a current key (`byID`, from `verifyingKeys`) and valid; then at least
    /// `threshold` distinct keys must have signed (the codec already refused repeated key ids).
    static func checkSignatures(
        _ envelope: ManagementEnvelope, keys byID: [[UInt8]: Curve25519.Signing.PublicKey], threshold: Int
    ) -> ManagementRefusal? {
        let input = ManagementCodec.signingInput(envelope.bodyBytes)
        for (index, signature) in envelope.signatures.enumerated() {
            guard let key = byID[signature.keyID] else {
                return ManagementRefusal("bad_signature", "signature \(index): not a current key of the authority")
            }
            guard key.isValidSignature(signature.signature, for: input) else {
                return ManagementRefusal("bad_signature", "signature \(index) does not verify")
            }
        }
        guard envelope.signatures.count >= threshold else {
            return ManagementRefusal(
                "threshold_not_met", "\(envelope.signatures.count) of the \(threshold) signatures required")
        }
        return nil
    }

    static func checkGrant(_ command: ManagementCommand, _ authority: ManagementAuthorityConfig) -> ManagementRefusal? {
        guard ManagementConfig.operations.contains(command.operation) else {
            return ManagementRefusal("unknown_operation", "'\(command.operation)' is not a management operation")
        }
        if command.operation == "rotateKeys" {
            guard command.target == command.authority else {
                return ManagementRefusal("not_authorised", "rotateKeys may only target the signing authority")
            }
            return nil
        }
        guard authority.allows(command.operation, on: command.target) else {
            return ManagementRefusal(
                "not_authorised", "'\(authority.name)' may not \(command.operation) '\(command.target)'")
        }
        return nil
    }

    /// Records an accepted command: its counter, and for `rotateKeys` the new key set (parameters checked by
    /// `rotation(of:)` first). Returns the state to persist before the command is executed.
    package mutating func accept(_ verified: VerifiedCommand, rotation: (keys: [String], threshold: Int)? = nil) {
        let name = verified.command.authority
        trust.authorities[name]?.counter = verified.command.counter
        if let rotation {
            trust.authorities[name]?.keys = rotation.keys
            trust.authorities[name]?.threshold = rotation.threshold
            verifyingKeys[name] = Self.verifyingKeys(rotation.keys)
        }
    }

    /// The new key set a `rotateKeys` command names (§3): `keys`, comma-separated public keys in hex, distinct,
    /// 1...16 of them, none weak nor off the curve (`ManagementConfig.publicKeyProblem`); `threshold`, decimal 1...their number
    /// (at most 2 digits); nothing else, no software SHA-256 either.
    package static func rotation(of command: ManagementCommand) -> Result<
        (keys: [String], threshold: Int), ManagementRefusal
    > {
        guard let keysText = command.parameter("keys"), let thresholdText = command.parameter("threshold"),
            command.parameters.count == 2, command.softwareSHA256 == nil
        else {
            return .failure(
                ManagementRefusal(
                    "bad_parameters", "rotateKeys takes exactly keys and threshold, and no software SHA-256"))
        }
        let keys = keysText.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard (1...ManagementConfig.maxKeys).contains(keys.count), keys.allSatisfy(ManagementConfig.isPublicKeyHex),
            Set(keys).count == keys.count
        else {
            return .failure(
                ManagementRefusal("bad_parameters", "keys must be 1...16 distinct 64-digit lowercase hex keys"))
        }
        for (index, key) in keys.enumerated() {
            if let problem = ManagementConfig.publicKeyProblem(key) {
                return .failure(ManagementRefusal("bad_parameters", "keys[\(index)] \(problem)"))
            }
        }
        guard let threshold = DecimalParameter.value(thresholdText, maxDigits: 2),
            (1...UInt64(keys.count)).contains(threshold)
        else { return .failure(ManagementRefusal("bad_parameters", "threshold must be decimal 1...\(keys.count)")) }
        return .success((keys, Int(threshold)))
    }
}

/// Lowercase hex of a 32-byte key, both ways.
package enum HexKey {
    package static func bytes(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var out: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    package static func text(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x61...0x66: digit - 0x61 + 10
        default: nil
        }
    }
}
