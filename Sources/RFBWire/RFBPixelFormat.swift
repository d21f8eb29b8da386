/// The PIXEL_FORMAT structure of RFC 6143 §7.4 (16 bytes on the wire).
///
/// The server's own format (`RFBPixelFormat.native`) is 32 bits per pixel, depth 24, little-endian,
/// red in bits 16–23, green 8–15, blue 0–7: a screen pixel is a `UInt32` `0x00RRGGBB`.
package struct RFBPixelFormat: Sendable, Equatable, Hashable {
    package var bitsPerPixel: UInt8
    package var depth: UInt8
    package var bigEndian: Bool
    package var trueColour: Bool
    package var redMax: UInt16
    package var greenMax: UInt16
    package var blueMax: UInt16
    package var redShift: UInt8
    package var greenShift: UInt8
    package var blueShift: UInt8

    package init(
        bitsPerPixel: UInt8, depth: UInt8, bigEndian: Bool, trueColour: Bool, redMax: UInt16, greenMax: UInt16,
        blueMax: UInt16, redShift: UInt8, greenShift: UInt8, blueShift: UInt8
    ) {
        self.bitsPerPixel = bitsPerPixel
        self.depth = depth
        self.bigEndian = bigEndian
        self.trueColour = trueColour
        self.redMax = redMax
        self.greenMax = greenMax
        self.blueMax = blueMax
        self.redShift = redShift
        self.greenShift = greenShift
        self.blueShift = blueShift
    }

    /// The server's format: what `ServerInit` announces and how the screen is stored.
    package static let native = RFBPixelFormat(
        bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255,
        redShift: 16, greenShift: 8, blueShift: 0)

    /// 16-bit RGB565, little-endian (what many small viewers ask for).
    package static let rgb565 = RFBPixelFormat(
        bitsPerPixel: 16, depth: 16, bigEndian: false, trueColour: true, redMax: 31, greenMax: 63, blueMax: 31,
        redShift: 11, greenShift: 5, blueShift: 0)

    package var bytesPerPixel: Int { Int(bitsPerPixel) / 8 }

    /// Encoded size of the structure.
    package static let wireSize = 16

    /// Checks what §7.4 allows and what this server can produce: true colour only (no colour maps),
    /// 8/16/32 bits per pixel, each channel's maximum of the form 2ⁿ−1 and its bits inside the pixel.
    package func validate() throws(RFBError) {
        guard [8, 16, 32].contains(bitsPerPixel) else {
            throw .badPixelFormat("bits-per-pixel \(bitsPerPixel) is not 8, 16 or 32")
        }
        guard depth >= 1, depth <= bitsPerPixel else {
            throw .badPixelFormat("depth \(depth) is not in 1...\(bitsPerPixel)")
        }
        guard trueColour else { throw .badPixelFormat("colour-map pixel formats are not supported") }
        for (name, maxValue, shift) in [
            ("red", redMax, redShift), ("green", greenMax, greenShift), ("blue", blueMax, blueShift),
        ] {
            guard maxValue > 0, maxValue & (maxValue &+ 1) == 0 else {
                throw .badPixelFormat("\(name)-max \(maxValue) is not 2^n-1")
            }
            let bits = UInt8(maxValue.nonzeroBitCount)
            guard Int(shift) + Int(bits) <= Int(bitsPerPixel) else {
                throw .badPixelFormat("\(name) bits (shift \(shift), max \(maxValue)) overflow the pixel")
            }
        }
    }

    package func encode(into out: inout [UInt8]) {
        out.append(bitsPerPixel)
        out.append(depth)
        out.append(bigEndian ? 1 : 0)
        out.append(trueColour ? 1 : 0)
        for value in [redMax, greenMax, blueMax] {
            out.append(UInt8(value >> 8))
            out.append(UInt8(value & 0xff))
        }
        out.append(redShift)
        out.append(greenShift)
        out.append(blueShift)
        out.append(contentsOf: [0, 0, 0])
    }

    /// Decodes 16 bytes (does not validate).
    package static func decode(_ bytes: ArraySlice<UInt8>) -> RFBPixelFormat {
        let b = bytes.startIndex
        func u16(_ offset: Int) -> UInt16 { UInt16(bytes[b + offset]) << 8 | UInt16(bytes[b + offset + 1]) }
        return RFBPixelFormat(
            bitsPerPixel: bytes[b], depth: bytes[b + 1], bigEndian: bytes[b + 2] != 0, trueColour: bytes[b + 3] != 0,
            redMax: u16(4), greenMax: u16(6), blueMax: u16(8), redShift: bytes[b + 10], greenShift: bytes[b + 11],
            blueShift: bytes[b + 12])
    }

    /// Converts a native `0x00RRGGBB` pixel to this format's pixel value (not yet serialised).
    @inline(__always)
    package func pixelValue(_ rgb: UInt32) -> UInt32 {
        if self == .native { return rgb & 0x00ff_ffff }
        let r = (rgb >> 16) & 0xff
        let g = (rgb >> 8) & 0xff
        let b = rgb & 0xff
        return ((r * UInt32(redMax) + 127) / 255) << redShift | ((g * UInt32(greenMax) + 127) / 255) << greenShift
            | ((b * UInt32(blueMax) + 127) / 255) << blueShift
    }

    /// Converts a pixel value of this format back to native `0x00RRGGBB` (for tests and decoders).
    package func rgb(fromValue value: UInt32) -> UInt32 {
        func channel(_ shift: UInt8, _ maxValue: UInt16) -> UInt32 {
            let raw = (value >> UInt32(shift)) & UInt32(maxValue)
            return (raw * 255 + UInt32(maxValue) / 2) / UInt32(maxValue)
        }
        return channel(redShift, redMax) << 16 | channel(greenShift, greenMax) << 8 | channel(blueShift, blueMax)
    }

    /// Appends one pixel value serialised in `bytesPerPixel` bytes with this format's byte order.
    @inline(__always)
    package func append(value: UInt32, to out: inout [UInt8]) {
        switch bitsPerPixel {
        case 8:
            out.append(UInt8(truncatingIfNeeded: value))
        case 16:
            let v = UInt16(truncatingIfNeeded: value)
            if bigEndian {
                out.append(UInt8(v >> 8))
                out.append(UInt8(v & 0xff))
            } else {
                out.append(UInt8(v & 0xff))
                out.append(UInt8(v >> 8))
            }
        default:
            if bigEndian {
                out.append(UInt8(value >> 24))
                out.append(UInt8((value >> 16) & 0xff))
                out.append(UInt8((value >> 8) & 0xff))
                out.append(UInt8(value & 0xff))
            } else {
                out.append(UInt8(value & 0xff))
                out.append(UInt8((value >> 8) & 0xff))
                out.append(UInt8((value >> 16) & 0xff))
                out.append(UInt8(value >> 24))
            }
        }
    }

    /// ZRLE's compressed pixel (RFC 6143 §7.7.6): 3 bytes when a 32-bit true-colour pixel's colour bits all
    /// fit in its three least (or most) significant bytes; otherwise the full pixel.
    package var compressedPixel: CompressedPixel {
        guard bitsPerPixel == 32, depth <= 24, trueColour else { return .full }
        let mask =
            UInt32(redMax) << UInt32(redShift) | UInt32(greenMax) << UInt32(greenShift) | UInt32(blueMax)
            << UInt32(blueShift)
        if mask & 0xff00_0000 == 0 { return bigEndian ? .threeHigh : .threeLow }
        if mask & 0x0000_00ff == 0 { return bigEndian ? .threeLow : .threeHigh }
        return .full
    }

    /// Which bytes of a serialised 32-bit pixel a CPIXEL keeps.
    package enum CompressedPixel: Sendable {
        /// All `bytesPerPixel` bytes.
        case full
        /// The first three bytes of the serialised pixel.
        case threeLow
        /// The last three bytes of the serialised pixel.
        case threeHigh
    }
}
