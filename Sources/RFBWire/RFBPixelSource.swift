/// A read-only view of native pixels (`0x00RRGGBB`) that encoders read rectangles from.
package struct RFBPixelSource {
    package let pixels: [UInt32]
    package let width: Int
    package let height: Int

    package init(pixels: [UInt32], width: Int, height: Int) {
        precondition(pixels.count >= width * height)
        self.pixels = pixels
        self.width = width
        self.height = height
    }

    @inline(__always)
    package subscript(x: Int, y: Int) -> UInt32 { pixels[y * width + x] }
}

/// A cursor shape for the Cursor pseudo-encoding (RFC 6143 §7.8.1).
package struct RFBCursor: Sendable, Equatable {
    package var hotspotX: Int
    package var hotspotY: Int
    package var width: Int
    package var height: Int
    /// Native pixels, row-major.
    package var pixels: [UInt32]
    /// One bit per pixel, rows padded to whole bytes, most significant bit first; 1 = opaque.
    package var mask: [UInt8]

    package init(hotspotX: Int, hotspotY: Int, width: Int, height: Int, pixels: [UInt32], mask: [UInt8]) {
        self.hotspotX = hotspotX
        self.hotspotY = hotspotY
        self.width = width
        self.height = height
        self.pixels = pixels
        self.mask = mask
    }

    /// A small round touch marker: the pointer is a finger on this handset.
    package static let touchDot: RFBCursor = {
        let size = 9
        var pixels: [UInt32] = []
        var mask = [UInt8](repeating: 0, count: (size + 7) / 8 * size)
        for y in 0..<size {
            for x in 0..<size {
                let dx = x - size / 2
                let dy = y - size / 2
                let inside = dx * dx + dy * dy <= 16
                let edge = dx * dx + dy * dy >= 9
                pixels.append(edge ? 0x00_0000 : 0xff_ffff)
                if inside { mask[y * ((size + 7) / 8) + x / 8] |= 0x80 >> (x % 8) }
            }
        }
        return RFBCursor(hotspotX: size / 2, hotspotY: size / 2, width: size, height: size, pixels: pixels, mask: mask)
    }()
}
