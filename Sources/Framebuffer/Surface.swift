/// A partition's drawing surface: native pixels `0x00RRGGBB`, row-major, the size of the screen.
package struct Surface: Sendable {
    package let width: Int
    package let height: Int
    package private(set) var pixels: [UInt32]

    package init(width: Int, height: Int, colour: UInt32 = 0) {
        self.width = width
        self.height = height
        pixels = [UInt32](repeating: colour & 0x00ff_ffff, count: width * height)
    }

    package var bounds: ScreenRect { ScreenRect(x: 0, y: 0, width: width, height: height) }

    /// Writes `rect` from 4-byte pixels (B, G, R, unused), row-major; `bytes.count` must be `rect.area * 4`.
    package mutating func put(_ rect: ScreenRect, bytes: ArraySlice<UInt8>) {
        precondition(bounds.contains(rect) && bytes.count == rect.area * 4)
        var offset = bytes.startIndex
        let width = self.width
        pixels.withUnsafeMutableBufferPointer { out in
            for y in rect.y..<rect.maxY {
                var index = y * width + rect.x
                for _ in 0..<rect.width {
                    out[index] =
                        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                    offset += 4
                    index += 1
                }
            }
        }
    }

    package mutating func fill(_ rect: ScreenRect, colour: UInt32) {
        precondition(bounds.contains(rect))
        let value = colour & 0x00ff_ffff
        let width = self.width
        pixels.withUnsafeMutableBufferPointer { out in
            for y in rect.y..<rect.maxY {
                let start = y * width + rect.x
                for index in start..<(start + rect.width) { out[index] = value }
            }
        }
    }

    /// Copies the `rect.width`×`rect.height` block at (`sourceX`, `sourceY`) to `rect`; overlap-safe.
    package mutating func copy(sourceX: Int, sourceY: Int, to rect: ScreenRect) {
        let source = ScreenRect(x: sourceX, y: sourceY, width: rect.width, height: rect.height)
        precondition(bounds.contains(rect) && bounds.contains(source))
        let rows: [Int] = rect.y < sourceY ? Array(0..<rect.height) : Array((0..<rect.height).reversed())
        let width = self.width
        pixels.withUnsafeMutableBufferPointer { buffer in
            for row in rows {
                let from = (sourceY + row) * width + sourceX
                let to = (rect.y + row) * width + rect.x
                // SAFETY: both row ranges lie inside the buffer (checked above); memmove semantics.
                UnsafeMutableRawPointer(buffer.baseAddress! + to).copyMemory(
                    from: buffer.baseAddress! + from, byteCount: rect.width * 4)
            }
        }
    }

    /// Copies `rect` of this surface into the same place of `screen` (a buffer of the same width).
    func blit(_ rect: ScreenRect, into screen: inout [UInt32]) {
        let width = self.width
        pixels.withUnsafeBufferPointer { source in
            screen.withUnsafeMutableBufferPointer { target in
                for y in rect.y..<rect.maxY {
                    let start = y * width + rect.x
                    // SAFETY: rect lies inside both buffers, which have the same dimensions.
                    UnsafeMutableRawPointer(target.baseAddress! + start).copyMemory(
                        from: source.baseAddress! + start, byteCount: rect.width * 4)
                }
            }
        }
    }
}
