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

    /// The reusable-array feed (what Ethernet stream ports use) gives the same frames and the same buffered
    /// tail under every cut, whether frames straddle reads or not, for both prefix widths and empty frames; the
    /// bytes of each frame are those of the input, whatever read they arrived in.
    @Test func feedingIntoAReusedArrayNeverDependsOnChunking() throws {
        for width in [LengthPrefixedFramer.PrefixWidth.two, .four] {
            let frames: [[UInt8]] = [
                [], [1], Array(0..<70), [2, 3], (0..<1500).map { UInt8(truncatingIfNeeded: $0 &* 7) }, [4, 5, 6],
            ]
            let stream: [UInt8] = frames.flatMap { LengthPrefixedFramer.encode($0, prefixWidth: width) } + [0]
            struct Fed: Equatable {
                var frames: [[UInt8]]
                var buffered: Int
            }
            let failures = Chunking.verify(
                stream, expected: Fed(frames: frames, buffered: 1), patterns: [[3], [5, 1], [64], [1499]],
                randomCuts: 64, splitStride: 7
            ) { pieces in
                var framer = LengthPrefixedFramer(prefixWidth: width, maxFrameLength: 1500, allowEmpty: true)
                var got: [[UInt8]] = []
                var reused: [ArraySlice<UInt8>] = []
                for piece in pieces {
                    reused.removeAll(keepingCapacity: true)
                    try framer.feed(piece, into: &reused)
                    got += reused.map(Array.init)
                }
                return Fed(frames: got, buffered: framer.bufferedByteCount)
            }
            #expect(failures.isEmpty, "\(width): \(failures.prefix(3))")
        }
    }

    /// A bad length is refused under every cut, also when it arrives split across reads behind a frame that
    /// straddled the previous read.
    @Test func aBadLengthIsRefusedWhereverTheReadsSplitIt() throws {
        let stream =
            LengthPrefixedFramer.encode([UInt8](repeating: 1, count: 40), prefixWidth: .four) + [0, 0, 0x10, 0x01, 9]
        let failures = Chunking.verify(stream, randomCuts: 32) { pieces -> [Int] in
            var framer = LengthPrefixedFramer(prefixWidth: .four, maxFrameLength: 4096)
            var frames: [ArraySlice<UInt8>] = []
            for piece in pieces { try framer.feed(piece, into: &frames) }
            return frames.map(\.count)
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        var framer = LengthPrefixedFramer(prefixWidth: .four, maxFrameLength: 4096)
        var frames: [ArraySlice<UInt8>] = []
        #expect(throws: DecodeError.oversized(length: 0x1001, limit: 4096)) {
            try framer.feed(stream[...], into: &frames)
        }
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
