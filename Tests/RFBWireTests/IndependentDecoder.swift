import RFBWire

/// A FramebufferUpdate decoder written from RFC 6143 §7.6.1/§7.7 for the tests, sharing no code with the
/// encoders: it paints into a client-side framebuffer of native `0x00RRGGBB` pixels.
struct IndependentDecoder {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let width: Int
    let height: Int
    let format: RFBPixelFormat
    var framebuffer: [UInt32]
    var cursorSeen = false
    var desktopSize: (Int, Int)?
    /// Every ZRLE tile's sub-encoding byte, in the order decoded.
    var zrleSubencodings: [UInt8] = []
    /// The client's single ZRLE inflate stream, kept across rectangles.
    private var zstream: StreamInflater?

    init(width: Int, height: Int, format: RFBPixelFormat, initial: [UInt32]? = nil) {
        self.width = width
        self.height = height
        self.format = format
        framebuffer = initial ?? [UInt32](repeating: 0xdead, count: width * height)
    }

    private var bpp: Int { Int(format.bitsPerPixel) / 8 }

    /// Reads one pixel of the client format and returns its colour at 8 bits per channel.
    private func pixel(_ bytes: [UInt8], _ at: inout Int, size: Int? = nil, cpixel: Bool = false) throws -> UInt32 {
        var raw: UInt32 = 0
        if cpixel && format.bitsPerPixel == 32 && format.depth <= 24 {
            // CPIXEL: 3 bytes; which bytes depends on where the colour bits are.
            let chunk = Array(bytes[at..<(at + 3)])
            at += 3
            let mask =
                UInt32(format.redMax) << format.redShift | UInt32(format.greenMax) << format.greenShift
                | UInt32(format.blueMax) << format.blueShift
            let lowBytesHoldColour = mask & 0xff00_0000 == 0
            let full: [UInt8]
            if format.bigEndian {
                full = lowBytesHoldColour ? [0] + chunk : chunk + [0]
            } else {
                full = lowBytesHoldColour ? chunk + [0] : [0] + chunk
            }
            raw =
                format.bigEndian
                ? full.reduce(0) { $0 << 8 | UInt32($1) }
                : full.reversed().reduce(0) { $0 << 8 | UInt32($1) }
            return format.rgb(fromValue: raw)
        }
        let n = size ?? bpp
        guard at + n <= bytes.count else { throw Failure(description: "truncated pixel") }
        let chunk = bytes[at..<(at + n)]
        at += n
        raw =
            format.bigEndian || n == 1
            ? chunk.reduce(0) { $0 << 8 | UInt32($1) }
            : chunk.reversed().reduce(0) { $0 << 8 | UInt32($1) }
        return format.rgb(fromValue: raw)
    }

    private func u16(_ b: [UInt8], _ at: inout Int) -> Int {
        defer { at += 2 }
        return Int(b[at]) << 8 | Int(b[at + 1])
    }

    private func u32(_ b: [UInt8], _ at: inout Int) -> UInt32 {
        defer { at += 4 }
        return UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    /// Applies one whole FramebufferUpdate; returns the encodings seen, in order.
    mutating func apply(_ message: [UInt8]) throws -> [Int32] {
        var at = 0
        guard message.count >= 4, message[0] == 0 else { throw Failure(description: "not a FramebufferUpdate") }
        at = 2
        let count = u16(message, &at)
        var seen: [Int32] = []
        for _ in 0..<count {
            let x = u16(message, &at)
            let y = u16(message, &at)
            let w = u16(message, &at)
            let h = u16(message, &at)
            let encoding = Int32(bitPattern: u32(message, &at))
            seen.append(encoding)
            switch encoding {
            case 0:
                for row in 0..<h { for col in 0..<w { set(x + col, y + row, try pixel(message, &at)) } }
            case 1:
                let sx = u16(message, &at)
                let sy = u16(message, &at)
                let copy = framebuffer
                for row in 0..<h { for col in 0..<w { set(x + col, y + row, copy[(sy + row) * width + sx + col]) } }
            case 5:
                try hextile(message, &at, x, y, w, h)
            case 16:
                let length = Int(u32(message, &at))
                let data = try inflate(Array(message[at..<(at + length)]))
                at += length
                try zrle(data, x, y, w, h)
            case -239:
                cursorSeen = true
                at += w * h * bpp + (w + 7) / 8 * h
            case -223:
                desktopSize = (w, h)
            default:
                throw Failure(description: "unexpected encoding \(encoding)")
            }
        }
        guard at == message.count else { throw Failure(description: "\(message.count - at) trailing bytes") }
        return seen
    }

    private mutating func set(_ x: Int, _ y: Int, _ value: UInt32) {
        framebuffer[y * width + x] = value
    }

    private mutating func hextile(_ b: [UInt8], _ at: inout Int, _ x: Int, _ y: Int, _ w: Int, _ h: Int) throws {
        var background: UInt32?
        var foreground: UInt32?
        for ty in stride(from: y, to: y + h, by: 16) {
            for tx in stride(from: x, to: x + w, by: 16) {
                let tw = min(16, x + w - tx)
                let th = min(16, y + h - ty)
                let mask = b[at]
                at += 1
                if mask & 1 != 0 {
                    for row in 0..<th { for col in 0..<tw { set(tx + col, ty + row, try pixel(b, &at)) } }
                    background = nil
                    continue
                }
                if mask & 2 != 0 { background = try pixel(b, &at) }
                guard let bg = background else { throw Failure(description: "hextile tile without background") }
                for row in 0..<th { for col in 0..<tw { set(tx + col, ty + row, bg) } }
                if mask & 4 != 0 { foreground = try pixel(b, &at) }
                if mask & 8 != 0 {
                    let count = Int(b[at])
                    at += 1
                    for _ in 0..<count {
                        let colour: UInt32
                        if mask & 16 != 0 {
                            colour = try pixel(b, &at)
                        } else {
                            guard let fg = foreground else { throw Failure(description: "no foreground") }
                            colour = fg
                        }
                        let sx = Int(b[at] >> 4)
                        let sy = Int(b[at] & 15)
                        let sw = Int(b[at + 1] >> 4) + 1
                        let sh = Int(b[at + 1] & 15) + 1
                        at += 2
                        guard sx + sw <= tw, sy + sh <= th else { throw Failure(description: "subrect outside tile") }
                        for row in 0..<sh { for col in 0..<sw { set(tx + sx + col, ty + sy + row, colour) } }
                    }
                }
            }
        }
    }

    private mutating func inflate(_ input: [UInt8]) throws -> [UInt8] {
        let stream = zstream ?? StreamInflater()
        zstream = stream
        guard let output = stream.inflate(input) else { throw Failure(description: "inflate failed") }
        return output
    }

    private mutating func zrle(_ d: [UInt8], _ x: Int, _ y: Int, _ w: Int, _ h: Int) throws {
        var at = 0
        func runLength() -> Int {
            var length = 1
            while d[at] == 255 {
                length += 255
                at += 1
            }
            length += Int(d[at])
            at += 1
            return length
        }
        for ty in stride(from: y, to: y + h, by: 64) {
            for tx in stride(from: x, to: x + w, by: 64) {
                let tw = min(64, x + w - tx)
                let th = min(64, y + h - ty)
                let sub = d[at]
                at += 1
                zrleSubencodings.append(sub)
                var pixels: [UInt32] = []
                switch sub {
                case 0:
                    for _ in 0..<(tw * th) { pixels.append(try pixel(d, &at, cpixel: true)) }
                case 1:
                    let colour = try pixel(d, &at, cpixel: true)
                    pixels = [UInt32](repeating: colour, count: tw * th)
                case 2...16:
                    var palette: [UInt32] = []
                    for _ in 0..<Int(sub) { palette.append(try pixel(d, &at, cpixel: true)) }
                    let bits = sub == 2 ? 1 : sub <= 4 ? 2 : 4
                    for _ in 0..<th {
                        var used = 8
                        var byte: UInt8 = 0
                        for _ in 0..<tw {
                            if used == 8 {
                                byte = d[at]
                                at += 1
                                used = 0
                            }
                            let index = Int(byte >> UInt8(8 - bits - used)) & ((1 << bits) - 1)
                            used += bits
                            pixels.append(palette[index])
                        }
                    }
                case 128:
                    while pixels.count < tw * th {
                        let colour = try pixel(d, &at, cpixel: true)
                        pixels += [UInt32](repeating: colour, count: runLength())
                    }
                case 130...255:
                    var palette: [UInt32] = []
                    for _ in 0..<(Int(sub) - 128) { palette.append(try pixel(d, &at, cpixel: true)) }
                    while pixels.count < tw * th {
                        let index = d[at]
                        at += 1
                        if index & 0x80 == 0 {
                            pixels.append(palette[Int(index)])
                        } else {
                            pixels += [UInt32](repeating: palette[Int(index & 0x7f)], count: runLength())
                        }
                    }
                default:
                    throw Failure(description: "ZRLE subencoding \(sub)")
                }
                guard pixels.count == tw * th else { throw Failure(description: "ZRLE run overflows the tile") }
                for row in 0..<th { for col in 0..<tw { set(tx + col, ty + row, pixels[row * tw + col]) } }
            }
        }
        guard at == d.count else { throw Failure(description: "ZRLE: \(d.count - at) bytes left") }
    }
}
