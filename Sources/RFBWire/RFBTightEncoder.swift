import JPEG
import Zlib

/// What a viewer asked of the Tight encoding through its pseudo-encodings (Protocols/framebuffer.md §2.6).
package struct RFBTightSettings: Sendable, Hashable {
    /// JPEG quality level 0–9 (pseudo-encodings −32…−23); nil: the viewer sent none, so no JPEG.
    package var qualityLevel: Int?
    /// Compression level 0–9 (pseudo-encodings −256…−247); 1 when the viewer sent none.
    package var compressLevel: Int

    package init(qualityLevel: Int? = nil, compressLevel: Int = 1) {
        self.qualityLevel = qualityLevel
        self.compressLevel = compressLevel
    }

    /// The zlib level a compression level stands for: levels up to 2 are zlib's fastest (1), the others one
    /// lower (3 → 2 … 9 → 8), so full frames stay within the frame budget at the level noVNC and TigerVNC
    /// ask by default (2).
    package var zlibLevel: Int32 { Int32(compressLevel <= 2 ? 1 : compressLevel - 1) }

    /// JPEG quality (1–100) and chroma subsampling for a quality level: TigerVNC's and TightVNC's table.
    package var jpeg: (quality: Int, subsampling: JPEGSubsampling)? {
        guard let level = qualityLevel else { return nil }
        let quality = [15, 29, 41, 42, 62, 77, 79, 86, 92, 100][min(max(level, 0), 9)]
        let subsampling: JPEGSubsampling = level <= 2 ? .quarter : level <= 5 ? .half : .none
        return (quality, subsampling)
    }
}

/// The Tight encoding (encoding 7; RFC 6143 §7.7.4 names it, the community RFB specification defines it):
/// fill, basic compression (copy or palette filter, zlib streams 0–2) and JPEG, as
/// Protocols/framebuffer.md §2.6 specifies.
///
/// Every basic-compression rectangle resets the zlib stream it uses (the control byte's reset bits) and
/// the encoder resets its own deflater to match, so a rectangle's bytes depend only on its pixels, the
/// viewer's pixel format and its Tight settings — never on what that viewer was sent before. That is what
/// lets viewers with the same format and settings share one encoding of each rectangle (`RFBRectCache`).
package final class RFBTightEncoder {
    /// Tight's rectangles are at most 2048 pixels wide (the community specification; TigerVNC refuses
    /// wider ones); the hub also keeps each at most 65,536 pixels, so a full screen becomes a few bands.
    package static let maxWidth = 2048
    package static let maxPixels = 65536
    /// Palettes up to this many colours use the palette filter.
    package static let maxPaletteColours = 16

    private var deflaters: [Int32: ZlibDeflater] = [:]
    private var jpeg: JPEGCompressor?
    private var palette: [UInt32] = []
    private var data: [UInt8] = []

    package init() {}

    /// Splits a rectangle into the bands Tight sends: at most `maxWidth` wide and `maxPixels` large.
    package static func bands(_ rect: RFBRect) -> [RFBRect] {
        var out: [RFBRect] = []
        var x = rect.x
        while x < rect.x + rect.width {
            let width = min(maxWidth, rect.x + rect.width - x)
            let rows = max(1, maxPixels / width)
            var y = rect.y
            while y < rect.y + rect.height {
                let height = min(rows, rect.y + rect.height - y)
                out.append(RFBRect(x: x, y: y, width: width, height: height))
                y += height
            }
            x += width
        }
        return out
    }

    /// Compact length (1–3 bytes, 7 bits each, least significant first; at most 22 bits).
    package static func appendCompactLength(_ length: Int, to out: inout [UInt8]) {
        precondition(length >= 0 && length < 1 << 22)
        if length < 0x80 {
            out.append(UInt8(length))
        } else if length < 0x4000 {
            out.append(UInt8(length & 0x7f) | 0x80)
            out.append(UInt8(length >> 7))
        } else {
            out.append(UInt8(length & 0x7f) | 0x80)
            out.append(UInt8((length >> 7) & 0x7f) | 0x80)
            out.append(UInt8(length >> 14))
        }
    }

    /// Whether TPIXEL is 3 bytes (red, green, blue) for this format.
    package static func compactPixels(_ format: RFBPixelFormat) -> Bool {
        format.trueColour && format.bitsPerPixel == 32 && format.depth == 24 && format.redMax == 255
            && format.greenMax == 255 && format.blueMax == 255
    }

    /// The body of one band (after the rectangle header): `rect` must be one of `bands`' rectangles.
    package func encode(
        _ source: RFBPixelSource, _ rect: RFBRect, format: RFBPixelFormat, settings: RFBTightSettings,
        into out: inout [UInt8]
    ) {
        precondition(rect.width <= Self.maxWidth && rect.width * rect.height <= Self.maxPixels)
        let compact = Self.compactPixels(format)
        let colours = countColours(source, rect)
        if colours == 1 {
            out.append(0x80)
            appendTPixel(source[rect.x, rect.y], format: format, compact: compact, to: &out)
            return
        }
        if colours <= Self.maxPaletteColours {
            encodePalette(source, rect, format: format, compact: compact, settings: settings, into: &out)
            return
        }
        if compact, let (quality, subsampling) = settings.jpeg {
            if jpeg == nil { jpeg = JPEGCompressor() }
            if let image = jpeg!.compress(
                source.pixels, stride: source.width, x: rect.x, y: rect.y, width: rect.width, height: rect.height,
                quality: quality, subsampling: subsampling)
            {
                out.append(0x90)
                Self.appendCompactLength(image.count, to: &out)
                out += image
                return
            }
        }
        // Basic compression, copy filter (no filter byte), stream 0 reset first.
        data.removeAll(keepingCapacity: true)
        data.reserveCapacity(rect.width * rect.height * (compact ? 3 : format.bytesPerPixel))
        for y in rect.y..<(rect.y + rect.height) {
            let row = y * source.width
            for x in rect.x..<(rect.x + rect.width) {
                appendTPixel(source.pixels[row + x], format: format, compact: compact, to: &data)
            }
        }
        out.append(0x01)
        appendCompressed(stream: 0, settings: settings, into: &out)
    }

    /// Distinct colours of the band in the viewer's format, counted up to `maxPaletteColours + 1`; the
    /// palette holds them (native values, first-seen order).
    private func countColours(_ source: RFBPixelSource, _ rect: RFBRect) -> Int {
        palette.removeAll(keepingCapacity: true)
        var last: UInt32 = source[rect.x, rect.y]
        palette.append(last)
        for y in rect.y..<(rect.y + rect.height) {
            let row = y * source.width
            for x in rect.x..<(rect.x + rect.width) {
                let value = source.pixels[row + x]
                if value == last { continue }
                last = value
                if !palette.contains(value) {
                    palette.append(value)
                    if palette.count > Self.maxPaletteColours { return palette.count }
                }
            }
        }
        return palette.count
    }

    /// Palette filter (filter id 1): two colours as one bit per pixel on stream 1, more as one byte per
    /// pixel on stream 2.
    private func encodePalette(
        _ source: RFBPixelSource, _ rect: RFBRect, format: RFBPixelFormat, compact: Bool,
        settings: RFBTightSettings, into out: inout [UInt8]
    ) {
        // Two native colours that look the same in a coarse format are still two palette entries: the
        // palette is a list, not a set, and the viewer paints either value the same.
        let stream = palette.count == 2 ? 1 : 2
        out.append(UInt8(stream << 4) | 0x40 | UInt8(1 << stream))
        out.append(1)
        out.append(UInt8(palette.count - 1))
        for colour in palette { appendTPixel(colour, format: format, compact: compact, to: &out) }
        data.removeAll(keepingCapacity: true)
        if palette.count == 2 {
            let second = palette[1]
            for y in rect.y..<(rect.y + rect.height) {
                let row = y * source.width
                var byte: UInt8 = 0
                var used = 0
                for x in rect.x..<(rect.x + rect.width) {
                    byte = byte << 1 | (source.pixels[row + x] == second ? 1 : 0)
                    used += 1
                    if used == 8 {
                        data.append(byte)
                        byte = 0
                        used = 0
                    }
                }
                if used > 0 { data.append(byte << UInt8(8 - used)) }
            }
        } else {
            for y in rect.y..<(rect.y + rect.height) {
                let row = y * source.width
                for x in rect.x..<(rect.x + rect.width) {
                    let value = source.pixels[row + x]
                    data.append(UInt8(palette.firstIndex(of: value)!))
                }
            }
        }
        appendCompressed(stream: stream, settings: settings, into: &out)
    }

    /// `data` as Tight sends filtered pixels: under 12 bytes as they are, else a compact length and the
    /// zlib data of a freshly reset stream, sync-flushed.
    private func appendCompressed(stream: Int, settings: RFBTightSettings, into out: inout [UInt8]) {
        if data.count < 12 {
            out += data
            return
        }
        let level = settings.zlibLevel
        let deflater = deflaters[level] ?? ZlibDeflater(level: level)
        deflaters[level] = deflater
        deflater.reset()
        var compressed: [UInt8] = []
        deflater.compress(data, into: &compressed)
        Self.appendCompactLength(compressed.count, to: &out)
        out += compressed
    }

    @inline(__always)
    private func appendTPixel(_ native: UInt32, format: RFBPixelFormat, compact: Bool, to out: inout [UInt8]) {
        if compact {
            out.append(UInt8((native >> 16) & 0xff))
            out.append(UInt8((native >> 8) & 0xff))
            out.append(UInt8(native & 0xff))
        } else {
            format.append(value: format.pixelValue(native), to: &out)
        }
    }
}
