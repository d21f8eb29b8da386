import Crypto
import Foundation
import JSON
import ManagementWire
import PlatformConfig
import Testing
import VectorSupport

@testable import Management

/// The fixed test keys of `Protocols/vectors/management/envelopes.vectors`.
enum TestKeys {
    static let seeds: [[UInt8]] = [Array(0..<32), Array(32..<64), Array(64..<96)]
    static func key(_ index: Int) -> Curve25519.Signing.PrivateKey {
        try! Curve25519.Signing.PrivateKey(rawRepresentation: seeds[index])
    }
    static func publicHex(_ index: Int) -> String { HexKey.text(Array(key(index).publicKey.rawRepresentation)) }

    /// The authorities of `Protocols/management.md` §6, which the vectors' `verify` field assumes.
    static var config: ManagementConfig {
        var config = ManagementConfig(authorities: [
            ManagementAuthorityConfig(
                name: "designer", keys: [publicHex(0)],
                grants: [ManagementGrant(operations: ["upgrade", "rollback"], partitions: ["linux", "secure"])]),
            ManagementAuthorityConfig(
                name: "operator", keys: [publicHex(1), publicHex(2)], threshold: 2,
                grants: [ManagementGrant(operations: ["upgrade"], partitions: ["rtos"])], mayDowngrade: true),
        ])
        // §6: the vectors expire in 2027; they are verified with the longest lifetime allowed.
        config.maxCommandLifetimeMs = ManagementConfig.maxCommandLifetimeMsRange.upperBound
        return config
    }

    static func sign(_ command: ManagementCommand, with signers: [Int]) -> ManagementEnvelope {
        let bytes = ManagementCodec.encodeBody(command)
        let input = ManagementCodec.signingInput(bytes)
        return ManagementEnvelope(
            body: command,
            signatures: signers.map { index in
                let publicKey = Array(key(index).publicKey.rawRepresentation)
                return ManagementSignature(
                    keyID: ManagementVerifier.keyID(publicKey), signature: Array(try! key(index).signature(for: input)))
            })
    }
}

private let now: UInt64 = 1_700_000_000_000

private func command(
    _ operation: String = "upgrade", target: String = "linux", authority: String = "designer", counter: UInt64 = 1,
    expires: UInt64 = now + 60_000, parameters: [(key: String, value: String)] = []
) -> ManagementCommand {
    ManagementCommand(
        operation: operation, target: target, authority: authority, counter: counter, expiresAtMs: expires,
        parameters: ManagementCodec.sortedParameters(parameters))
}

private func code(_ result: Result<VerifiedCommand, ManagementRefusal>) -> String {
    switch result {
    case .success: "accepted"
    case .failure(let refusal): refusal.code
    }
}

@Suite struct ManagementVerifierTests {
    /// Each vector's `verify` outcome, from fresh state at the vectors' time.
    @Test func vectorsVerifyAsTheSpecSays() throws {
        let set = try VectorSet("management/envelopes.vectors")
        let verifier = ManagementVerifier(config: TestKeys.config, persisted: nil)
        let withOutcome = set.vectors.filter { $0["verify"] != nil }
        #expect(withOutcome.count >= 8)
        for vector in withOutcome {
            let envelope = try ManagementCodec.decodeEnvelope(try vector.bytes()[...])
            #expect(
                code(verifier.verify(envelope, nowMs: now, source: "control")) == vector["verify"], "\(vector.name)")
        }
    }

    /// `management.maxCommandLifetimeMs` (§4 step 5): each `lifetime.vectors` outcome at its time and bound.
    @Test func lifetimeVectorsVerifyAsTheSpecSays() throws {
        let set = try VectorSet("management/lifetime.vectors")
        #expect(set.vectors.count >= 4)
        for vector in set.vectors {
            var config = TestKeys.config
            config.maxCommandLifetimeMs = try #require(Int(try vector.text("maxCommandLifetimeMs")))
            let verifier = ManagementVerifier(config: config, persisted: nil)
            let time = try #require(UInt64(try vector.text("now")))
            let envelope = try ManagementCodec.decodeEnvelope(try vector.bytes()[...])
            #expect(
                code(verifier.verify(envelope, nowMs: time, source: "control")) == vector["verify"], "\(vector.name)")
        }
    }

    /// The default bound (30 days) refuses a command valid for a year and accepts one valid for a day.
    @Test func defaultLifetimeRefusesFarExpiry() {
        var config = TestKeys.config
        config.maxCommandLifetimeMs = ManagementConfig.defaultMaxCommandLifetimeMs
        let verifier = ManagementVerifier(config: config, persisted: nil)
        let year = TestKeys.sign(command(expires: now + 365 * 86_400_000), with: [0])
        #expect(code(verifier.verify(year, nowMs: now, source: "control")) == "expiry_too_far")
        let day = TestKeys.sign(command(expires: now + 86_400_000), with: [0])
        #expect(code(verifier.verify(day, nowMs: now, source: "control")) == "accepted")
    }

    /// The fixed key's public half is the one the vectors print, so Swift and Python sign alike.
    @Test func fixedKeyMatchesTheVectorsHeader() {
        #expect(TestKeys.publicHex(0) == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
    }

    @Test func everyRefusalCode() {
        let verifier = ManagementVerifier(config: TestKeys.config, persisted: nil)
        func check(_ envelope: ManagementEnvelope, _ expected: String, at time: UInt64 = now) {
            #expect(code(verifier.verify(envelope, nowMs: time, source: "control")) == expected)
        }
        check(TestKeys.sign(command(), with: [0]), "accepted")
        check(TestKeys.sign(command(authority: "store"), with: [0]), "unknown_authority")
        check(TestKeys.sign(command(), with: [1]), "bad_signature")
        // The counter's last byte (envelope offset 39) changed after signing: still decodes, no longer verifies.
        var bytes = ManagementCodec.encodeEnvelope(TestKeys.sign(command(), with: [0]))
        bytes[39] ^= 0x02
        check(try! ManagementCodec.decodeEnvelope(bytes[...]), "bad_signature")
        check(TestKeys.sign(command(target: "rtos", authority: "operator"), with: [1]), "threshold_not_met")
        check(TestKeys.sign(command(target: "rtos", authority: "operator"), with: [1, 2]), "accepted")
        check(TestKeys.sign(command(target: "rtos", authority: "operator"), with: [2, 1]), "accepted")
        check(TestKeys.sign(command(expires: now), with: [0]), "expired")
        check(TestKeys.sign(command(expires: now + 1), with: [0]), "accepted")
        check(TestKeys.sign(command(counter: 0), with: [0]), "replayed")
        check(TestKeys.sign(command(target: "rtos"), with: [0]), "not_authorised")
        check(TestKeys.sign(command("install"), with: [0]), "not_authorised")
        check(TestKeys.sign(command("reboot"), with: [0]), "unknown_operation")
        check(TestKeys.sign(command("rotateKeys", target: "operator"), with: [0]), "not_authorised")
    }

    /// A signature's bytes are checked even when its key id is right: the refusal is `bad_signature`, and
    /// a valid signature from a foreign key does not count towards a threshold.
    @Test func foreignKeyNeverCountsTowardsThreshold() {
        let verifier = ManagementVerifier(config: TestKeys.config, persisted: nil)
        let envelope = TestKeys.sign(command(target: "rtos", authority: "operator"), with: [1, 0])
        #expect(code(verifier.verify(envelope, nowMs: now, source: "control")) == "bad_signature")
    }

    @Test func acceptedCounterRefusesReplayAndOlder() {
        var verifier = ManagementVerifier(config: TestKeys.config, persisted: nil)
        let first = TestKeys.sign(command(counter: 5), with: [0])
        guard case .success(let verified) = verifier.verify(first, nowMs: now, source: "control") else {
            Issue.record("refused")
            return
        }
        verifier.accept(verified)
        #expect(code(verifier.verify(first, nowMs: now, source: "control")) == "replayed")
        #expect(
            code(verifier.verify(TestKeys.sign(command(counter: 4), with: [0]), nowMs: now, source: "c")) == "replayed")
        #expect(
            code(verifier.verify(TestKeys.sign(command(counter: 6), with: [0]), nowMs: now, source: "c")) == "accepted")
    }

    /// The trusted state written after an acceptance, read back at the next start, still refuses the replay.
    @Test func replayAfterRestartIsRefused() throws {
        var verifier = ManagementVerifier(config: TestKeys.config, persisted: nil)
        let envelope = TestKeys.sign(command(counter: 3), with: [0])
        guard case .success(let verified) = verifier.verify(envelope, nowMs: now, source: "control") else {
            Issue.record("refused")
            return
        }
        verifier.accept(verified)
        let onDisk = verifier.trust.json.serializedBytes()
        let restored = try #require(ManagementTrust(json: try JSON.parse(onDisk)))
        let restarted = ManagementVerifier(config: TestKeys.config, persisted: restored)
        #expect(code(restarted.verify(envelope, nowMs: now, source: "control")) == "replayed")
        let fresh = ManagementVerifier(config: TestKeys.config, persisted: nil)
        #expect(code(fresh.verify(envelope, nowMs: now, source: "control")) == "accepted")
    }

    /// Rotation: signed by the old keys at the old threshold; afterwards only the new keys count, also after a
    /// restart; a configuration naming other keys than it did at rotation time wins.
    @Test func keyRotation() throws {
        var verifier = ManagementVerifier(config: TestKeys.config, persisted: nil)
        let rotate = command(
            "rotateKeys", target: "designer", counter: 1,
            parameters: [("keys", "\(TestKeys.publicHex(1)),\(TestKeys.publicHex(2))"), ("threshold", "2")])
        #expect(code(verifier.verify(TestKeys.sign(rotate, with: [1, 2]), nowMs: now, source: "c")) == "bad_signature")
        guard case .success(let verified) = verifier.verify(TestKeys.sign(rotate, with: [0]), nowMs: now, source: "c"),
            case .success(let newKeys) = ManagementVerifier.rotation(of: verified.command)
        else {
            Issue.record("rotation refused")
            return
        }
        verifier.accept(verified, rotation: newKeys)
        #expect(
            code(verifier.verify(TestKeys.sign(command(counter: 2), with: [0]), nowMs: now, source: "c"))
                == "bad_signature")
        #expect(
            code(verifier.verify(TestKeys.sign(command(counter: 2), with: [1]), nowMs: now, source: "c"))
                == "threshold_not_met")
        #expect(
            code(verifier.verify(TestKeys.sign(command(counter: 2), with: [1, 2]), nowMs: now, source: "c"))
                == "accepted")
        let restored = try #require(ManagementTrust(json: try JSON.parse(verifier.trust.json.serializedBytes())))
        let restarted = ManagementVerifier(config: TestKeys.config, persisted: restored)
        #expect(
            code(restarted.verify(TestKeys.sign(command(counter: 2), with: [0]), nowMs: now, source: "c"))
                == "bad_signature")
        var rekeyed = TestKeys.config
        rekeyed.authorities[0].keys = [TestKeys.publicHex(2)]
        let byHand = ManagementVerifier(config: rekeyed, persisted: restored)
        #expect(
            code(byHand.verify(TestKeys.sign(command(counter: 2), with: [2]), nowMs: now, source: "c")) == "accepted")
        #expect(
            code(byHand.verify(TestKeys.sign(command(counter: 1), with: [2]), nowMs: now, source: "c")) == "replayed")
    }

    @Test func rotationParametersAreChecked() {
        func check(_ parameters: [(key: String, value: String)]) -> String? {
            if case .failure(let refusal) = ManagementVerifier.rotation(
                of: command("rotateKeys", parameters: parameters))
            {
                return refusal.code
            }
            return nil
        }
        let key = TestKeys.publicHex(1)
        #expect(check([("keys", key), ("threshold", "1")]) == nil)
        #expect(check([("keys", key)]) == "bad_parameters")
        #expect(check([("keys", key), ("threshold", "2")]) == "bad_parameters")
        #expect(check([("keys", "\(key),\(key)"), ("threshold", "1")]) == "bad_parameters")
        #expect(check([("keys", "zz"), ("threshold", "1")]) == "bad_parameters")
        #expect(check([("keys", key), ("threshold", "99999999999999999999")]) == "bad_parameters")
        #expect(check([("extra", "1"), ("keys", key), ("threshold", "1")]) == "bad_parameters")
        // §1's decimal: digits only (no sign, space or point), at most 2 of them; leading zeros count.
        for threshold in ["+1", "-1", " 1", "1 ", "1.", "0x1", "", "٣", "001", "0"] {
            #expect(check([("keys", key), ("threshold", threshold)]) == "bad_parameters", "threshold '\(threshold)'")
        }
        #expect(
            (try? ManagementVerifier.rotation(
                of: command("rotateKeys", parameters: [("keys", key), ("threshold", "01")])
            ).get())?.threshold == 1)
        // Nothing else: a software SHA-256 is refused, not ignored.
        var withSoftware = command("rotateKeys", parameters: [("keys", key), ("threshold", "1")])
        withSoftware.softwareSHA256 = [UInt8](repeating: 7, count: 32)
        guard case .failure(let refusal) = ManagementVerifier.rotation(of: withSoftware) else {
            Issue.record("rotateKeys with a software SHA-256 accepted")
            return
        }
        #expect(refusal.code == "bad_parameters")
    }

    @Test func auditLogIsBoundedAndSurvivesItsJSON() throws {
        var log = ManagementAuditLog(capacity: 3)
        for counter in 1...5 {
            log.append(
                AuditEntry(
                    timeMs: now, source: "control", authority: "designer", operation: "upgrade", target: "linux",
                    counter: UInt64(counter), result: counter == 2 ? "replayed" : "accepted", detail: ""))
        }
        #expect(log.entries.map(\.counter) == [3, 4, 5])
        #expect(log.entries.map(\.sequence) == [3, 4, 5])
        #expect(log.page(from: 4, limit: 1).map(\.sequence) == [4])
        let restored = try #require(ManagementAuditLog(json: try JSON.parse(log.json.serializedBytes()), capacity: 2))
        #expect(restored.entries.map(\.sequence) == [4, 5])
        var next = restored
        next.append(log.entries[0])
        #expect(next.entries.map(\.sequence) == [5, 6])
    }

    @Test func corruptTrustStateIsRejected() throws {
        #expect(
            ManagementTrust(json: try JSON.parse("{\"version\":1,\"authorities\":{\"a\":{\"counter\":\"x\"}}}")) == nil)
        #expect(ManagementTrust(json: try JSON.parse("{\"version\":2,\"authorities\":{}}")) == nil)
    }
}
