import Foundation
import Testing
import VectorSupport

@testable import ManagementWire

/// `Protocols/vectors/management/envelopes.vectors` (`Protocols/management.md` §2).
enum EnvelopeVectors {
    static let set: VectorSet = {
        do { return try VectorSet("management/envelopes.vectors") } catch { fatalError("management vectors: \(error)") }
    }()
}

private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

@Suite struct ManagementWireTests {
    /// Every valid vector decodes to its `expect` and re-encodes to exactly its bytes (one encoding per command).
    @Test func validVectorsDecodeAndRoundTrip() throws {
        let valid = EnvelopeVectors.set.vectors.filter { $0["expect"] != nil }
        #expect(valid.count >= 8)
        for vector in valid {
            let bytes = try vector.bytes()
            let envelope = try ManagementCodec.decodeEnvelope(bytes[...])
            let expect = try #require(
                JSONSerialization.jsonObject(with: Data(try vector.text("expect").utf8)) as? [String: Any])
            let body = envelope.body
            #expect(body.operation == expect["operation"] as? String, "\(vector.name)")
            #expect(body.target == expect["target"] as? String, "\(vector.name)")
            #expect(body.authority == expect["authority"] as? String, "\(vector.name)")
            #expect(body.counter == (expect["counter"] as? NSNumber)?.uint64Value, "\(vector.name)")
            #expect(body.expiresAtMs == (expect["expiresAtMs"] as? NSNumber)?.uint64Value, "\(vector.name)")
            #expect(body.softwareSHA256.map(hex) == expect["softwareSHA256"] as? String, "\(vector.name)")
            let parameters = (expect["parameters"] as? [[String]]) ?? []
            #expect(body.parameters.map { [$0.key, $0.value] } == parameters, "\(vector.name)")
            #expect(envelope.signatures.map { hex($0.keyID) } == expect["keyIds"] as? [String], "\(vector.name)")
            #expect(ManagementCodec.encodeEnvelope(envelope) == bytes, "\(vector.name)")
            #expect(ManagementCodec.encodeBody(body) == envelope.bodyBytes, "\(vector.name)")
        }
    }

    /// Every malformed vector fails with its own kind.
    @Test func malformedVectorsFailWithTheirKind() throws {
        let malformed = EnvelopeVectors.set.vectors.filter { $0["error"] != nil }
        #expect(malformed.count >= 8)
        for vector in malformed {
            let bytes = try vector.bytes()
            #expect(throws: ManagementWireError.self, "\(vector.name)") {
                _ = try ManagementCodec.decodeEnvelope(bytes[...])
            }
            do {
                _ = try ManagementCodec.decodeEnvelope(bytes[...])
            } catch {
                #expect(error.kind == vector["error"], "\(vector.name): \(error.detail)")
            }
        }
    }

    /// Every prefix of a valid envelope is refused (as `truncated` or a length error), never a trap; the envelope
    /// is one unit, so a short one is never taken for a command.
    @Test func everyPrefixIsRefused() throws {
        let bytes = try EnvelopeVectors.set.vector("upgrade-one-signature").bytes()
        for end in 0..<bytes.count {
            #expect(throws: ManagementWireError.self) { _ = try ManagementCodec.decodeEnvelope(bytes[..<end]) }
        }
    }

    /// Every single-byte change of a valid envelope either fails to decode or decodes to a different body or
    /// signature: no byte is ignored.
    @Test func noByteIsIgnored() throws {
        let bytes = try EnvelopeVectors.set.vector("upgrade-one-signature").bytes()
        let original = try ManagementCodec.decodeEnvelope(bytes[...])
        for index in bytes.indices {
            var changed = bytes
            changed[index] ^= 0x01
            if let decoded = try? ManagementCodec.decodeEnvelope(changed[...]) { #expect(decoded != original) }
        }
    }

    /// Seeded random garbage, including huge announced lengths, only ever fails with a decode error.
    @Test func garbageIsRefusedWithoutTrapping() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for round in 0..<2000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 54)
            var bytes = ManagementCodec.magic + [UInt8](repeating: 0, count: length)
            for index in 4..<bytes.count {
                state = state &* 6_364_136_223_846_793_005 &+ 1
                bytes[index] = UInt8(truncatingIfNeeded: state >> 33)
            }
            if round % 2 == 0 && bytes.count >= 8 { bytes[4...7] = [0, 0, 0, UInt8(truncatingIfNeeded: length)] }
            _ = try? ManagementCodec.decodeEnvelope(bytes[...])
        }
        let huge = [UInt8](repeating: 0x41, count: ManagementCodec.maxEnvelopeBytes + 1)
        #expect(
            throws: ManagementWireError(
                "too_long", "envelope of \(huge.count) bytes, limit \(ManagementCodec.maxEnvelopeBytes)")
        ) {
            _ = try ManagementCodec.decodeEnvelope(huge[...])
        }
    }

    /// Parameters written by a caller in any order encode in the one accepted order once sorted.
    @Test func sortedParametersDecode() throws {
        let command = ManagementCommand(
            operation: "install", target: "linux", authority: "designer", counter: 9, expiresAtMs: 1,
            parameters: ManagementCodec.sortedParameters([("zeta", "1"), ("alpha", "é"), ("mid", "")]))
        let decoded = try ManagementCodec.decodeBody(ManagementCodec.encodeBody(command)[...])
        #expect(decoded == command)
        #expect(decoded.parameters.map(\.key) == ["alpha", "mid", "zeta"])
    }
}

/// `Protocols/vectors/management/relay.vectors`: the relay channel's results (`Protocols/management.md` §2.3).
@Suite struct ManagementRelayResultTests {
    @Test func relayVectors() throws {
        let set = try VectorSet("management/relay.vectors")
        for vector in set.vectors {
            let bytes = try vector.bytes()
            if let expected = vector["expect"] {
                let expect = try #require(
                    JSONSerialization.jsonObject(with: Data(expected.utf8)) as? [String: String])
                let result = try ManagementRelayResult.decode(bytes[...])
                #expect(result.code == expect["code"], "\(vector.name)")
                #expect(result.detail == expect["detail"], "\(vector.name)")
                #expect(result.output == expect["output"], "\(vector.name)")
                #expect(result.encoded() == bytes, "\(vector.name)")
            } else {
                do {
                    _ = try ManagementRelayResult.decode(bytes[...])
                    Issue.record("\(vector.name) decoded")
                } catch {
                    #expect(error.kind == vector["error"], "\(vector.name)")
                }
            }
        }
    }
}
