/// The management envelope's byte encoding (`Protocols/management.md` §2): big-endian integers, strings with a
/// length prefix, nothing optional left to interpretation, so there is exactly one encoding of a command and
/// an outsider can rebuild the signed bytes. Pure: no clock, no I/O, no cryptography.
package enum ManagementCodec {
    /// The envelope's first four bytes, `HHM1`.
    package static let magic: [UInt8] = [0x48, 0x48, 0x4D, 0x31]
    /// The body's format version.
    package static let version: UInt8 = 1
    /// The signing input's prefix, so a signature over a command can never be taken for one over anything else
    /// the same key signs (§2.4): `handsethub-mgmt-v1` and a zero byte.
    package static let domain: [UInt8] = Array("handsethub-mgmt-v1".utf8) + [0]
    /// Bounds (§2.5); each is checked before anything is allocated.
    package static let maxBodyBytes = 16384
    package static let maxSignatures = 16
    package static let maxParameters = 64
    package static let maxParameterKeyBytes = 64
    package static let maxParameterValueBytes = 4096
    package static let maxNameBytes = 32
    package static let keyIDBytes = 8
    package static let signatureBytes = 64
    package static let digestBytes = 32
    /// The largest envelope the bounds allow.
    package static let maxEnvelopeBytes = 4 + 4 + maxBodyBytes + 1 + maxSignatures * (1 + keyIDBytes + signatureBytes)

    /// The bytes a signature covers: the domain prefix, then the body.
    package static func signingInput(_ bodyBytes: [UInt8]) -> [UInt8] { domain + bodyBytes }

    /// The body's canonical bytes (§2.2). Parameters are written in the order given; `decodeBody` refuses any
    /// order but strictly ascending, so callers sort them (`sortedParameters`).
    package static func encodeBody(_ command: ManagementCommand) -> [UInt8] {
        var out: [UInt8] = [version]
        appendString8(command.operation, to: &out)
        appendString8(command.target, to: &out)
        appendString8(command.authority, to: &out)
        appendUInt64(command.counter, to: &out)
        appendUInt64(command.expiresAtMs, to: &out)
        if let digest = command.softwareSHA256 {
            out.append(1)
            out += digest
        } else {
            out.append(0)
        }
        appendUInt16(UInt16(truncatingIfNeeded: command.parameters.count), to: &out)
        for (key, value) in command.parameters {
            appendString8(key, to: &out)
            let bytes = Array(value.utf8)
            appendUInt16(UInt16(truncatingIfNeeded: bytes.count), to: &out)
            out += bytes
        }
        return out
    }

    /// Parameters in the one order the encoding accepts: ascending by their UTF-8 bytes.
    package static func sortedParameters(_ parameters: [(key: String, value: String)]) -> [(
        key: String, value: String
    )] {
        parameters.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
    }

    /// The whole envelope (§2.1).
    package static func encodeEnvelope(_ envelope: ManagementEnvelope) -> [UInt8] {
        var out = magic
        appendUInt32(UInt32(truncatingIfNeeded: envelope.bodyBytes.count), to: &out)
        out += envelope.bodyBytes
        out.append(UInt8(truncatingIfNeeded: envelope.signatures.count))
        for signature in envelope.signatures {
            out.append(UInt8(truncatingIfNeeded: signature.keyID.count))
            out += signature.keyID
            out += signature.signature
        }
        return out
    }

    /// Decodes a whole envelope; every byte must be used (§2.5).
    package static func decodeEnvelope(_ bytes: ArraySlice<UInt8>) throws(ManagementWireError) -> ManagementEnvelope {
        guard bytes.count <= maxEnvelopeBytes else {
            throw ManagementWireError("too_long", "envelope of \(bytes.count) bytes, limit \(maxEnvelopeBytes)")
        }
        var reader = ManagementReader(bytes)
        guard try reader.bytes(4, "magic") == magic else { throw ManagementWireError("bad_magic", "not HHM1") }
        let bodyLength = Int(try reader.uint32("body length"))
        guard bodyLength >= 1, bodyLength <= maxBodyBytes else {
            throw ManagementWireError("bad_length", "body length \(bodyLength) outside 1...\(maxBodyBytes)")
        }
        let bodyBytes = try reader.bytes(bodyLength, "body")
        let body = try decodeBody(bodyBytes[...])
        let signatures = try decodeSignatures(&reader)
        guard reader.isAtEnd else { throw ManagementWireError("trailing_bytes", "bytes after the signatures") }
        return ManagementEnvelope(bodyBytes: bodyBytes, body: body, signatures: signatures)
    }

    private static func decodeSignatures(_ reader: inout ManagementReader) throws(ManagementWireError)
        -> [ManagementSignature]
    {
        let count = Int(try reader.uint8("signature count"))
        guard count >= 1, count <= maxSignatures else {
            throw ManagementWireError("bad_signature_count", "\(count) signatures, allowed 1...\(maxSignatures)")
        }
        var signatures: [ManagementSignature] = []
        for index in 0..<count {
            let keyIDLength = Int(try reader.uint8("key id length"))
            guard keyIDLength == keyIDBytes else {
                throw ManagementWireError("bad_key_id", "signature \(index): key id of \(keyIDLength) bytes")
            }
            let keyID = try reader.bytes(keyIDBytes, "key id")
            guard !signatures.contains(where: { $0.keyID == keyID }) else {
                throw ManagementWireError("duplicate_key_id", "signature \(index) repeats a key id")
            }
            signatures.append(
                ManagementSignature(keyID: keyID, signature: try reader.bytes(signatureBytes, "signature")))
        }
        return signatures
    }

    /// Decodes a body (§2.2); every byte must be used.
    package static func decodeBody(_ bytes: ArraySlice<UInt8>) throws(ManagementWireError) -> ManagementCommand {
        var reader = ManagementReader(bytes)
        let version = try reader.uint8("version")
        guard version == Self.version else { throw ManagementWireError("bad_version", "body version \(version)") }
        var command = ManagementCommand(
            operation: try reader.name("operation"), target: try reader.name("target"),
            authority: try reader.name("authority"), counter: try reader.uint64("counter"),
            expiresAtMs: try reader.uint64("expiry"))
        switch try reader.uint8("digest flag") {
        case 0: break
        case 1: command.softwareSHA256 = try reader.bytes(digestBytes, "software digest")
        case let flag: throw ManagementWireError("bad_flag", "digest flag \(flag)")
        }
        command.parameters = try decodeParameters(&reader)
        guard reader.isAtEnd else { throw ManagementWireError("trailing_bytes", "bytes after the parameters") }
        return command
    }

    private static func decodeParameters(_ reader: inout ManagementReader) throws(ManagementWireError) -> [(
        key: String, value: String
    )] {
        let count = Int(try reader.uint16("parameter count"))
        guard count <= maxParameters else {
            throw ManagementWireError("too_many_parameters", "\(count) parameters, limit \(maxParameters)")
        }
        var parameters: [(key: String, value: String)] = []
        var previous: [UInt8]? = nil
        for _ in 0..<count {
            let keyBytes = try reader.string8Bytes("parameter name", max: maxParameterKeyBytes)
            guard !keyBytes.isEmpty else { throw ManagementWireError("bad_string", "empty parameter name") }
            if let previous, !previous.lexicographicallyPrecedes(keyBytes) {
                throw ManagementWireError("unsorted_parameters", "parameter names not strictly ascending")
            }
            previous = keyBytes
            let valueLength = Int(try reader.uint16("parameter value length"))
            guard valueLength <= maxParameterValueBytes else {
                throw ManagementWireError("bad_length", "parameter value of \(valueLength) bytes")
            }
            let value = try reader.utf8(try reader.bytes(valueLength, "parameter value"), "parameter value")
            parameters.append((try reader.utf8(keyBytes, "parameter name"), value))
        }
        return parameters
    }

    static func appendString8(_ text: String, to out: inout [UInt8]) {
        let bytes = Array(text.utf8)
        out.append(UInt8(truncatingIfNeeded: bytes.count))
        out += bytes
    }

    static func appendUInt16(_ value: UInt16, to out: inout [UInt8]) {
        out += [UInt8(value >> 8), UInt8(value & 0xFF)]
    }

    static func appendUInt32(_ value: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }

    static func appendUInt64(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((value >> UInt64(shift)) & 0xFF)) }
    }
}
