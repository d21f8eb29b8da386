import JPEG
import RFBWire

/// A Tight rectangle decoder written from the community RFB specification's Tight section for the tests,
/// sharing no code with the encoder: four inflate streams kept across rectangles (reset when the control
/// byte says so), fill, copy and palette filters, and JPEG through libjpeg-turbo's decoder.
struct TightDecoder {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let width: Int
    let height: Int
    let format: RFBPixelFormat
    var framebuffer: [UInt32]
    /// Rectangles of each kind decoded: "fill", "jpeg", "copy", "palette".
    var kinds: [String: Int] = [:]
    /// Pixels that came from JPEG rectangles (compared within a tolerance).
    var jpegPixels = Set<Int>()
    private var streams: [StreamInflater?] = [nil, nil, nil, nil]

    init(width: Int, height: Int, format: RFBPixelFormat) {
        self.width = width
        self.height = height
        self.format = format
        framebuffer = [UInt32](repeating: 0xdead, count: width * height)
    }

    private var compact: Bool {
        format.trueColour && format.bitsPerPixel == 32 && format.depth == 24 && format.redMax == 255
            && format.greenMax == 255 && format.blueMax == 255
    }

    private func byte(_ b: [UInt8], _ at: inout Int) throws -> UInt8 {
        guard at < b.count else { throw Failure(description: "truncated at \(at)") }
        defer { at += 1 }
        return b[at]
    }

    /// TPIXEL as a native colour at 8 bits per channel.
    private func tpixel(_ b: [UInt8], _ at: inout Int) throws -> UInt32 {
        if compact {
            let r = UInt32(try byte(b, &at))
            let g = UInt32(try byte(b, &at))
            let bl = UInt32(try byte(b, &at))
            return r << 16 | g << 8 | bl
        }
        var raw: UInt32 = 0
        let n = format.bytesPerPixel
        var bytes: [UInt8] = []
        for _ in 0..<n { bytes.append(try byte(b, &at)) }
        raw =
            format.bigEndian || n == 1
            ? bytes.reduce(0) { $0 << 8 | UInt32($1) } : bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) }
        return format.rgb(fromValue: raw)
    }

    private func compactLength(_ b: [UInt8], _ at: inout Int) throws -> Int {
        var length = 0
        for shift in [0, 7, 14] {
            let value = Int(try byte(b, &at))
            length |= (shift == 14 ? value : value & 0x7f) << shift
            if shift < 14 && value & 0x80 == 0 { break }
        }
        return length
    }

    /// Applies one whole FramebufferUpdate of Tight (and pseudo) rectangles.
    mutating func apply(_ message: [UInt8]) throws {
        guard message.count >= 4, message[0] == 0 else { throw Failure(description: "not a FramebufferUpdate") }
        let count = Int(message[2]) << 8 | Int(message[3])
        var at = 4
        for _ in 0..<count {
            guard at + 12 <= message.count else { throw Failure(description: "truncated header") }
            let f = message[at..<(at + 12)].map(Int.init)
            at += 12
            let (x, y, w, h) = (f[0] << 8 | f[1], f[2] << 8 | f[3], f[4] << 8 | f[5], f[6] << 8 | f[7])
            let encoding = Int32(bitPattern: UInt32(f[8] << 24 | f[9] << 16 | f[10] << 8 | f[11]))
            guard encoding == 7 else { throw Failure(description: "unexpected encoding \(encoding)") }
            guard w <= 2048, x + w <= width, y + h <= height else { throw Failure(description: "bad rectangle") }
            try rectangle(message, &at, x, y, w, h)
        }
        guard at == message.count else { throw Failure(description: "\(message.count - at) trailing bytes") }
    }

    mutating func rectangle(_ b: [UInt8], _ at: inout Int, _ x: Int, _ y: Int, _ w: Int, _ h: Int) throws {
        let control = try byte(b, &at)
        for stream in 0..<4 where control & (1 << stream) != 0 { resetStream(stream) }
        switch control >> 4 {
        case 8:
            let colour = try tpixel(b, &at)
            for row in 0..<h { for col in 0..<w { framebuffer[(y + row) * width + x + col] = colour } }
            kinds["fill", default: 0] += 1
        case 9:
            let length = try compactLength(b, &at)
            guard at + length <= b.count, let image = JPEGDecompressor().decompress(Array(b[at..<(at + length)])),
                image.width == w, image.height == h
            else { throw Failure(description: "bad JPEG rectangle") }
            at += length
            for row in 0..<h {
                for col in 0..<w {
                    framebuffer[(y + row) * width + x + col] = image.pixels[row * w + col]
                    jpegPixels.insert((y + row) * width + x + col)
                }
            }
            kinds["jpeg", default: 0] += 1
        case let basic where basic < 8:
            let stream = Int(basic & 3)
            let filter = basic & 4 != 0 ? try byte(b, &at) : 0
            switch filter {
            case 0:
                let size = w * h * (compact ? 3 : format.bytesPerPixel)
                let data = try filtered(b, &at, size: size, stream: stream)
                var offset = 0
                for row in 0..<h {
                    for col in 0..<w { framebuffer[(y + row) * width + x + col] = try tpixel(data, &offset) }
                }
                kinds["copy", default: 0] += 1
            case 1:
                let colours = Int(try byte(b, &at)) + 1
                var palette: [UInt32] = []
                for _ in 0..<colours { palette.append(try tpixel(b, &at)) }
                let rowBytes = colours == 2 ? (w + 7) / 8 : w
                let data = try filtered(b, &at, size: rowBytes * h, stream: stream)
                for row in 0..<h {
                    for col in 0..<w {
                        let index =
                            colours == 2
                            ? Int(data[row * rowBytes + col / 8] >> (7 - UInt8(col % 8)) & 1)
                            : Int(data[row * rowBytes + col])
                        guard index < colours else { throw Failure(description: "palette index \(index)") }
                        framebuffer[(y + row) * width + x + col] = palette[index]
                    }
                }
                kinds["palette", default: 0] += 1
            default:
                throw Failure(description: "filter \(filter) not expected from this encoder")
            }
        default:
            throw Failure(description: "bad compression control \(control)")
        }
    }

    /// Filtered data: under 12 bytes as they are, else a compact length and zlib data on `stream`.
    private mutating func filtered(_ b: [UInt8], _ at: inout Int, size: Int, stream: Int) throws -> [UInt8] {
        if size < 12 {
            guard at + size <= b.count else { throw Failure(description: "truncated raw data") }
            defer { at += size }
            return Array(b[at..<(at + size)])
        }
        let length = try compactLength(b, &at)
        guard at + length <= b.count else { throw Failure(description: "truncated zlib data") }
        defer { at += length }
        let out = try inflate(Array(b[at..<(at + length)]), stream: stream)
        guard out.count == size else { throw Failure(description: "inflated \(out.count), expected \(size)") }
        return out
    }

    private mutating func resetStream(_ index: Int) { streams[index] = nil }

    private mutating func inflate(_ input: [UInt8], stream index: Int) throws -> [UInt8] {
        let stream = streams[index] ?? StreamInflater()
        streams[index] = stream
        guard let output = stream.inflate(input) else { throw Failure(description: "inflate failed") }
        return output
    }
}
