import Foundation
import Testing
import VectorSupport
import Wire
import Zlib

@testable import Framebuffer

/// `fb.wait {png}` decodes expected images with `PNGDecoder`; these check it against images written by
/// an independent encoder (Pillow, vectors on disk), every filter type, and hostile inputs.
@Suite struct PNGDecoderTests {
    static func vector(_ name: String) throws -> [UInt8] {
        try VectorSet.bytes("framebuffer/png.vectors", name)
    }

    static func gradient(_ x: Int, _ y: Int) -> UInt32 {
        UInt32((x * 16) & 0xff) << 16 | UInt32((y * 32) & 0xff) << 8 | UInt32((x * y * 5) & 0xff)
    }

    @Test(arguments: ["png-gradient-rgb", "png-gradient-rgba"])
    func decodesPillowImages(file: String) throws {
        let image = try PNGDecoder.decode(try Self.vector(file), maxPixels: 1 << 20)
        #expect(image.width == 16 && image.height == 8)
        let expected = (0..<8).flatMap { y in (0..<16).map { x in Self.gradient(x, y) } }
        #expect(image.pixels == expected)
    }

    @Test func decodesTheHubsOwnScreenshots() throws {
        let pixels: [UInt32] = (0..<(7 * 5)).map { UInt32($0 &* 0x01_0305) & 0xff_ffff }
        let png = PNGEncoder.encode(pixels: pixels, width: 7, height: 5)
        #expect(try PNGDecoder.decode(png, maxPixels: 35).pixels == pixels)
    }

    /// Builds a PNG around already-filtered scanlines (greyscale, 8-bit).
    static func greyPNG(width: Int, height: Int, scanlines: [UInt8], chunksAfterHeader: [[UInt8]] = []) -> [UInt8] {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be32(UInt32(data.count)) + body + be32(Zlib.crc32(body[...]))
        }
        let header = be32(UInt32(width)) + be32(UInt32(height)) + [8, 0, 0, 0, 0]
        return PNGDecoder.signature + chunk("IHDR", header) + chunksAfterHeader.flatMap { $0 }
            + chunk("IDAT", Zlib.deflate(scanlines)) + chunk("IEND", [])
    }

    @Test func undoesUpAndAverageFilters() throws {
        // Row 0 unfiltered: 10 20 30. Row 1 "Up": +1 each → 11 21 31. Row 2 "Average" of left and up:
        // x0: 5 + (0 + 11) / 2 = 10; x1: 5 + (10 + 21) / 2 = 20; x2: 5 + (20 + 31) / 2 = 30.
        let lines: [UInt8] = [0, 10, 20, 30, 2, 1, 1, 1, 3, 5, 5, 5]
        let image = try PNGDecoder.decode(Self.greyPNG(width: 3, height: 3, scanlines: lines), maxPixels: 9)
        #expect(image.pixels.map { $0 & 0xff } == [10, 20, 30, 11, 21, 31, 10, 20, 30])
        #expect(image.pixels[0] == 0x0a_0a0a)
    }

    @Test func refusesHostileImages() throws {
        let good = Self.greyPNG(width: 2, height: 1, scanlines: [0, 1, 2])
        #expect(try PNGDecoder.decode(good, maxPixels: 2).pixels.count == 2)
        var badCRC = good
        badCRC[30] ^= 0xff
        var huge = Self.greyPNG(width: 2, height: 1, scanlines: [0, 1, 2])
        // IHDR width 0x40000000: over maxPixels before anything is inflated.
        huge.replaceSubrange(16..<20, with: [0x40, 0, 0, 0])
        let headerCRC = Zlib.crc32(huge[12..<29])
        huge.replaceSubrange(29..<33, with: be32(headerCRC))
        let cases: [[UInt8]] = [
            [], Array(good.prefix(20)), badCRC, huge,
            Self.greyPNG(width: 2, height: 1, scanlines: [0, 1]),  // short data
            Self.greyPNG(width: 2, height: 1, scanlines: [7, 1, 2]),  // unknown filter
            Self.greyPNG(width: 2, height: 2, scanlines: [0, 1, 2]),  // too few rows
            // A 1 MiB bomb of zero rows claimed by a 2x1 image: stops at the expected size.
            Self.greyPNG(width: 2, height: 1, scanlines: [UInt8](repeating: 0, count: 1 << 20)),
        ]
        for png in cases {
            #expect(throws: PNGDecoder.Failure.self) { try PNGDecoder.decode(png, maxPixels: 1 << 20) }
        }
        #expect(throws: PNGDecoder.Failure.self) { try PNGDecoder.decode(good, maxPixels: 1) }
    }
}
