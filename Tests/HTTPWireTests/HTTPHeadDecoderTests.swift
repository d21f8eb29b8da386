import HTTPWire
import JSON
import Testing
import VectorSupport

/// The request head decoder against `Protocols/vectors/http/requests.vectors` (`Protocols/http.md` §2):
/// every vector whole, a byte at a time and split anywhere, and heads far over every limit.
@Suite struct HTTPHeadDecoderTests {
    static let set = try! VectorSet("http/requests.vectors")

    /// What a decoder gave, comparable across cuts.
    enum Outcome: Equatable {
        case incomplete
        case head(HTTPRequestHead)
        case refused(Int, String)
    }

    static func limits(_ vector: TestVector) throws -> HTTPHeadLimits {
        guard let text = vector["limits"] else { return HTTPHeadLimits() }
        let json = try JSON.parse(text)
        return HTTPHeadLimits(
            maxHeadBytes: try #require(json["head"]?.intValue),
            maxRequestLineBytes: try #require(json["line"]?.intValue),
            maxHeaders: try #require(json["headers"]?.intValue))
    }

    static func decode(_ pieces: [ArraySlice<UInt8>], limits: HTTPHeadLimits) -> Outcome {
        var decoder = HTTPHeadDecoder(limits: limits)
        for piece in pieces { decoder.feed(piece) }
        switch decoder.progress {
        case .incomplete: return .incomplete
        case .complete(let head): return .head(head)
        case .refused(let refusal): return .refused(refusal.status.rawValue, refusal.reason)
        }
    }

    static func expected(_ vector: TestVector) throws -> Outcome {
        if vector["incomplete"] == "true" { return .incomplete }
        if let status = vector["status"] {
            return .refused(try #require(Int(status)), try vector.text("reason"))
        }
        let json = try JSON.parse(try vector.text("expect"))
        let headers = try (json["headers"]?.arrayValue ?? []).map { pair in
            (name: try #require(pair[0]?.stringValue), value: try #require(pair[1]?.stringValue))
        }
        return .head(
            HTTPRequestHead(
                method: try #require(json["method"]?.stringValue), target: try #require(json["target"]?.stringValue),
                minorVersion: try #require(json["version"]?.intValue), headers: headers))
    }

    @Test(arguments: set.vectors) func vector(_ vector: TestVector) throws {
        let input = try vector.escapedBytes("input")
        let limits = try Self.limits(vector)
        let expected = try Self.expected(vector)
        #expect(Self.decode([input[...]], limits: limits) == expected)
        let failures = Chunking.verify(input, expected: expected) { pieces in Self.decode(pieces, limits: limits) }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test func everyStatusTheSpecNamesHasAVector() throws {
        let statuses = Set(Self.set.vectors.compactMap { $0["status"] })
        #expect(statuses == ["400", "405", "413", "414", "431", "505"])
    }

    @Test func aHugeRequestLineIsRefusedAtItsLimitAndNothingMoreIsRead() {
        var decoder = HTTPHeadDecoder()
        let line = Array("GET /".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        #expect(decoder.feed(line[...]) == .refused(HTTPRefusal(.uriTooLong, "request line over 2048 bytes")))
        // Further bytes change nothing: the outcome stays.
        #expect(decoder.feed(Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8)[...]) == decoder.progress)
        if case .refused(let refusal) = decoder.progress { #expect(refusal.status == .uriTooLong) }
    }

    @Test func endlessHeadersAreRefusedAtTheHeadLimit() {
        var decoder = HTTPHeadDecoder(
            limits: HTTPHeadLimits(maxHeadBytes: 8192, maxRequestLineBytes: 2048, maxHeaders: 256))
        decoder.feed(Array("GET / HTTP/1.1\r\n".utf8)[...])
        var fed = 16
        while case .incomplete = decoder.progress, fed < 1 << 20 {
            decoder.feed(Array("X-Filler: 0123456789012345678901234567890123456789\r\n".utf8)[...])
            fed += 52
        }
        #expect(decoder.progress == .refused(HTTPRefusal(.headerFieldsTooLarge, "request head over 8192 bytes")))
        #expect(fed < 8192 + 52)
    }

    @Test func manyTinyHeadersAreRefusedAtTheCount() {
        var decoder = HTTPHeadDecoder()
        decoder.feed(Array("GET / HTTP/1.1\r\n".utf8)[...])
        for index in 0..<33 { decoder.feed(Array("a\(index):\r\n".utf8)[...]) }
        #expect(decoder.progress == .refused(HTTPRefusal(.headerFieldsTooLarge, "more than 32 header fields")))
    }

    @Test func seededGarbageNeverCrashesAndEndsWithinTheLimit() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<200 {
            var decoder = HTTPHeadDecoder(
                limits: HTTPHeadLimits(maxHeadBytes: 512, maxRequestLineBytes: 128, maxHeaders: 4))
            var fed = 0
            while case .incomplete = decoder.progress, fed < 4096 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                decoder.feed([UInt8(truncatingIfNeeded: state >> 56)][...])
                fed += 1
            }
            // Whatever the bytes, the decoder has decided by the head limit.
            #expect(fed <= 513)
        }
    }
}
