import JSON
import ManagementWire
import PlatformConfig
import Testing

@testable import Management

/// Weak Ed25519 keys (`Protocols/management.md` §5, Keys) never become an authority's keys by `rotateKeys` or
/// through `trust.json`, and a key that did would verify nothing: with the identity as key, R the identity
/// and S zero verify every message under RFC 8032's equation.
@Suite struct WeakKeyVerifierTests {
    static let identity = "01" + String(repeating: "00", count: 31)
    /// The spec's list of small-order encodings, the identity with its sign bit set, and a non-canonical
    /// encoding of a point that is not of small order.
    static let weakKeys = [
        String(repeating: "00", count: 32), identity,
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ec" + String(repeating: "ff", count: 30) + "7f", "ed" + String(repeating: "ff", count: 30) + "7f",
        "ee" + String(repeating: "ff", count: 30) + "7f", "01" + String(repeating: "00", count: 30) + "80",
        String(repeating: "ff", count: 32),
    ]
    static let nowMs: UInt64 = 1_700_000_000_000

    static func rotate(to keys: String, counter: UInt64 = 1) -> ManagementCommand {
        ManagementCommand(
            operation: "rotateKeys", target: "designer", authority: "designer", counter: counter,
            expiresAtMs: nowMs + 60_000,
            parameters: ManagementCodec.sortedParameters([("keys", keys), ("threshold", "1")]))
    }

    @Test(arguments: weakKeys)
    func rotateKeysRefusesAWeakKeyWithBadParameters(key: String) {
        let good = TestKeys.publicHex(1)
        for keys in [key, "\(good),\(key)"] {
            guard case .failure(let refusal) = ManagementVerifier.rotation(of: Self.rotate(to: keys)) else {
                Issue.record("rotation to \(keys) accepted")
                continue
            }
            #expect(refusal.code == "bad_parameters")
            #expect(refusal.detail.contains("keys[\(keys == key ? 0 : 1)]"), "\(refusal.detail)")
        }
        #expect((try? ManagementVerifier.rotation(of: Self.rotate(to: good)).get())?.keys == [good])
    }

    @Test(arguments: weakKeys)
    func aTrustFileNamingAWeakKeyCannotBeRead(key: String) throws {
        func trust(_ keys: [String]) throws -> ManagementTrust? {
            let json: JSON = [
                "version": 1,
                "authorities": [
                    "designer": [
                        "counter": "3", "keys": .array(keys.map { .string($0) }), "threshold": 1,
                        "configuredKeys": [.string(TestKeys.publicHex(0))],
                    ]
                ],
            ]
            return ManagementTrust(json: try JSON.parse(json.serializedBytes()))
        }
        #expect(try trust([TestKeys.publicHex(1)]) != nil)
        #expect(try trust([key]) == nil)
    }

    @Test func aForgedSignatureUnderTheIdentityKeyDoesNotVerify() {
        // A configuration the validator would refuse, built by hand: the verifier still trusts no weak key.
        let config = ManagementConfig(authorities: [
            ManagementAuthorityConfig(
                name: "designer", keys: [Self.identity],
                grants: [ManagementGrant(operations: ["upgrade"], partitions: ["linux"])])
        ])
        let verifier = ManagementVerifier(config: config, persisted: nil)
        let forged = ManagementCommand(
            operation: "upgrade", target: "linux", authority: "designer", counter: 1, expiresAtMs: Self.nowMs + 60_000)
        let keyID = ManagementVerifier.keyID(HexKey.bytes(Self.identity) ?? [])
        let envelope = ManagementEnvelope(
            body: forged,
            signatures: [ManagementSignature(keyID: keyID, signature: [1] + [UInt8](repeating: 0, count: 63))])
        guard case .failure(let refusal) = verifier.verify(envelope, nowMs: Self.nowMs, source: "control") else {
            Issue.record("a signature nobody made verified under the identity key")
            return
        }
        #expect(refusal.code == "bad_signature")
    }
}
