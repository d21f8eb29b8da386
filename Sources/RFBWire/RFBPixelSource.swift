/// A read-only view of native pixels (`0x00RRGGBB`) that encoders read rectangles from.
public struct RFBPixelSource {
    public let pixels: [UInt32]
    public let width: Int
    public let height: Int

    public init(pixels: [UInt32], width: Int, height: Int) {
        precondition(pixels.count >= width * height)
        self.pixels = pixels
        self.width = width
        self.height = height
    }

    @inline(__always)
    public subscript(x: Int, y: Int) -> UInt32 { pixels[y * width + x] }
}

/// A cursor shape for the Cursor pseudo-encoding (RFC 6143 §7.8.1).
public struct RFBCursor: Sendable, Equatable {
    public var hotspotX: Int
    public var hotspotY: Int
    public var width: Int
    public var height: Int
    /// Native pixels, row-major.
    public var pixels: [UInt32]
    /// One bit per pixel, rows padded to whole bytes, most significant bit first; 1 = opaque.
    public var mask: [UInt8]

    public init(hotspotX: Int, hotspotY: Int, width: Int, height: Int, pixels: [UInt32], mask: [UInt8]) {
        self.hotspotX = hotspotX
        self.hotspotY = hotspotY
        self.width = width
        self.height = height
        self.pixels = pixels
        self.mask = mask
    }

    /// A small round touch marker: the pointer is a finger on this handset.
    public static let touchDot: RFBCursor = {
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
