import ControlWire
import JSON
import Testing
import VectorSupport
import Wire

@Suite struct LineFramerTests {
    private let stream: [UInt8] = Array("{\"a\":1}\n\r\n\n{\"b\":\"x\\ny\"}\r\n[]\nnull\n".utf8)
    private let expected: [String] = ["{\"a\":1}", "{\"b\":\"x\\ny\"}", "[]", "null"]

    private func strings(_ lines: [ArraySlice<UInt8>]) -> [String] {
        lines.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func chunkingNeverChangesLines() {
        struct Fed: Equatable {
            var lines: [String]
            var buffered: Int
        }
        let failures = Chunking.verify(stream, expected: Fed(lines: expected, buffered: 0)) { pieces in
            var framer = LineFramer(maxLineLength: 64)
            let lines = pieces.flatMap { strings(framer.feed($0)) }
            return Fed(lines: lines, buffered: framer.bufferedByteCount)
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    /// The newline search reads eight bytes a step: lines of every length up to three words, of bytes that differ
    /// from LF in one bit (0x0b, 0x08, 0x8a, 0x0e) or are zero, split at every point, come out as written.
    @Test func linesOfEveryLengthAndNearNewlineBytesAreFound() {
        let fillers: [UInt8] = [0x0b, 0x08, 0x8a, 0x0e, 0x00, 0x09, 0xff]
        var stream: [UInt8] = []
        var expected: [[UInt8]] = []
        for length in 1...24 {
            let line = (0..<length).map { fillers[($0 + length) % fillers.count] }
            stream += line + [0x0a]
            expected.append(line)
        }
        for cut in 0...stream.count {
            var framer = LineFramer(maxLineLength: 64)
            var lines = framer.feed(stream[..<cut]).map(Array.init)
            lines += framer.feed(stream[cut...]).map(Array.init)
            #expect(lines == expected, "cut at \(cut)")
            #expect(framer.bufferedByteCount == 0)
        }
    }

    @Test func partialLineIsHeldBack() {
        var framer = LineFramer()
        #expect(framer.feed(Array("{\"a\"".utf8)).isEmpty)
        #expect(framer.bufferedByteCount == 4)
        #expect(strings(framer.feed(Array(":1}\n{".utf8))) == ["{\"a\":1}"])
        #expect(framer.bufferedByteCount == 1)
    }

    @Test func overlongLineStopsTheStreamAtTheSamePointHoweverSplit() {
        let good = Array("{\"ok\":1}\n".utf8)
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 20) + [0x0a]
        let input = good + long + good
        struct Fed: Equatable {
            var lines: [String]
            var overflow: DecodeError?
            var linesAfter: Int
        }
        let expected = Fed(lines: ["{\"ok\":1}"], overflow: .oversized(length: 17, limit: 16), linesAfter: 0)
        let failures = Chunking.verify(input, expected: expected) { pieces in
            var framer = LineFramer(maxLineLength: 16)
            let lines = pieces.flatMap { strings(framer.feed($0)) }
            return Fed(lines: lines, overflow: framer.overflow, linesAfter: framer.feed(good).count)
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        // The error comes before the end of the line arrives: a peer cannot make the hub buffer without bound.
        var framer = LineFramer(maxLineLength: 16)
        _ = framer.feed([UInt8](repeating: 0x20, count: 18))
        #expect(framer.overflow != nil)
    }

    @Test func lineAtTheLimitPasses() {
        var framer = LineFramer(maxLineLength: 4)
        #expect(strings(framer.feed(Array("1234\r\n12345\n".utf8))) == ["1234"])
        #expect(framer.overflow != nil)
        var crlf = LineFramer(maxLineLength: 4)
        #expect(strings(crlf.feed(Array("1234\r".utf8))).isEmpty)
        #expect(crlf.overflow == nil)
        #expect(strings(crlf.feed([0x0a])) == ["1234"])
    }

    @Test func encodeEndsWithOneNewline() throws {
        let message: JSON = ["text": "line1\nline2"]
        let bytes = LineFramer.encode(message)
        #expect(bytes.last == 0x0a)
        #expect(bytes.dropLast().contains(0x0a) == false)
        var framer = LineFramer()
        let lines = framer.feed(bytes)
        #expect(lines.count == 1)
        #expect(try JSON.parse(lines[0]) == message)
    }
}

/// Taking lines one at a time (backpressure) and raising the limit after authentication.
@Suite struct LineFramerIncrementalTests {
    @Test func linesTakenOneAtATimeMatchFeed() {
        let stream = Array(("a\nbb\r\n\n" + String(repeating: "c", count: 5000) + "\nd\n").utf8)
        var whole = LineFramer(maxLineLength: 8192)
        let expected = whole.feed(stream).map(Array.init)
        struct Fed: Equatable {
            var lines: [[UInt8]]
            var buffered: Int
        }
        // Take at most one line per piece: the rest stays buffered, as while a session is held back.
        let failures = Chunking.verify(
            stream, expected: Fed(lines: expected, buffered: 0), patterns: [[7], [4096]], splitStride: 61
        ) { pieces in
            var framer = LineFramer(maxLineLength: 8192)
            var got: [[UInt8]] = []
            for piece in pieces {
                framer.append(piece)
                if let line = framer.nextLine() { got.append(Array(line)) }
            }
            while let line = framer.nextLine() { got.append(Array(line)) }
            return Fed(lines: got, buffered: framer.bufferedByteCount)
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test func theLimitInForceWhenALineIsTakenApplies() {
        var framer = LineFramer(maxLineLength: 16)
        framer.append(Array("short\n".utf8) + [UInt8](repeating: 0x41, count: 40) + [0x0a])
        #expect(framer.nextLine().map(Array.init) == Array("short".utf8))
        framer.maxLineLength = 64
        #expect(framer.nextLine()?.count == 40)
        #expect(framer.overflow == nil)
        framer.maxLineLength = 16
        framer.append([UInt8](repeating: 0x42, count: 18))
        #expect(framer.nextLine() == nil)
        #expect(framer.overflow != nil)
    }

    /// `hasNewline()` finds a line without taking it, however the bytes were cut, and what it searched is not
    /// searched again; a line over the limit is still refused by the `nextLine()` that follows a false.
    @Test func hasNewlineFindsALineWithoutTakingItWhateverTheCuts() {
        struct Fed: Equatable {
            var lines: [[UInt8]]
            var buffered: Int
        }
        let stream = Array("{\"a\":1}\r\n\n{\"b\":2}\n".utf8)
        let expected = Fed(lines: [Array("{\"a\":1}".utf8), Array("{\"b\":2}".utf8)], buffered: 0)
        let failures = Chunking.verify(stream, expected: expected) { pieces in
            var framer = LineFramer(maxLineLength: 64)
            var got: [[UInt8]] = []
            for piece in pieces {
                framer.append(piece)
                while framer.hasNewline() {
                    guard let line = framer.nextLine() else { continue }  // an empty line: nothing to take
                    got.append(Array(line))
                }
                _ = framer.nextLine()
            }
            return Fed(lines: got, buffered: framer.bufferedByteCount)
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        var framer = LineFramer(maxLineLength: 8)
        framer.append([UInt8](repeating: 0x41, count: 12))
        let found = framer.hasNewline()
        #expect(!found)
        let taken = framer.nextLine()
        #expect(taken == nil && framer.overflow != nil)
        let foundAfter = framer.hasNewline()
        #expect(!foundAfter)
    }
}
