import Zlib

/// Decodes the PNG images `fb.wait` compares the screen against: 8-bit greyscale, RGB, palette,
/// greyscale+alpha and RGBA, not interlaced. Alpha is ignored (the screen has none). Every length is
/// checked against the input and `maxPixels` before anything is allocated or inflated.
package enum PNGDecoder {
    package struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        package var description: String
        init(_ description: String) { self.description = description }
    }

    package struct Image: Sendable, Equatable {
        package var width: Int
        package var height: Int
        /// Native pixels `0x00RRGGBB`, row-major.
        package var pixels: [UInt32]
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

    /// The IHDR fields the decoder uses.
    typealias Header = (width: Int, height: Int, colourType: UInt8)

    package static func decode(_ png: [UInt8], maxPixels: Int) throws(Failure) -> Image {
        guard png.count >= 8, Array(png[0..<8]) == signature else { throw Failure("not a PNG (bad signature)") }
        let (header, palette, compressed) = try readChunks(png, maxPixels: maxPixels)
        guard let header else { throw Failure("no IHDR") }
        let channels: Int
        switch header.colourType {
        case 0, 3: channels = 1
        case 4: channels = 2
        case 2: channels = 3
        default: channels = 4
        }
        if header.colourType == 3 && palette.isEmpty { throw Failure("palette image without PLTE") }
        let rowBytes = header.width * channels
        let expected = header.height * (rowBytes + 1)
        guard let raw = Zlib.inflate(compressed[...], limit: expected), raw.count == expected else {
            throw Failure("image data does not inflate to \(expected) bytes")
        }
        let pixels = try unfilter(raw, header: header, channels: channels, palette: palette)
        return Image(width: header.width, height: header.height, pixels: pixels)
    }

    /// The chunks after the signature up to IEND: the header, the palette and the concatenated image data.
    private static func readChunks(_ png: [UInt8], maxPixels: Int) throws(Failure) -> (
        header: Header?, palette: [UInt32], compressed: [UInt8]
    ) {
        func u32(_ at: Int) -> Int {
            Int(png[at]) << 24 | Int(png[at + 1]) << 16 | Int(png[at + 2]) << 8 | Int(png[at + 3])
        }
        var at = 8
        var header: Header?
        var palette: [UInt32] = []
        var compressed: [UInt8] = []
        var ended = false
        while !ended {
            guard png.count - at >= 12 else { throw Failure("truncated chunk at byte \(at)") }
            let length = u32(at)
            guard length <= png.count - at - 12 else { throw Failure("chunk length \(length) runs past the end") }
            let type = String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self)
            let data = png[(at + 8)..<(at + 8 + length)]
            guard Zlib.crc32(png[(at + 4)..<(at + 8 + length)]) == UInt32(u32(at + 8 + length)) else {
                throw Failure("bad CRC in chunk \(type)")
            }
            at += 12 + length
            switch type {
            case "IHDR":
                guard header == nil, length == 13 else { throw Failure("bad IHDR") }
                let base = data.startIndex
                let width = u32(base)
                let height = u32(base + 4)
                let depth = png[base + 8]
                let colourType = png[base + 9]
                guard width > 0, height > 0, width <= maxPixels, height <= maxPixels / width else {
                    throw Failure("image \(width)x\(height) is empty or over \(maxPixels) pixels")
                }
                guard depth == 8, [0, 2, 3, 4, 6].contains(colourType) else {
                    throw Failure("bit depth \(depth) colour type \(colourType) is not supported (8-bit only)")
                }
                guard png[base + 10] == 0, png[base + 11] == 0 else { throw Failure("unknown compression or filter") }
                guard png[base + 12] == 0 else { throw Failure("interlaced PNGs are not supported") }
                header = (width, height, colourType)
            case "PLTE":
                guard length % 3 == 0, length <= 768 else { throw Failure("bad PLTE length \(length)") }
                palette = stride(from: data.startIndex, to: data.endIndex, by: 3).map {
                    UInt32(png[$0]) << 16 | UInt32(png[$0 + 1]) << 8 | UInt32(png[$0 + 2])
                }
            case "IDAT":
                guard header != nil else { throw Failure("IDAT before IHDR") }
                compressed += data
            case "IEND":
                ended = true
            default:
                // Ancillary chunks (lower-case first letter) are skipped; unknown critical ones refused.
                guard let first = type.utf8.first, first & 0x20 != 0 else {
                    throw Failure("unknown critical chunk \(type)")
                }
            }
        }
        return (header, palette, compressed)
    }

    /// Reverses each row's filter and converts its samples to native pixels.
    private static func unfilter(_ raw: [UInt8], header: Header, channels: Int, palette: [UInt32]) throws(Failure)
        -> [UInt32]
    {
        let rowBytes = header.width * channels
        var pixels: [UInt32] = []
        pixels.reserveCapacity(header.width * header.height)
        var previous = [UInt8](repeating: 0, count: rowBytes)
        var row = [UInt8](repeating: 0, count: rowBytes)
        for y in 0..<header.height {
            let start = y * (rowBytes + 1)
            let filter = raw[start]
            for index in 0..<rowBytes {
                let value = raw[start + 1 + index]
                let left = index >= channels ? row[index - channels] : 0
                let up = previous[index]
                let upLeft = index >= channels ? previous[index - channels] : 0
                switch filter {
                case 0: row[index] = value
                case 1: row[index] = value &+ left
                case 2: row[index] = value &+ up
                case 3: row[index] = value &+ UInt8((Int(left) + Int(up)) / 2)
                case 4: row[index] = value &+ paeth(left, up, upLeft)
                default: throw Failure("unknown filter type \(filter) on row \(y)")
                }
            }
            for x in 0..<header.width {
                let base = x * channels
                switch header.colourType {
                case 0, 4:
                    let grey = UInt32(row[base])
                    pixels.append(grey << 16 | grey << 8 | grey)
                case 3:
                    guard Int(row[base]) < palette.count else { throw Failure("palette index out of range") }
                    pixels.append(palette[Int(row[base])])
                default:
                    pixels.append(UInt32(row[base]) << 16 | UInt32(row[base + 1]) << 8 | UInt32(row[base + 2]))
                }
            }
            swap(&previous, &row)
        }
        return pixels
    }

    private static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a))
        let pb = abs(p - Int(b))
        let pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }
}
