import Testing

@testable import RFBWire

/// ZRLE's tile forms (RFC 6143 §7.7.6) at their boundaries, each update decoded by `IndependentDecoder` and
/// compared pixel for pixel; the sub-encodings seen show which form each picture reached.
@Suite struct ZRLETileTests {
    /// Every CPIXEL layout: 3 low or 3 high bytes in either byte order, and full 1-, 2- and 4-byte pixels.
    static let formats: [(String, RFBPixelFormat)] = [
        ("native", .native),
        ("rgb565", .rgb565),
        ("rgb565-big-endian", format(16, 16, big: true, max: (31, 63, 31), shift: (11, 5, 0))),
        ("bgr888-big-endian", format(32, 24, big: true, max: (255, 255, 255), shift: (0, 8, 16))),
        ("rgb888-high-bytes", format(32, 24, big: false, max: (255, 255, 255), shift: (24, 16, 8))),
        ("rgb888-high-bytes-big-endian", format(32, 24, big: true, max: (255, 255, 255), shift: (24, 16, 8))),
        ("rgb888-depth-32", format(32, 32, big: false, max: (255, 255, 255), shift: (16, 8, 0))),
        ("rgb888-depth-32-big-endian", format(32, 32, big: true, max: (255, 255, 255), shift: (16, 8, 0))),
        ("bgr233", format(8, 8, big: false, max: (7, 7, 3), shift: (0, 3, 6))),
    ]

    static func format(
        _ bits: UInt8, _ depth: UInt8, big: Bool, max: (UInt16, UInt16, UInt16), shift: (UInt8, UInt8, UInt8)
    ) -> RFBPixelFormat {
        RFBPixelFormat(
            bitsPerPixel: bits, depth: depth, bigEndian: big, trueColour: true, redMax: max.0, greenMax: max.1,
            blueMax: max.2, redShift: shift.0, greenShift: shift.1, blueShift: shift.2)
    }

    /// `count` colours that stay distinct in every format above (bgr233 has 256 values: 8 red × 8 green × 4 blue).
    static func colours(_ count: Int) -> [UInt32] {
        (0..<count).map { index in
            let r = UInt32(index % 8) * 36
            let g = UInt32((index / 8) % 8) * 36
            let b = UInt32((index / 64) % 4) * 85
            return r << 16 | g << 8 | b
        }
    }

    /// Encodes `pixels` whole with ZRLE in `format`, then `partial` rectangles in the same zlib stream, and
    /// checks the decoder's picture; returns the sub-encodings of the whole-screen update's tiles.
    @discardableResult
    static func roundTrip(
        _ pixels: [UInt32], width: Int, height: Int, format: RFBPixelFormat, name: String,
        partial: [RFBRect] = []
    ) throws -> [UInt8] {
        let source = RFBPixelSource(pixels: pixels, width: width, height: height)
        let encoder = RFBUpdateEncoder(format: format, preferences: RFBEncodingPreferences([RFBEncoding.zrle]))
        var decoder = IndependentDecoder(width: width, height: height, format: format)
        _ = try decoder.apply(
            encoder.update(source: source, rects: [RFBRect(x: 0, y: 0, width: width, height: height)]))
        let whole = decoder.zrleSubencodings
        if !partial.isEmpty { _ = try decoder.apply(encoder.update(source: source, rects: partial)) }
        let expected = pixels.map { format.rgb(fromValue: format.pixelValue($0)) }
        let wrong = zip(decoder.framebuffer, expected).filter { $0 != $1 }.count
        #expect(wrong == 0, "\(name): \(wrong) of \(pixels.count) pixels differ")
        return whole
    }

    /// Colours scattered so no two horizontal neighbours are equal: one colour is solid; up to 16 a packed
    /// palette (its sub-encoding byte is the palette size); up to 127 palette RLE (128 + size), unless raw
    /// is smaller (one-byte pixels: a raw tile of 4096 bytes beats 4096 run bytes plus the palette); beyond
    /// 127 raw, since every run is one pixel.
    @Test(arguments: [
        (1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 4), (5, 5, 5), (16, 16, 16), (17, 145, 0), (127, 255, 0), (128, 0, 0),
    ])
    func scatteredPalettesTakeTheirForm(colourCount: Int, wide: UInt8, oneByte: UInt8) throws {
        // 192×128: six full 64×64 tiles, each with every colour of the palette.
        let width = 192
        let height = 128
        let palette = Self.colours(colourCount)
        let pixels = (0..<(width * height)).map { index in
            let x = index % width
            let y = index / width
            return palette[(x + y * 5) % colourCount]
        }
        for (name, format) in Self.formats {
            let seen = try Self.roundTrip(
                pixels, width: width, height: height, format: format, name: "\(colourCount) colours, \(name)",
                partial: [RFBRect(x: 1, y: 2, width: 67, height: 65)])
            let expected = format.bytesPerPixel == 1 ? oneByte : wide
            #expect(seen == Array(repeating: expected, count: 6), "\(colourCount) colours, \(name): \(seen)")
        }
    }

    /// Horizontal runs of 100 pixels cross every tile's left and right edge; each tile must end its runs at
    /// its own edge and start its own.
    @Test func runsCrossingTileEdgesAreSplitPerTile() throws {
        let width = 200
        let height = 70
        for colourCount in [3, 40, 127, 128, 300] {
            let palette = Self.colours(colourCount)
            let pixels = (0..<(width * height)).map { index in palette[(index / 100 + index / width) % colourCount] }
            for (name, format) in Self.formats {
                let seen = try Self.roundTrip(
                    pixels, width: width, height: height, format: format, name: "runs of \(colourCount), \(name)",
                    partial: [RFBRect(x: 63, y: 0, width: 3, height: 70), RFBRect(x: 99, y: 63, width: 101, height: 7)])
                #expect(seen.count == 4 * 2)
                // Runs make every tile an RLE form (palette RLE while the tile has at most 127 colours).
                #expect(seen.allSatisfy { $0 == 128 || $0 >= 130 || $0 == 1 }, "\(name): \(seen)")
            }
        }
    }

    /// Run lengths at the boundaries of §7.7.6's length bytes (255 and 256 need one and two bytes, 510 and
    /// 511 two and three), in plain RLE (more than 127 colours) and palette RLE.
    @Test func runLengthsAtTheirByteBoundaries() throws {
        let width = 64
        let height = 64
        for colourCount in [2, 200] {
            let palette = Self.colours(colourCount)
            var pixels: [UInt32] = []
            var colour = 0
            // Runs of 1 give the tile its colours; then the long runs.
            for _ in 0..<colourCount {
                pixels.append(palette[colour % colourCount])
                colour += 1
            }
            for length in [254, 255, 256, 257, 509, 510, 511, 512, 766] {
                pixels += Array(repeating: palette[colour % colourCount], count: length)
                colour += 1
            }
            pixels += Array(repeating: palette[colour % colourCount], count: width * height - pixels.count)
            for (name, format) in Self.formats {
                let seen = try Self.roundTrip(
                    pixels, width: width, height: height, format: format, name: "long runs, \(name)")
                // Two colours: palette RLE, except with 1-byte pixels, where the 2-byte palette costs what the
                // two single-pixel runs' length bytes save, and the tie goes to plain RLE.
                let paletteRLE = colourCount == 2 && format.bytesPerPixel > 1
                #expect(seen == [paletteRLE ? 130 : 128], "\(name): \(seen)")
            }
        }
    }

    /// Screens and rectangles whose sizes are not multiples of 64: edge tiles 1 pixel wide or high, and a
    /// one-pixel screen; a solid screen is one solid sub-encoding per tile.
    @Test(arguments: [(1, 1), (65, 1), (1, 65), (131, 70), (200, 129)])
    func oddSizesDecodeExactly(width: Int, height: Int) throws {
        let pixels = testScreen(width: width, height: height, seed: UInt32(width * 7 + height))
        let tiles = ((width + 63) / 64) * ((height + 63) / 64)
        for (name, format) in Self.formats {
            let seen = try Self.roundTrip(
                pixels, width: width, height: height, format: format, name: "\(width)x\(height), \(name)",
                partial: [RFBRect(x: width - 1, y: height - 1, width: 1, height: 1)])
            #expect(seen.count == tiles)
            let solid = [UInt32](repeating: 0x12_3456, count: width * height)
            let solidSeen = try Self.roundTrip(
                solid, width: width, height: height, format: format, name: "solid \(width)x\(height), \(name)")
            #expect(solidSeen == Array(repeating: 1, count: tiles))
        }
    }
}
