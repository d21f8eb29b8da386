import Foundation
import GuestWire
import Testing
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

func loadValid() throws -> [ValidVector] {
    let manifest = try Vectors.manifest()
    guard let entries = manifest["vectors"] as? [[String: Any]] else { throw VectorError.badManifest("vectors") }
    return try entries.map { entry in
        guard let file = entry["file"] as? String, let type = entry["type"] as? String,
            let channel = entry["channel"] as? NSNumber, let requestId = entry["request_id"] as? NSNumber,
            let fields = entry["fields"]
        else { throw VectorError.badManifest("entry \(entry)") }
        return ValidVector(
            file: file, type: type, channel: channel.uint16Value, requestId: requestId.uint32Value,
            fields: try FieldValue(json: fields), bytes: try Vectors.bytes(file))
    }
}

func loadMalformed() throws -> [MalformedVector] {
    let manifest = try Vectors.manifest()
    guard let entries = manifest["malformed"] as? [[String: Any]] else { throw VectorError.badManifest("malformed") }
    return try entries.map { entry in
        guard let file = entry["file"] as? String else { throw VectorError.badManifest("entry \(entry)") }
        return MalformedVector(
            file: file, kind: entry["error"] as? String, fatal: entry["fatal"] as? String,
            code: (entry["code"] as? NSNumber)?.uint16Value, requestId: (entry["request_id"] as? NSNumber)?.uint32Value,
            bytes: try Vectors.bytes(file))
    }
}

@Suite struct GuestVectorTests {
    @Test func everyFrameTypeHasAVector() throws {
        let covered = Set(try loadValid().map(\.type))
        for type in GuestFrameType.allCases {
            #expect(covered.contains(specTypeNames[type]!), "no vector for \(type)")
        }
    }

    @Test func everyVectorFileIsInTheManifest() throws {
        let listed = Set(try loadValid().map(\.file) + loadMalformed().map(\.file))
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Vectors.directory.path)
            .filter { $0.hasSuffix(".hex") }
        #expect(Set(onDisk) == listed)
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

        for split in 0...stream.count {
            var decoder = GuestFrameDecoder()
            let got = try decoder.feed(stream[..<split]) + decoder.feed(stream[split...])
            if got != expected {
                Issue.record("split at \(split) changes the result")
                break
            }
            #expect(decoder.bufferedByteCount == 0)
        }
        var bytewise = GuestFrameDecoder()
        var got: [Result<GuestFrame, GuestDecodeError>] = []
        for byte in stream { got += try bytewise.feed(CollectionOfOne(byte)) }
        #expect(got == expected)
    }
}
