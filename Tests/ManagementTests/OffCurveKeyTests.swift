import JSON
import ManagementWire
import PlatformConfig
import Testing
import VectorSupport

@testable import Management

/// Authority keys that decode to no point of the Ed25519 curve (`Protocols/management.md` §5, Keys) are refused
/// by `rotateKeys` and in `trust.json` as by the configuration's check (`PlatformConfigTests/WeakKeyTests` for
/// the configuration file), and points pass. The encodings are
/// `Protocols/vectors/management/keys.vectors`, written by `keys-generate.py` with plain Python integers
/// (RFC 8032's decoding, every point re-encoded from its x), independently of `Ed25519PointCheck`.
@Suite struct OffCurveKeyTests {
    static func vectors() throws -> [TestVector] { try VectorSet("management/keys.vectors").vectors }

    static func rotate(to keys: String) -> ManagementCommand {
        ManagementCommand(
            operation: "rotateKeys", target: "designer", authority: "designer", counter: 1,
            expiresAtMs: 1_700_000_060_000,
            parameters: ManagementCodec.sortedParameters([("keys", keys), ("threshold", "1")]))
    }

    static func trust(_ key: String) throws -> ManagementTrust? {
        let json: JSON = [
            "version": 1,
            "authorities": [
                "designer": [
                    "counter": "3", "keys": [.string(key)], "threshold": 1,
                    "configuredKeys": [.string(TestKeys.publicHex(0))],
                ]
            ],
        ]
        return ManagementTrust(json: try JSON.parse(json.serializedBytes()))
    }

    /// The words of the refusal each vector's `error` stands for.
    static func words(_ error: String) -> String {
        switch error {
        case "not-on-curve": "is not a point on the Ed25519 curve"
        case "small-order": "small-order"
        default: "canonical"
        }
    }

    @Test func everyVectorIsAcceptedOrRefusedAsItSays() throws {
        let vectors = try Self.vectors()
        #expect(vectors.filter { $0["error"] == "not-on-curve" }.count >= 5)
        #expect(vectors.filter { $0["expect"] == "point" }.count >= 5)
        for vector in vectors {
            let key = try vector.text("hex")
            let problem = ManagementConfig.publicKeyProblem(key)
            // Beside a good key that is not this one (keys must be distinct).
            let other = key == TestKeys.publicHex(1) ? TestKeys.publicHex(0) : TestKeys.publicHex(1)
            let rotation = ManagementVerifier.rotation(of: Self.rotate(to: "\(other),\(key)"))
            if vector["expect"] == "point" {
                #expect(problem == nil, "\(vector): \(problem ?? "")")
                #expect((try? rotation.get())?.keys.last == key, "\(vector)")
                #expect(try Self.trust(key) != nil, "\(vector)")
                continue
            }
            let words = Self.words(try vector.text("error"))
            #expect(problem?.contains(words) == true, "\(vector): \(problem ?? "accepted")")
            guard case .failure(let refusal) = rotation else {
                Issue.record("\(vector): rotateKeys accepted it")
                continue
            }
            #expect(refusal.code == "bad_parameters", "\(vector)")
            #expect(refusal.detail.hasPrefix("keys[1] ") && refusal.detail.contains(words), "\(refusal.detail)")
            #expect(try Self.trust(key) == nil, "\(vector): trust.json naming it was read")
        }
    }
}
