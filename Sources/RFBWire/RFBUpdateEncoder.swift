import Zlib

/// Builds FramebufferUpdate messages (RFC 6143 §7.6.1) for one client: its pixel format, its encodings,
/// and its own ZRLE zlib stream.
///
/// Rectangles are encoded in the order: pseudo-rectangles (DesktopSize, Cursor), CopyRect moves, then
/// pixel rectangles, so a move never reads pixels that a later rectangle of the same update repaints.
package final class RFBUpdateEncoder {
    package var format: RFBPixelFormat
    package var preferences: RFBEncodingPreferences
    /// The raw deflater ZRLE rectangles are compressed with, and its level.
    private var zlib: ZlibDeflater?
    private var zlibLevel: Int32 = 0
    /// Whether this viewer's ZRLE zlib stream has begun (its header sent).
    private var zrleStreamStarted = false
    private var tight: RFBTightEncoder?
    /// Encoded bytes per encoding (for the benchmark and `fb.layers` counters).
    package private(set) var bytesByEncoding: [Int32: UInt64] = [:]

    package init(format: RFBPixelFormat = .native, preferences: RFBEncodingPreferences = RFBEncodingPreferences()) {
        self.format = format
        self.preferences = preferences
    }

    /// One move: the client copies `source` origin to `destination` (same size).
    package struct Move: Sendable, Equatable {
        package var sourceX: Int
        package var sourceY: Int
        package var destination: RFBRect

        package init(sourceX: Int, sourceY: Int, destination: RFBRect) {
            self.sourceX = sourceX
            self.sourceY = sourceY
            self.destination = destination
        }
    }

    /// Largest rectangle count in one message (u16 on the wire).
    package static let maxRectangles = 0xffff

    /// The whole FramebufferUpdate message. `rects` must lie inside `source`.
    package func update(
        source: RFBPixelSource, rects: [RFBRect], moves: [Move] = [], cursor: RFBCursor? = nil,
        desktopSize: (width: Int, height: Int)? = nil, cache: RFBRectCache? = nil
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + rects.reduce(0) { $0 + $1.width * $1.height * format.bytesPerPixel })
        var count = 0
        out += [0, 0, 0, 0]
        if let desktopSize, preferences.desktopSize {
            header(
                &out, RFBRect(x: 0, y: 0, width: desktopSize.width, height: desktopSize.height),
                RFBEncoding.desktopSize)
            count += 1
        }
        if let cursor, preferences.cursor {
            encodeCursor(cursor, into: &out)
            count += 1
        }
        for move in moves {
            header(&out, move.destination, RFBEncoding.copyRect)
            out += [
                UInt8(move.sourceX >> 8), UInt8(move.sourceX & 0xff), UInt8(move.sourceY >> 8),
                UInt8(move.sourceY & 0xff),
            ]
            bytesByEncoding[RFBEncoding.copyRect, default: 0] += 16
            count += 1
        }
        // Tight sends bands of limited size (Protocols/framebuffer.md §2.6); each is one rectangle on the wire.
        let pixelRects = preferences.pixels == RFBEncoding.tight ? rects.flatMap(RFBTightEncoder.bands) : rects
        for rect in pixelRects where rect.width > 0 && rect.height > 0 {
            let before = out.count
            if let cache, RFBRectCache.isCacheable(preferences.pixels) {
                // The header is part of the cached bytes: same rectangle, same encoding, same Tight settings.
                let key = RFBRectCache.Key(
                    format: format, encoding: preferences.pixels, rect: rect,
                    tight: preferences.pixels == RFBEncoding.tight ? preferences.tight : RFBTightSettings())
                if let encoded = cache.lookup(key) {
                    out += encoded
                } else {
                    encodePixels(source, rect, into: &out)
                    cache.store(key, Array(out[before...]))
                }
                bytesByEncoding[preferences.pixels, default: 0] += UInt64(out.count - before)
                count += 1
                continue
            }
            switch preferences.pixels {
            case RFBEncoding.hextile, RFBEncoding.tight:
                encodePixels(source, rect, into: &out)
            case RFBEncoding.zrle:
                header(&out, rect, RFBEncoding.zrle)
                encodeZRLE(source, rect, into: &out, cache: cache)
            default:
                header(&out, rect, RFBEncoding.raw)
                encodeRaw(source, rect, into: &out)
            }
            bytesByEncoding[preferences.pixels, default: 0] += UInt64(out.count - before)
            count += 1
        }
        precondition(count <= Self.maxRectangles)
        out[2] = UInt8(count >> 8)
        out[3] = UInt8(count & 0xff)
        return out
    }

    /// Header and body of one Raw, Hextile or Tight rectangle (the cacheable encodings).
    private func encodePixels(_ source: RFBPixelSource, _ rect: RFBRect, into out: inout [UInt8]) {
        if preferences.pixels == RFBEncoding.tight {
            header(&out, rect, RFBEncoding.tight)
            if tight == nil { tight = RFBTightEncoder() }
            tight!.encode(source, rect, format: format, settings: preferences.tight, into: &out)
        } else if preferences.pixels == RFBEncoding.hextile {
            header(&out, rect, RFBEncoding.hextile)
            encodeHextile(source, rect, into: &out)
        } else {
            header(&out, rect, RFBEncoding.raw)
            encodeRaw(source, rect, into: &out)
        }
    }

    private func header(_ out: inout [UInt8], _ rect: RFBRect, _ encoding: Int32) {
        for value in [rect.x, rect.y, rect.width, rect.height] {
            out.append(UInt8((value >> 8) & 0xff))
            out.append(UInt8(value & 0xff))
        }
        out += u32(UInt32(bitPattern: encoding))
    }

    // MARK: Raw (§7.7.1)

    func encodeRaw(_ source: RFBPixelSource, _ rect: RFBRect, into out: inout [UInt8]) {
        if format == .native {
            // Fast path: the screen's little-endian words are already the client's bytes.
            // SAFETY: the rows read lie inside `source.pixels` (rect is inside the source).
            source.pixels.withUnsafeBytes { raw in
                for y in rect.y..<(rect.y + rect.height) {
                    let start = (y * source.width + rect.x) * 4
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<(start + rect.width * 4)]))
                }
            }
            return
        }
        for y in rect.y..<(rect.y + rect.height) {
            for x in rect.x..<(rect.x + rect.width) {
                format.append(value: format.pixelValue(source[x, y]), to: &out)
            }
        }
    }

    // MARK: Cursor (§7.8.1)

    private func encodeCursor(_ cursor: RFBCursor, into out: inout [UInt8]) {
        header(
            &out, RFBRect(x: cursor.hotspotX, y: cursor.hotspotY, width: cursor.width, height: cursor.height),
            RFBEncoding.cursor)
        for pixel in cursor.pixels { format.append(value: format.pixelValue(pixel), to: &out) }
        out += cursor.mask
    }

    // MARK: Hextile (§7.7.4)

    private enum HextileFlag {
        static let raw: UInt8 = 1
        static let backgroundSpecified: UInt8 = 2
        static let foregroundSpecified: UInt8 = 4
        static let anySubrects: UInt8 = 8
        static let subrectsColoured: UInt8 = 16
    }

    /// A Hextile tile's colours in the client's pixel values: the first two distinct colours and their counts,
    /// and how many distinct colours it has (3 meaning "more than two").
    private struct HextileColours {
        var a: UInt32 = 0
        var b: UInt32 = 0
        var countA = 0
        var countB = 0
        var distinct = 0
    }

    /// One Hextile subrectangle, in tile coordinates.
    private typealias HextileSubrect = (x: Int, y: Int, w: Int, h: Int, colour: UInt32)

    func encodeHextile(_ source: RFBPixelSource, _ rect: RFBRect, into out: inout [UInt8]) {
        var lastBackground: UInt32?
        var tile = [UInt32](repeating: 0, count: 256)
        var subrects: [HextileSubrect] = []
        let bpp = format.bytesPerPixel
        var ty = rect.y
        while ty < rect.y + rect.height {
            let th = min(16, rect.y + rect.height - ty)
            var tx = rect.x
            while tx < rect.x + rect.width {
                let tw = min(16, rect.x + rect.width - tx)
                // Tile pixels in the client's pixel values, read here so `tile` stays a local (no uniqueness check
                // per write).
                var colours = HextileColours()
                for y in 0..<th {
                    for x in 0..<tw {
                        let value = format.pixelValue(source[tx + x, ty + y])
                        tile[y * 16 + x] = value
                        if colours.distinct == 0 {
                            colours.a = value
                            colours.distinct = 1
                        }
                        if value == colours.a {
                            colours.countA += 1
                        } else if colours.distinct == 1 {
                            colours.b = value
                            colours.distinct = 2
                            colours.countB = 1
                        } else if value == colours.b {
                            colours.countB += 1
                        } else {
                            colours.distinct = 3
                        }
                    }
                }
                defer { tx += tw }
                if colours.distinct == 1 {
                    if lastBackground != colours.a {
                        out.append(HextileFlag.backgroundSpecified)
                        format.append(value: colours.a, to: &out)
                        lastBackground = colours.a
                    } else {
                        out.append(0)
                    }
                    continue
                }
                let background =
                    colours.distinct == 2 ? (colours.countA >= colours.countB ? colours.a : colours.b) : colours.a
                let fits = Self.hextileSubrects(
                    tile, width: tw, height: th, background: background, twoColours: colours.distinct == 2, bpp: bpp,
                    into: &subrects)
                if !fits {
                    out.append(HextileFlag.raw)
                    for y in 0..<th { for x in 0..<tw { format.append(value: tile[y * 16 + x], to: &out) } }
                    lastBackground = nil
                    continue
                }
                appendHextileSubrects(
                    subrects, colours: colours, background: background, lastBackground: &lastBackground, into: &out)
            }
            ty += th
        }
    }

    /// Greedy subrectangles of the tile's non-background pixels into `subrects`; false when they would take
    /// more bytes than the raw tile (or more than 255 of them), so the tile goes raw.
    @inline(__always)
    private static func hextileSubrects(
        _ tile: [UInt32], width tw: Int, height th: Int, background: UInt32, twoColours: Bool, bpp: Int,
        into subrects: inout [HextileSubrect]
    ) -> Bool {
        subrects.removeAll(keepingCapacity: true)
        // A local array, so its writes below need no uniqueness check each (an `inout` one measured 10% slower).
        var covered = [Bool](repeating: false, count: 256)
        var budget = tw * th * bpp
        for y in 0..<th {
            for x in 0..<tw where !covered[y * 16 + x] && tile[y * 16 + x] != background {
                let colour = tile[y * 16 + x]
                var w = 1
                while x + w < tw && !covered[y * 16 + x + w] && tile[y * 16 + x + w] == colour { w += 1 }
                var h = 1
                grow: while y + h < th {
                    for cx in x..<(x + w) where covered[(y + h) * 16 + cx] || tile[(y + h) * 16 + cx] != colour {
                        break grow
                    }
                    h += 1
                }
                for cy in y..<(y + h) { for cx in x..<(x + w) { covered[cy * 16 + cx] = true } }
                subrects.append((x, y, w, h, colour))
                budget -= twoColours ? 2 : 2 + bpp
                if budget <= 0 || subrects.count > 255 { return false }
            }
        }
        return true
    }

    /// A tile as its background (when it changed), its foreground (two-colour tiles) and its subrectangles.
    @inline(__always)
    private func appendHextileSubrects(
        _ subrects: [HextileSubrect], colours: HextileColours, background: UInt32, lastBackground: inout UInt32?,
        into out: inout [UInt8]
    ) {
        let twoColours = colours.distinct == 2
        var flags = HextileFlag.anySubrects
        if lastBackground != background { flags |= HextileFlag.backgroundSpecified }
        flags |= twoColours ? HextileFlag.foregroundSpecified : HextileFlag.subrectsColoured
        out.append(flags)
        if flags & HextileFlag.backgroundSpecified != 0 { format.append(value: background, to: &out) }
        lastBackground = background
        if twoColours { format.append(value: background == colours.a ? colours.b : colours.a, to: &out) }
        out.append(UInt8(subrects.count))
        for subrect in subrects {
            if !twoColours { format.append(value: subrect.colour, to: &out) }
            out.append(UInt8(subrect.x << 4 | subrect.y))
            out.append(UInt8((subrect.w - 1) << 4 | (subrect.h - 1)))
        }
    }

    // MARK: ZRLE (§7.7.6)

    /// Static, with the format passed in: a read of the class's `format` per pixel costs a dynamic
    /// exclusivity check each.
    @inline(__always)
    private static func appendCPixel(
        _ value: UInt32, _ mode: RFBPixelFormat.CompressedPixel, _ format: RFBPixelFormat, _ out: inout [UInt8]
    ) {
        switch mode {
        case .full:
            format.append(value: value, to: &out)
        case .threeLow, .threeHigh:
            // Serialise the 4-byte pixel, keep 3 of its bytes.
            let b0: UInt8
            let b1: UInt8
            let b2: UInt8
            let b3: UInt8
            if format.bigEndian {
                (b0, b1, b2, b3) = (
                    UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff),
                    UInt8(value & 0xff)
                )
            } else {
                (b0, b1, b2, b3) = (
                    UInt8(value & 0xff), UInt8((value >> 8) & 0xff), UInt8((value >> 16) & 0xff),
                    UInt8(value >> 24)
                )
            }
            if mode == .threeLow {
                out.append(b0)
                out.append(b1)
                out.append(b2)
            } else {
                out.append(b1)
                out.append(b2)
                out.append(b3)
            }
        }
    }

    private static func appendRunLength(_ length: Int, _ out: inout [UInt8]) {
        var rest = length - 1
        while rest >= 255 {
            out.append(255)
            rest -= 255
        }
        out.append(UInt8(rest))
    }

    /// What one ZRLE tile's pixels cost in each run-length form, counted while reading it.
    private struct ZRLERunBytes {
        var plain = 0
        var palette = 0
    }

    /// One ZRLE rectangle's body: its tiles (§7.7.6) as deflate blocks in the viewer's one zlib stream.
    ///
    /// Each rectangle is compressed from a fresh deflate state (raw deflate, reset per rectangle) and
    /// sync-flushed, so its blocks refer to nothing sent before and continue any viewer's stream at the byte
    /// boundary the previous rectangle ended on; only a viewer's first rectangle is preceded by the zlib
    /// header. The stream is never reset on the viewer's side, as §7.7.6 requires, and never ends, so its
    /// checksum is never checked. The compressed blocks therefore depend only on the pixels, the pixel format
    /// and the zlib level, and viewers that share those share them through `cache`.
    func encodeZRLE(_ source: RFBPixelSource, _ rect: RFBRect, into out: inout [UInt8], cache: RFBRectCache? = nil) {
        // The viewer's compression level (the pseudo-encoding Tight also uses) sets the zlib level.
        let level = preferences.tight.zlibLevel
        // The zlib level (not the compression level it comes from) is what the blocks depend on.
        let key = RFBRectCache.Key(
            format: format, encoding: RFBEncoding.zrle, rect: rect, tight: RFBTightSettings(compressLevel: Int(level)))
        let blocks: [UInt8]
        if let shared = cache?.lookup(key) {
            blocks = shared
        } else {
            if zlibLevel != level || zlib == nil {
                zlib = ZlibDeflater(level: level, raw: true)
                zlibLevel = level
            }
            zlib!.reset()
            var compressed: [UInt8] = []
            zlib!.compress(zrleTiles(source, rect), into: &compressed)
            blocks = compressed
            cache?.store(key, blocks)
        }
        // RFC 1950 header: deflate with a 32 KiB window, no dictionary; 0x7801 is a multiple of 31.
        let header: [UInt8] = zrleStreamStarted ? [] : [0x78, 0x01]
        zrleStreamStarted = true
        out += u32(UInt32(header.count + blocks.count))
        out += header
        out += blocks
    }

    /// The rectangle's ZRLE tiles before compression.
    private func zrleTiles(_ source: RFBPixelSource, _ rect: RFBRect) -> [UInt8] {
        let mode = format.compressedPixel
        let cpixelSize = mode == .full ? format.bytesPerPixel : 3
        var data: [UInt8] = []
        data.reserveCapacity(rect.width * rect.height * cpixelSize + (rect.width / 64 + 1) * (rect.height / 64 + 1))
        var tile = [UInt32](repeating: 0, count: 64 * 64)
        var palette: [UInt32] = []
        var paletteIndex: [UInt32: Int] = [:]
        var ty = rect.y
        while ty < rect.y + rect.height {
            let th = min(64, rect.y + rect.height - ty)
            var tx = rect.x
            while tx < rect.x + rect.width {
                let tw = min(64, rect.x + rect.width - tx)
                let runBytes = readZRLETile(
                    source, x: tx, y: ty, width: tw, height: th, cpixelSize: cpixelSize, into: &tile,
                    palette: &palette, paletteIndex: &paletteIndex)
                let kind = Self.zrleSubencoding(
                    width: tw, height: th, colours: palette.count, cpixelSize: cpixelSize, runBytes: runBytes)
                appendZRLETile(
                    kind, tile, width: tw, height: th, palette: palette, paletteIndex: paletteIndex, mode: mode,
                    into: &data)
                tx += tw
            }
            ty += th
        }
        return data
    }

    /// Reads one tile's pixels into `tile` (rows of `width`) in the client's pixel values, collecting up to 128
    /// palette entries (128 meaning "more than 127") and what its runs would cost.
    @inline(__always)
    private func readZRLETile(
        _ source: RFBPixelSource, x tx: Int, y ty: Int, width tw: Int, height th: Int, cpixelSize: Int,
        into tile: inout [UInt32], palette: inout [UInt32], paletteIndex: inout [UInt32: Int]
    ) -> ZRLERunBytes {
        palette.removeAll(keepingCapacity: true)
        paletteIndex.removeAll(keepingCapacity: true)
        var runBytes = ZRLERunBytes()
        var previous: UInt32 = 0
        var runLength = 0
        // Read once: the class's `format` per pixel would cost an exclusivity check and a format comparison.
        let format = self.format
        let native = format == .native
        for y in 0..<th {
            let row = (ty + y) * source.width + tx
            for x in 0..<tw {
                let pixel = source.pixels[row + x]
                let value = native ? pixel & 0x00ff_ffff : format.pixelValue(pixel)
                tile[y * tw + x] = value
                // A pixel that continues a run is already in the palette (or the palette is full): no lookup.
                if runLength == 0 || value != previous, palette.count <= 127, paletteIndex[value] == nil {
                    paletteIndex[value] = palette.count
                    palette.append(value)
                }
                if runLength > 0 && value == previous {
                    runLength += 1
                } else {
                    if runLength > 0 {
                        let lengthBytes = (runLength - 1) / 255 + 1
                        runBytes.plain += cpixelSize + lengthBytes
                        runBytes.palette += runLength == 1 ? 1 : 1 + lengthBytes
                    }
                    previous = value
                    runLength = 1
                }
            }
        }
        let lastLengthBytes = (runLength - 1) / 255 + 1
        runBytes.plain += cpixelSize + lastLengthBytes
        runBytes.palette += runLength == 1 ? 1 : 1 + lastLengthBytes
        return runBytes
    }

    /// The smallest sub-encoding for a tile: 1 solid, 0 raw, 128 plain RLE, 2–16 packed palette, 130–255
    /// palette RLE (RFC 6143 §7.7.6).
    @inline(__always)
    private static func zrleSubencoding(
        width tw: Int, height th: Int, colours: Int, cpixelSize: Int, runBytes: ZRLERunBytes
    ) -> Int {
        if colours == 1 { return 1 }
        var best = (kind: 0, size: tw * th * cpixelSize)
        if runBytes.plain < best.size { best = (128, runBytes.plain) }
        if colours <= 16 {
            let bits = colours <= 2 ? 1 : colours <= 4 ? 2 : 4
            let size = colours * cpixelSize + th * ((tw * bits + 7) / 8)
            if size < best.size { best = (colours, size) }
        }
        if colours <= 127 {
            let size = colours * cpixelSize + runBytes.palette
            if size < best.size { best = (128 + colours, size) }
        }
        return best.kind
    }

    /// One tile in the sub-encoding `kind` chose by `zrleSubencoding`.
    @inline(__always)
    private func appendZRLETile(
        _ kind: Int, _ tile: [UInt32], width tw: Int, height th: Int, palette: [UInt32],
        paletteIndex: [UInt32: Int], mode: RFBPixelFormat.CompressedPixel, into data: inout [UInt8]
    ) {
        let count = tw * th
        let format = self.format
        switch kind {
        case 1:
            data.append(1)
            Self.appendCPixel(tile[0], mode, format, &data)
        case 0:
            data.append(0)
            for index in 0..<count { Self.appendCPixel(tile[index], mode, format, &data) }
        case 128:
            data.append(128)
            var index = 0
            while index < count {
                let value = tile[index]
                var end = index + 1
                while end < count && tile[end] == value { end += 1 }
                Self.appendCPixel(value, mode, format, &data)
                Self.appendRunLength(end - index, &data)
                index = end
            }
        case 2...16:
            data.append(UInt8(palette.count))
            for value in palette { Self.appendCPixel(value, mode, format, &data) }
            Self.appendPackedPalette(tile, width: tw, height: th, paletteIndex: paletteIndex, into: &data)
        default:
            data.append(UInt8(128 + palette.count))
            for value in palette { Self.appendCPixel(value, mode, format, &data) }
            Self.appendPaletteRuns(tile, count: count, paletteIndex: paletteIndex, into: &data)
        }
    }

    /// Packed palette indices: 1, 2 or 4 bits per pixel by palette size, each row padded to a byte.
    @inline(__always)
    private static func appendPackedPalette(
        _ tile: [UInt32], width tw: Int, height th: Int, paletteIndex: [UInt32: Int], into data: inout [UInt8]
    ) {
        let colours = paletteIndex.count
        let bits = colours <= 2 ? 1 : colours <= 4 ? 2 : 4
        var lastValue = tile[0]
        var lastIndex = UInt8(paletteIndex[lastValue]!)
        for y in 0..<th {
            var byte: UInt8 = 0
            var used = 0
            for x in 0..<tw {
                // Neighbours are often the same colour: look the index up only when the colour changes.
                let value = tile[y * tw + x]
                if value != lastValue {
                    lastValue = value
                    lastIndex = UInt8(paletteIndex[value]!)
                }
                byte = byte << UInt8(bits) | lastIndex
                used += bits
                if used == 8 {
                    data.append(byte)
                    byte = 0
                    used = 0
                }
            }
            if used > 0 { data.append(byte << UInt8(8 - used)) }
        }
    }

    /// Palette RLE: a run of one pixel is its index; longer runs set the top bit and add a run length.
    @inline(__always)
    private static func appendPaletteRuns(
        _ tile: [UInt32], count: Int, paletteIndex: [UInt32: Int], into data: inout [UInt8]
    ) {
        var index = 0
        while index < count {
            let value = tile[index]
            var end = index + 1
            while end < count && tile[end] == value { end += 1 }
            let entry = UInt8(paletteIndex[value]!)
            if end - index == 1 {
                data.append(entry)
            } else {
                data.append(entry | 0x80)
                Self.appendRunLength(end - index, &data)
            }
            index = end
        }
    }
}
