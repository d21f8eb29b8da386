import Zlib

/// Minimal PNG writer (8-bit RGB, filter None, one IDAT) for screenshots.
package enum PNGEncoder {
    package static func encode(pixels: [UInt32], width: Int, height: Int) -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (1 + width * 3))
        for y in 0..<height {
            raw.append(0)
            for x in 0..<width {
                let p = pixels[y * width + x]
                raw.append(UInt8((p >> 16) & 0xff))
                raw.append(UInt8((p >> 8) & 0xff))
                raw.append(UInt8(p & 0xff))
            }
        }
        var out: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
        chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [8, 2, 0, 0, 0], into: &out)
        chunk("IDAT", Zlib.deflate(raw, level: 1), into: &out)
        chunk("IEND", [], into: &out)
        return out
    }

    private static func chunk(_ type: String, _ data: [UInt8], into out: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        out += be32(UInt32(data.count))
        let body = typeBytes + data
        out += body
        out += be32(Zlib.crc32(body[...]))
    }
}
