import Testing
import VectorSupport

@testable import RFBWire

/// The Tight encoding (Protocols/framebuffer.md §2.6): the vectors byte for byte, round trips through the
/// tests' own decoder, JPEG within a tolerance, negotiation, and sharing between viewers.
@Suite struct TightEncoding {
    static let vectors = try! VectorSet("rfb/tight.vectors")

    static func pixels(_ text: String) -> [UInt32] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).flatMap { token -> [UInt32] in
            let parts = token.split(separator: "*")
            let value = UInt32(parts[0], radix: 16)!
            return Array(repeating: value, count: parts.count > 1 ? Int(parts[1])! : 1)
        }
    }

    @Test(arguments: vectors.vectors.map(\.name))
    func vectorIsWhatTheEncoderSendsAndDecodesBack(name: String) throws {
        let vector = try Self.vectors.vector(name)
        let width = Int(try vector.text("width"))!
        let height = Int(try vector.text("height"))!
        let pixels = Self.pixels(try vector.text("pixels"))
        #expect(pixels.count == width * height)
        let encodings = try vector.text("encodings").split(separator: " ").map { Int32($0)! }
        let rects =
            vector["rects"]?.split(separator: " ").map { text -> RFBRect in
                let v = text.split(separator: ",").map { Int($0)! }
                return RFBRect(x: v[0], y: v[1], width: v[2], height: v[3])
            } ?? [RFBRect(x: 0, y: 0, width: width, height: height)]
        let encoder = RFBUpdateEncoder(preferences: RFBEncodingPreferences(encodings))
        let message = encoder.update(source: RFBPixelSource(pixels: pixels, width: width, height: height), rects: rects)
        #expect(message == (try vector.bytes()), "\(name)")
        var decoder = TightDecoder(width: width, height: height, format: .native)
        try decoder.apply(try vector.bytes())
        #expect(decoder.framebuffer == pixels, "\(name): the vector does not decode to its screen")
    }

    @Test func withoutJPEGEveryFormatDecodesExactly() throws {
        let width = 150
        let height = 130
        let pixels = testScreen(width: width, height: height)
        let source = RFBPixelSource(pixels: pixels, width: width, height: height)
        for (name, format) in EncoderRoundTrips.formats {
            // A quality level is listed, but JPEG is used only where TPIXEL is red, green, blue bytes.
            let preferences = RFBEncodingPreferences(
                format.bitsPerPixel == 32 && format.redMax == 255 ? [7, -250] : [7, -32, -250])
            let encoder = RFBUpdateEncoder(format: format, preferences: preferences)
            var decoder = TightDecoder(width: width, height: height, format: format)
            for batch in [
                [RFBRect(x: 0, y: 0, width: width, height: height)],
                [RFBRect(x: 3, y: 5, width: 17, height: 33), RFBRect(x: 70, y: 60, width: 80, height: 70)],
                // Flat (fill) and two-colour stripes (palette).
                [RFBRect(x: 10, y: 2, width: 40, height: 20), RFBRect(x: 0, y: 40, width: 90, height: 20)],
            ] {
                try decoder.apply(encoder.update(source: source, rects: batch))
            }
            let expected = pixels.map { format.rgb(fromValue: format.pixelValue($0)) }
            let wrong = zip(decoder.framebuffer, expected).filter { $0 != $1 }.count
            #expect(wrong == 0, "\(name): \(wrong) pixels differ")
            #expect(decoder.kinds["jpeg"] == nil, "\(name)")
            for kind in ["copy", "fill", "palette"] { #expect(decoder.kinds[kind, default: 0] > 0, "\(name): \(kind)") }
        }
    }

    @Test(arguments: [0, 5, 9])
    func jpegDecodesWithinATolerance(quality: Int) throws {
        let width = 480
        let height = 300
        let pixels = testScreen(width: width, height: height)
        let encoder = RFBUpdateEncoder(
            preferences: RFBEncodingPreferences([7, RFBEncoding.qualityLevel0 + Int32(quality)]))
        var decoder = TightDecoder(width: width, height: height, format: .native)
        try decoder.apply(
            encoder.update(
                source: RFBPixelSource(pixels: pixels, width: width, height: height),
                rects: [RFBRect(x: 0, y: 0, width: width, height: height)]))
        #expect(decoder.kinds["jpeg", default: 0] > 0)
        // Flat and few-colour bands stay exact; JPEG bands differ by little on average.
        var total = 0
        for index in pixels.indices {
            let a = pixels[index]
            let b = decoder.framebuffer[index]
            let error = Self.channelError(a, b)
            if !decoder.jpegPixels.contains(index) { #expect(error == 0) }
            total += error
        }
        let mean = Double(total) / Double(pixels.count)
        #expect(mean < (quality == 0 ? 40 : 12), "mean channel error \(mean) at quality level \(quality)")
    }

    static func channelError(_ a: UInt32, _ b: UInt32) -> Int {
        var worst = 0
        for shift: UInt32 in [16, 8, 0] {
            let x = Int((a >> shift) & 0xff)
            let y = Int((b >> shift) & 0xff)
            worst = max(worst, abs(x - y))
        }
        return worst
    }

    @Test func pseudoEncodingsSetQualityAndCompressionAndTightIsChosenFirst() {
        let preferences = RFBEncodingPreferences([7, 16, -32 + 6, -256 + 2, -223, -33, -257])
        #expect(preferences.pixels == RFBEncoding.tight)
        #expect(preferences.tight == RFBTightSettings(qualityLevel: 6, compressLevel: 2))
        // -33 and -257 are just outside the ranges: unknown, ignored.
        #expect(preferences.unknown == 2)
        #expect(RFBEncodingPreferences([16, 7]).pixels == RFBEncoding.zrle)
        #expect(RFBEncodingPreferences([7]).tight == RFBTightSettings(qualityLevel: nil, compressLevel: 1))
    }

    /// Viewers with the same format and settings share each band's encoding, and the shared bytes decode
    /// correctly for a viewer whose zlib streams saw other rectangles before (each use starts with a reset).
    @Test func sharedBandsDecodeForEveryViewerWhateverItWasSentBefore() throws {
        let width = 200
        let height = 120
        let first = testScreen(width: width, height: height, seed: 1)
        let second = testScreen(width: width, height: height, seed: 9)
        let full = [RFBRect(x: 0, y: 0, width: width, height: height)]
        let cache = RFBRectCache()
        let preferences = RFBEncodingPreferences([7, -256 + 2])
        let a = RFBUpdateEncoder(preferences: preferences)
        let b = RFBUpdateEncoder(preferences: preferences)
        var decodeA = TightDecoder(width: width, height: height, format: .native)
        var decodeB = TightDecoder(width: width, height: height, format: .native)
        // Viewer A sees the first picture, B a part of it: both sides' streams now hold different histories.
        cache.use(generation: 1)
        let old = RFBPixelSource(pixels: first, width: width, height: height)
        try decodeA.apply(a.update(source: old, rects: full))
        try decodeB.apply(b.update(source: old, rects: [RFBRect(x: 0, y: 60, width: 100, height: 60)]))
        // The second picture: B encodes and stores, A is served B's bytes from the cache.
        cache.use(generation: 2)
        let source = RFBPixelSource(pixels: second, width: width, height: height)
        let fromB = b.update(source: source, rects: full, cache: cache)
        let hitsBefore = cache.hits
        let fromA = a.update(source: source, rects: full, cache: cache)
        #expect(cache.hits > hitsBefore)
        #expect(fromA == fromB)
        try decodeA.apply(fromA)
        try decodeB.apply(fromB)
        #expect(decodeA.framebuffer == second)
        #expect(decodeB.framebuffer == second)
        // Other settings are another entry: a JPEG viewer does not get the lossless bytes.
        let jpegViewer = RFBUpdateEncoder(preferences: RFBEncodingPreferences([7, -24]))
        let hits = cache.hits
        let jpegBytes = jpegViewer.update(source: source, rects: full, cache: cache)
        #expect(cache.hits == hits)
        #expect(jpegBytes != fromA)
    }

    @Test func compactLengthsUseOneToThreeBytes() {
        for (length, expected) in [
            (0, [0x00]), (127, [0x7f]), (128, [0x80, 0x01]), (16383, [0xff, 0x7f]),
            (16384, [0x80, 0x80, 0x01]), ((1 << 22) - 1, [0xff, 0xff, 0xff]),
        ] as [(Int, [UInt8])] {
            var out: [UInt8] = []
            RFBTightEncoder.appendCompactLength(length, to: &out)
            #expect(out == expected, "\(length)")
        }
    }
}
