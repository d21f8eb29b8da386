import Foundation
import GuestWire
import Testing
import VectorSupport
import Wire

struct ValidVector {
    let file: String
    let type: String
    let channel: UInt16
    let requestId: UInt32
    let fields: FieldValue
    let bytes: [UInt8]
}

struct MalformedVector {
    let file: String
    let kind: String?
    let fatal: String?
    let code: UInt16?
    let requestId: UInt32?
    let bytes: [UInt8]
}

/// The vectors with an `expect` field: frames that decode.
func loadValid() throws -> [ValidVector] {
    try Vectors.all().filter { $0["expect"] != nil }.map { vector in
        let entry = try Vectors.json(vector, "expect")
        guard let type = entry["type"] as? String, let channel = entry["channel"] as? NSNumber,
            let requestId = entry["request_id"] as? NSNumber, let fields = entry["fields"]
        else { throw VectorError.badManifest("vector \(vector.name): \(entry)") }
        return ValidVector(
            file: vector.name, type: type, channel: channel.uint16Value, requestId: requestId.uint32Value,
            fields: try FieldValue(json: fields), bytes: try vector.bytes())
    }
}

/// The vectors with an `error` field: frames the decoder refuses.
func loadMalformed() throws -> [MalformedVector] {
    try Vectors.all().filter { $0["error"] != nil }.map { vector in
        let entry = try Vectors.json(vector, "error")
        return MalformedVector(
            file: vector.name, kind: entry["error"] as? String, fatal: entry["fatal"] as? String,
            code: (entry["code"] as? NSNumber)?.uint16Value, requestId: (entry["request_id"] as? NSNumber)?.uint32Value,
            bytes: try vector.bytes())
    }
}

@Suite struct GuestVectorTests {
    @Test func everyFrameTypeHasAVector() throws {
        let covered = Set(try loadValid().map(\.type))
        for type in GuestFrameType.allCases {
            #expect(covered.contains(specTypeNames[type]!), "no vector for \(type)")
        }
    }

    @Test func everyVectorIsValidOrMalformed() throws {
        let listed = Set(try loadValid().map(\.file) + loadMalformed().map(\.file))
        let all = try Vectors.all()
        #expect(Set(all.map(\.name)) == listed)
        #expect(listed.count == all.count)
        for vector in all {
            #expect((vector["expect"] == nil) != (vector["error"] == nil), "\(vector): exactly one of expect, error")
        }
    }

    @Test func validVectorsDecodeToTheirFieldsAndReencodeExactly() throws {
        for vector in try loadValid() {
            var decoder = GuestFrameDecoder()
            let results = try decoder.feed(vector.bytes)
            #expect(results.count == 1, "\(vector.file)")
            guard case .success(let frame)? = results.first else {
                Issue.record("\(vector.file): \(String(describing: results.first))")
                continue
            }
            #expect(specTypeNames[frame.type] == vector.type, "\(vector.file)")
            #expect(frame.channel == vector.channel, "\(vector.file)")
            #expect(frame.requestId == vector.requestId, "\(vector.file)")
            #expect(fields(of: frame.message) == vector.fields, "\(vector.file)")
            #expect(frame.encode() == vector.bytes, "\(vector.file) re-encodes differently")
            #expect(frame.encodeBody() == Array(vector.bytes.dropFirst(4)), "\(vector.file)")
        }
    }

    @Test func malformedVectorsGiveTheirError() throws {
        for vector in try loadMalformed() {
            var decoder = GuestFrameDecoder()
            if vector.fatal != nil {
                #expect(throws: DecodeError.self, "\(vector.file)") { try decoder.feed(vector.bytes) }
                continue
            }
            let results = try decoder.feed(vector.bytes)
            #expect(results.count == 1, "\(vector.file)")
            guard case .failure(let error)? = results.first else {
                Issue.record("\(vector.file) decoded: \(String(describing: results.first))")
                continue
            }
            #expect(specKind(error.reason) == vector.kind, "\(vector.file): \(error)")
            #expect(error.errorCode.rawValue == vector.code, "\(vector.file)")
            #expect(error.header?.requestId == vector.requestId, "\(vector.file)")
        }
    }

    /// All vectors back to back, the non-fatal malformed ones mixed in: the decoded sequence must
    /// not depend on how the stream is cut.
    @Test func chunkingNeverChangesTheResult() throws {
        let valid = try loadValid()
        let malformed = try loadMalformed().filter { $0.fatal == nil }
        var stream: [UInt8] = []
        for (index, vector) in valid.enumerated() {
            stream += vector.bytes
            if index < malformed.count { stream += malformed[index].bytes }
        }
        var whole = GuestFrameDecoder()
        let expected = try whole.feed(stream)
        #expect(expected.count == valid.count + min(valid.count, malformed.count))
        #expect(expected.filter { (try? $0.get()) != nil }.count == valid.count)

        struct Fed: Equatable {
            var results: [Result<GuestFrame, GuestDecodeError>]
            var buffered: Int
        }
        let failures = Chunking.verify(stream, expected: Fed(results: expected, buffered: 0)) { pieces in
            var decoder = GuestFrameDecoder()
            let results = try pieces.flatMap { try decoder.feed($0) }
            return Fed(results: results, buffered: decoder.bufferedByteCount)
        }
        #expect(failures.isEmpty, "\(failures.prefix(1))")
    }
}
