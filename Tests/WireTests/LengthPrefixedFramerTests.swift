import Testing
import VectorSupport
import Wire

@Suite struct LengthPrefixedFramerTests {
    @Test func chunkingNeverChangesFrames() throws {
        let frames: [[UInt8]] = [[1], [2, 3], Array(repeating: 9, count: 300), [4, 5, 6, 7]]
        let stream = frames.flatMap { LengthPrefixedFramer.encode($0, prefixWidth: .four) }
        struct Fed: Equatable {
            var frames: [[UInt8]]
            var buffered: Int
        }
        let failures = Chunking.verify(stream, expected: Fed(frames: frames, buffered: 0)) { pieces in
            var framer = LengthPrefixedFramer(prefixWidth: .four, maxFrameLength: 1024)
            var got: [[UInt8]] = []
            for piece in pieces { got += try framer.feed(piece).map(Array.init) }
            return Fed(frames: got, buffered: framer.bufferedByteCount)
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test func twoBytePrefixMatchesVDE() throws {
        var framer = LengthPrefixedFramer(prefixWidth: .two, maxFrameLength: 1518)
        #expect(LengthPrefixedFramer.encode([0xaa, 0xbb], prefixWidth: .two) == [0, 2, 0xaa, 0xbb])
        #expect(try framer.feed([0, 2, 0xaa, 0xbb, 0]).map(Array.init) == [[0xaa, 0xbb]])
    }

    @Test func oversizedAndEmptyAreRefused() {
        var framer = LengthPrefixedFramer(prefixWidth: .four, maxFrameLength: 16)
        #expect(throws: DecodeError.oversized(length: 0xffff_ffff, limit: 16)) {
            try framer.feed([0xff, 0xff, 0xff, 0xff])
        }
        var strict = LengthPrefixedFramer(prefixWidth: .four, maxFrameLength: 16)
        #expect(throws: DecodeError.empty) { try strict.feed([0, 0, 0, 0]) }
    }

    @Test func readerStopsAtTheEnd() throws {
        var reader = ByteReader([1, 2, 3])
        #expect(try reader.readU16BE() == 0x0102)
        #expect(throws: DecodeError.truncated(needed: 4, available: 1)) { try reader.readU32BE() }
        #expect(Hex.decode("01 02 # comment\nff") == [1, 2, 255])
    }
}
