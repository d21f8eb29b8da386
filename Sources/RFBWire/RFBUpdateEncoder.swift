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
    /// The fast deflater of ZRLE rectangles at the default compression.
    private var fastDeflater: FastDeflater?
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
            let tiles = ZRLETiles.encode(source, rect, format: format)
            var compressed: [UInt8] = []
            if level <= 1 {
                // The default (no compression level, or 0–2): ISA-L's fast deflate, several times cheaper than
                // zlib's level 1 at a similar or better ratio; a viewer asking for more gets zlib at that level.
                if fastDeflater == nil { fastDeflater = FastDeflater() }
                fastDeflater!.compress(tiles, into: &compressed)
            } else {
                if zlibLevel != level || zlib == nil {
                    zlib = ZlibDeflater(level: level, raw: true)
                    zlibLevel = level
                }
                zlib!.reset()
                zlib!.compress(tiles, into: &compressed)
            }
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
}
