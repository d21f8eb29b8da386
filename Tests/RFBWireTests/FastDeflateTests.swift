import Testing
import Zlib

@testable import RFBWire

/// ISA-L's fast deflate as ZRLE uses it (Protocols/framebuffer.md §2.4): every call's blocks start from a fresh
/// state and end sync-flushed, so they continue one zlib stream, after zlib's own blocks or its own.
@Suite struct FastDeflateTests {
    static func noise(_ count: Int, seed: UInt32) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 1_103_515_245 &+ 12345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
    }

    /// Pieces from empty-ish to several MiB, compressible and not (stored blocks), from the fast deflater and
    /// from zlib's raw deflater in turn, after one zlib header: one inflater reads them all back exactly.
    @Test func piecesContinueOneStreamWhateverCompressedThem() throws {
        let pieces: [[UInt8]] = [
            [7],
            Self.noise(70_000, seed: 1),
            [UInt8](repeating: 0xab, count: 3 << 20),
            Self.noise(3 << 20, seed: 2),
            Array(Self.noise(5_000, seed: 3).map { $0 & 0x3 }),
            Self.noise(65_535, seed: 4),
        ]
        let fast = FastDeflater()
        let zlib = ZlibDeflater(level: 6, raw: true)
        let inflater = StreamInflater()
        #expect(inflater.inflate([0x78, 0x01]) == [])
        for (index, piece) in (pieces + pieces).enumerated() {
            var blocks: [UInt8] = []
            if index % 2 == 0 {
                fast.compress(piece, into: &blocks)
            } else {
                zlib.reset()
                zlib.compress(piece, into: &blocks)
            }
            let inflated = inflater.inflate(blocks)
            #expect(inflated == piece, "piece \(index) of \(piece.count) bytes")
        }
    }

    /// A viewer that changes its compression level between updates keeps its one stream: default-level
    /// rectangles (the fast deflater) and zlib-level ones alternate and every picture decodes exactly.
    @Test func zrleViewerChangingItsCompressionLevelKeepsItsPicture() throws {
        let width = 200
        let height = 150
        let encoder = RFBUpdateEncoder(preferences: RFBEncodingPreferences([RFBEncoding.zrle]))
        var decoder = IndependentDecoder(width: width, height: height, format: .native)
        for (step, level) in [nil, 9, nil, 0, 5, 2, 9, nil].enumerated() {
            var encodings = [RFBEncoding.zrle]
            if let level { encodings.append(RFBEncoding.compressLevel0 + Int32(level)) }
            encoder.preferences = RFBEncodingPreferences(encodings)
            var pixels = testScreen(width: width, height: height, seed: UInt32(step + 1))
            if step % 3 == 2 {
                // Noise: raw tiles that deflate cannot shrink.
                let bytes = Self.noise(width * height * 3, seed: UInt32(step))
                pixels = (0..<(width * height)).map { index -> UInt32 in
                    let red = UInt32(bytes[3 * index]) << 16
                    let green = UInt32(bytes[3 * index + 1]) << 8
                    return red | green | UInt32(bytes[3 * index + 2])
                }
            }
            let source = RFBPixelSource(pixels: pixels, width: width, height: height)
            _ = try decoder.apply(
                encoder.update(source: source, rects: [RFBRect(x: 0, y: 0, width: width, height: height)]))
            #expect(decoder.framebuffer == pixels, "step \(step), level \(String(describing: level))")
        }
    }
}
