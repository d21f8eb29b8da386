/// The uncompressed ZRLE tile data of one rectangle (RFC 6143 §7.7.6), before it goes through the viewer's
/// zlib stream.
///
/// Each 64×64 tile (smaller at the rectangle's right and bottom edges) gets the smallest of the sub-encodings:
/// solid (1), raw (0), plain RLE (128), packed palette (2–16) or palette RLE (130–255). One pass over a tile
/// reads its pixels in the client's pixel values, measures its runs (a run never continues into the next
/// tile: each tile's runs are its own, in row order) and collects its palette until it has more than 127
/// colours; a second pass writes the chosen form. Everything is read and written through pointers into
/// buffers sized up front, with no allocation per tile: this runs once per frame for every viewer with the
/// same pixel format (`RFBRectCache`), and at full-screen animation rates it is most of the hub's work.
enum ZRLETiles {
    /// Largest palette a palette sub-encoding can carry (§7.7.6: 2–127 colours).
    static let maxPalette = 127

    /// How a pixel value is written as a CPIXEL (or PIXEL): store `word` (the value, byte-swapped when
    /// `swap`, then shifted right by `shift`) as 4 little-endian bytes and keep the first `size` of them.
    /// The buffers written have 3 bytes of slack after their last pixel for the bytes not kept.
    struct CPixelLayout {
        var size: Int
        var swap: Bool
        var shift: UInt32

        init(_ format: RFBPixelFormat) {
            switch (format.compressedPixel, format.bytesPerPixel, format.bigEndian) {
            case (.threeLow, _, let big): self = CPixelLayout(size: 3, swap: big, shift: 0)
            case (.threeHigh, _, let big): self = CPixelLayout(size: 3, swap: big, shift: 8)
            case (.full, 2, true): self = CPixelLayout(size: 2, swap: true, shift: 16)
            case (.full, let size, let big): self = CPixelLayout(size: size, swap: big && size == 4, shift: 0)
            }
        }

        init(size: Int, swap: Bool, shift: UInt32) {
            self.size = size
            self.swap = swap
            self.shift = shift
        }

        @inline(__always)
        func word(_ value: UInt32) -> UInt32 { (swap ? value.byteSwapped : value) >> shift }
    }

    /// Native `0x00RRGGBB` to the client's pixel value, with the format's constants read once.
    struct Converter {
        let native: Bool
        let redMax: UInt32
        let greenMax: UInt32
        let blueMax: UInt32
        let redShift: UInt32
        let greenShift: UInt32
        let blueShift: UInt32

        init(_ format: RFBPixelFormat) {
            native = format == .native
            redMax = UInt32(format.redMax)
            greenMax = UInt32(format.greenMax)
            blueMax = UInt32(format.blueMax)
            redShift = UInt32(format.redShift)
            greenShift = UInt32(format.greenShift)
            blueShift = UInt32(format.blueShift)
        }

        /// The same value as `RFBPixelFormat.pixelValue`.
        @inline(__always)
        func value(_ rgb: UInt32) -> UInt32 {
            if native { return rgb & 0x00ff_ffff }
            let r = (rgb >> 16) & 0xff
            let g = (rgb >> 8) & 0xff
            let b = rgb & 0xff
            return ((r * redMax + 127) / 255) << redShift | ((g * greenMax + 127) / 255) << greenShift
                | ((b * blueMax + 127) / 255) << blueShift
        }
    }

    /// A tile's palette: its colours in order of first appearance, and an open-addressing table from colour
    /// to index. Slots are valid only when their stamp is the current tile's, so starting a tile clears
    /// nothing.
    struct Palette {
        static let slots = 256
        var colours: UnsafeMutablePointer<UInt32>
        var keys: UnsafeMutablePointer<UInt32>
        var indices: UnsafeMutablePointer<UInt8>
        var stamps: UnsafeMutablePointer<UInt32>
        var stamp: UInt32 = 0
        var count = 0

        @inline(__always)
        static func hash(_ value: UInt32) -> Int { Int(truncatingIfNeeded: (value &* 0x9E37_79B1) >> 24) }

        /// Empties the palette for the next tile.
        @inline(__always)
        mutating func reset() {
            stamp &+= 1
            if stamp == 0 {
                // After 2³² tiles the stamps wrap: clear them so no old slot looks current.
                stamps.update(repeating: 0, count: Self.slots)
                stamp = 1
            }
            count = 0
        }

        /// Adds `value` unless present. The table has 256 slots for at most 128 entries, so a free slot is
        /// always found.
        @inline(__always)
        mutating func insert(_ value: UInt32) {
            var slot = Self.hash(value)
            while stamps[slot] == stamp {
                if keys[slot] == value { return }
                slot = (slot + 1) & (Self.slots - 1)
            }
            stamps[slot] = stamp
            keys[slot] = value
            indices[slot] = UInt8(truncatingIfNeeded: count)
            colours[count] = value
            count += 1
        }

        /// The index of a colour known to be in the palette.
        @inline(__always)
        func index(_ value: UInt32) -> UInt8 {
            var slot = Self.hash(value)
            while keys[slot] != value || stamps[slot] != stamp { slot = (slot + 1) & (Self.slots - 1) }
            return indices[slot]
        }
    }

    /// A tile's runs, counted while reading it: enough to know what each run-length form costs.
    struct Analysis {
        /// Runs in the tile (row order, within the tile).
        var runs = 0
        /// Runs longer than one pixel.
        var longRuns = 0
        /// Run-length bytes beyond each run's first: (length − 1) / 255 summed over the runs.
        var extraLengthBytes = 0

        /// One run covering the whole tile.
        var solid: Bool { runs == 1 }

        /// Plain RLE: a CPIXEL and a run length per run.
        func plainRunBytes(cpixelSize: Int) -> Int { runs * (cpixelSize + 1) + extraLengthBytes }

        /// Palette RLE: an index per run, and a run length for each run longer than one pixel.
        var paletteRunBytes: Int { runs + longRuns + extraLengthBytes }

        /// Counts a run that ended.
        @inline(__always)
        mutating func add(run length: Int) {
            runs &+= 1
            if length > 1 {
                longRuns &+= 1
                extraLengthBytes &+= (length &- 1) / 255
            }
        }
    }

    /// Upper bound of the tile data of a `width`×`height` rectangle: every tile raw (no sub-encoding is
    /// chosen unless it is at most that size), one sub-encoding byte per tile.
    static func capacity(width: Int, height: Int, cpixelSize: Int) -> Int {
        width * height * cpixelSize + ((width + 63) / 64) * ((height + 63) / 64)
    }

    /// The rectangle's tile data. `rect` must lie inside `source`.
    static func encode(_ source: RFBPixelSource, _ rect: RFBRect, format: RFBPixelFormat) -> [UInt8] {
        let layout = CPixelLayout(format)
        let converter = Converter(format)
        let bound = capacity(width: rect.width, height: rect.height, cpixelSize: layout.size)
        // Slack for the CPIXEL stores that write 4 bytes and keep fewer.
        let allocated = bound + 4
        precondition(rect.x >= 0 && rect.y >= 0 && rect.x + rect.width <= source.width)
        precondition(rect.y + rect.height <= source.height && source.pixels.count >= source.width * source.height)
        guard rect.width > 0 && rect.height > 0 else { return [] }
        let data = [UInt8](unsafeUninitializedCapacity: allocated) { buffer, initialized in
            // SAFETY: `buffer` holds `allocated` bytes; every tile writes at most its raw size plus one byte
            // (`capacity`) and 3 bytes of slack beyond that, so writes stay inside. Only the bytes written are
            // reported as initialised.
            initialized = source.pixels.withUnsafeBufferPointer { pixels in
                withScratch { tile, palette in
                    var written = 0
                    var ty = rect.y
                    while ty < rect.y + rect.height {
                        let th = min(64, rect.y + rect.height - ty)
                        var tx = rect.x
                        while tx < rect.x + rect.width {
                            let tw = min(64, rect.x + rect.width - tx)
                            // SAFETY: the tile lies inside the source (checked above), so its rows are inside
                            // `pixels`.
                            let analysis = read(
                                pixels.baseAddress! + ty * source.width + tx, stride: source.width, width: tw,
                                height: th, converter: converter, into: tile, palette: &palette)
                            written += write(
                                tile, width: tw, height: th, analysis: analysis, palette: palette, layout: layout,
                                to: buffer.baseAddress! + written)
                            tx += tw
                        }
                        ty += th
                    }
                    return written
                }
            }
        }
        precondition(data.count <= bound)
        return data
    }

    /// Runs `body` with a 64×64 tile buffer and an empty palette, both on the stack.
    private static func withScratch<R>(
        _ body: (UnsafeMutablePointer<UInt32>, inout Palette) -> R
    ) -> R {
        // SAFETY: the temporary allocations live for the duration of `body`, which does not let them escape.
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64 * 64 + 3 * Palette.slots) { words in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Palette.slots) { indices in
                let base = words.baseAddress!
                let stamps = base + 64 * 64 + 2 * Palette.slots
                stamps.initialize(repeating: 0, count: Palette.slots)
                var palette = Palette(
                    colours: base + 64 * 64, keys: base + 64 * 64 + Palette.slots, indices: indices.baseAddress!,
                    stamps: stamps)
                return body(base, &palette)
            }
        }
    }

    /// Reads one tile (rows `stride` pixels apart) into `tile` (rows of `width`) as client pixel values,
    /// collecting up to 128 palette colours (128 meaning "more than 127") and its runs.
    @inline(__always)
    private static func read(
        _ rows: UnsafePointer<UInt32>, stride: Int, width tw: Int, height th: Int, converter: Converter,
        into tile: UnsafeMutablePointer<UInt32>, palette: inout Palette
    ) -> Analysis {
        // Two copies of the loop, so the native format's (a mask) has no branch per pixel.
        if converter.native {
            return read(rows, stride: stride, width: tw, height: th, into: tile, palette: &palette) {
                $0 & 0x00ff_ffff
            }
        }
        return read(rows, stride: stride, width: tw, height: th, into: tile, palette: &palette) {
            converter.value($0)
        }
    }

    @inline(__always)
    private static func read(
        _ rows: UnsafePointer<UInt32>, stride: Int, width tw: Int, height th: Int,
        into tile: UnsafeMutablePointer<UInt32>, palette: inout Palette, value: (UInt32) -> UInt32
    ) -> Analysis {
        palette.reset()
        var analysis = Analysis()
        var previous = value(rows[0])
        var runLength = 0
        palette.insert(previous)
        var out = tile
        for y in 0..<th {
            let row = rows + y &* stride
            for x in 0..<tw {
                let pixel = value(row[x])
                out.pointee = pixel
                out += 1
                if pixel == previous {
                    runLength &+= 1
                    continue
                }
                analysis.add(run: runLength)
                previous = pixel
                runLength = 1
                // A pixel that continues a run is already in the palette; a full one takes no more.
                if palette.count <= maxPalette { palette.insert(pixel) }
            }
        }
        analysis.add(run: runLength)
        return analysis
    }

    /// The smallest sub-encoding for a tile: 1 solid, 0 raw, 128 plain RLE, 2–16 packed palette, 130–255
    /// palette RLE (RFC 6143 §7.7.6); ties go to the earlier of raw, plain RLE, packed palette.
    @inline(__always)
    static func subencoding(width tw: Int, height th: Int, colours: Int, cpixelSize: Int, analysis: Analysis)
        -> Int
    {
        if analysis.solid { return 1 }
        var best = (kind: 0, size: tw * th * cpixelSize)
        let plain = analysis.plainRunBytes(cpixelSize: cpixelSize)
        if plain < best.size { best = (128, plain) }
        if colours <= 16 {
            let bits = colours <= 2 ? 1 : colours <= 4 ? 2 : 4
            let size = colours * cpixelSize + th * ((tw * bits + 7) / 8)
            if size < best.size { best = (colours, size) }
        }
        if colours <= maxPalette {
            let size = colours * cpixelSize + analysis.paletteRunBytes
            if size < best.size { best = (128 + colours, size) }
        }
        return best.kind
    }

    /// Writes one tile in its smallest sub-encoding at `out`; returns the bytes written.
    @inline(__always)
    private static func write(
        _ tile: UnsafeMutablePointer<UInt32>, width tw: Int, height th: Int, analysis: Analysis, palette: Palette,
        layout: CPixelLayout, to out: UnsafeMutablePointer<UInt8>
    ) -> Int {
        let count = tw * th
        let kind = subencoding(
            width: tw, height: th, colours: palette.count, cpixelSize: layout.size, analysis: analysis)
        out[0] = UInt8(truncatingIfNeeded: kind)
        var at = 1
        switch kind {
        case 1:
            put(tile[0], layout, out, &at)
        case 0:
            for index in 0..<count { put(tile[index], layout, out, &at) }
        case 128:
            var index = 0
            while index < count {
                let value = tile[index]
                var end = index + 1
                while end < count && tile[end] == value { end += 1 }
                put(value, layout, out, &at)
                runLength(end - index, out, &at)
                index = end
            }
        case 2...16:
            for entry in 0..<palette.count { put(palette.colours[entry], layout, out, &at) }
            packed(tile, width: tw, height: th, palette: palette, out, &at)
        default:
            for entry in 0..<palette.count { put(palette.colours[entry], layout, out, &at) }
            paletteRuns(tile, count: count, palette: palette, out, &at)
        }
        return at
    }

    /// One CPIXEL: 4 bytes stored, `layout.size` kept (the buffer has slack for the rest).
    @inline(__always)
    private static func put(
        _ value: UInt32, _ layout: CPixelLayout, _ out: UnsafeMutablePointer<UInt8>, _ at: inout Int
    ) {
        // SAFETY: `out + at` has at least `layout.size` bytes of the tile's budget plus the buffer's slack.
        UnsafeMutableRawPointer(out + at).storeBytes(of: layout.word(value).littleEndian, as: UInt32.self)
        at += layout.size
    }

    /// A run length as §7.7.6 writes it: (length − 1) in bytes of 255 and a final byte below 255.
    @inline(__always)
    private static func runLength(_ length: Int, _ out: UnsafeMutablePointer<UInt8>, _ at: inout Int) {
        var rest = length - 1
        while rest >= 255 {
            out[at] = 255
            at += 1
            rest -= 255
        }
        out[at] = UInt8(truncatingIfNeeded: rest)
        at += 1
    }

    /// Packed palette indices: 1, 2 or 4 bits per pixel by palette size, each row padded to a byte.
    @inline(__always)
    private static func packed(
        _ tile: UnsafeMutablePointer<UInt32>, width tw: Int, height th: Int, palette: Palette,
        _ out: UnsafeMutablePointer<UInt8>, _ at: inout Int
    ) {
        let bits = palette.count <= 2 ? 1 : palette.count <= 4 ? 2 : 4
        var lastValue = tile[0]
        var lastIndex = palette.index(lastValue)
        for y in 0..<th {
            var byte: UInt8 = 0
            var used = 0
            let row = tile + y * tw
            for x in 0..<tw {
                // Neighbours are often the same colour: look the index up only when the colour changes.
                let value = row[x]
                if value != lastValue {
                    lastValue = value
                    lastIndex = palette.index(value)
                }
                byte = byte << UInt8(bits) | lastIndex
                used += bits
                if used == 8 {
                    out[at] = byte
                    at += 1
                    byte = 0
                    used = 0
                }
            }
            if used > 0 {
                out[at] = byte << UInt8(8 - used)
                at += 1
            }
        }
    }

    /// Palette RLE: a run of one pixel is its index; longer runs set the top bit and add a run length.
    @inline(__always)
    private static func paletteRuns(
        _ tile: UnsafeMutablePointer<UInt32>, count: Int, palette: Palette, _ out: UnsafeMutablePointer<UInt8>,
        _ at: inout Int
    ) {
        var index = 0
        while index < count {
            let value = tile[index]
            var end = index + 1
            while end < count && tile[end] == value { end += 1 }
            let entry = palette.index(value)
            if end - index == 1 {
                out[at] = entry
                at += 1
            } else {
                out[at] = entry | 0x80
                at += 1
                runLength(end - index, out, &at)
            }
            index = end
        }
    }
}
