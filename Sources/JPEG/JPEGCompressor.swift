import CTurboJPEG

/// Chroma subsampling of a JPEG image (libjpeg-turbo's TJSAMP values).
package enum JPEGSubsampling: Sendable, Hashable {
    /// 4:4:4, no subsampling.
    case none
    /// 4:2:2, chroma halved horizontally.
    case half
    /// 4:2:0, chroma halved in both directions.
    case quarter

    var turboJPEG: Int32 {
        switch self {
        case .none: Int32(TJSAMP_444.rawValue)
        case .half: Int32(TJSAMP_422.rawValue)
        case .quarter: Int32(TJSAMP_420.rawValue)
        }
    }
}

/// The one Swift wrapper of libjpeg-turbo (`CTurboJPEG`): compresses rectangles of native `0x00RRGGBB`
/// pixels (little-endian in memory: blue, green, red, unused, libjpeg-turbo's BGRX) and, for tests,
/// decompresses. No I/O, no clock: the same input and settings give the same bytes.
package final class JPEGCompressor {
    // SAFETY: a TurboJPEG handle owned by this object, used only by its methods and destroyed in deinit.
    private let handle: tjhandle

    package init() {
        guard let handle = tjInitCompress() else { preconditionFailure("tjInitCompress failed") }
        self.handle = handle
    }

    deinit { tjDestroy(handle) }

    /// The JPEG image of the `width`×`height` rectangle at (`x`, `y`) of `pixels` (rows of `stride` pixels),
    /// at `quality` (1–100). Nil if libjpeg-turbo refuses (it does not for valid rectangles).
    package func compress(
        _ pixels: [UInt32], stride: Int, x: Int, y: Int, width: Int, height: Int, quality: Int,
        subsampling: JPEGSubsampling
    ) -> [UInt8]? {
        precondition(width > 0 && height > 0 && x >= 0 && y >= 0 && x + width <= stride)
        precondition((y + height - 1) * stride + x + width <= pixels.count)
        let bound = Int(tjBufSize(Int32(width), Int32(height), subsampling.turboJPEG))
        guard bound > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: bound)
        var size = UInt(bound)
        // SAFETY: the source pointer addresses `height` rows of `stride` pixels starting at (x, y), all inside
        // `pixels` (checked above); libjpeg-turbo reads only `width` pixels of each row. The destination is
        // `out`, `bound` bytes (tjBufSize, the worst case), and TJFLAG_NOREALLOC forbids libjpeg-turbo from
        // freeing or replacing it; both buffers outlive the call.
        let status: Int32 = pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                let start = UnsafeRawPointer(source.baseAddress! + y * stride + x)
                    .assumingMemoryBound(to: UInt8.self)
                var target: UnsafeMutablePointer<UInt8>? = destination.baseAddress
                return tjCompress2(
                    handle, start, Int32(width), Int32(stride * 4), Int32(height), Int32(TJPF_BGRX.rawValue),
                    &target, &size, subsampling.turboJPEG, Int32(quality),
                    Int32(TJFLAG_NOREALLOC | TJFLAG_FASTDCT))
            }
        }
        guard status == 0, Int(size) <= bound else { return nil }
        out.removeLast(bound - Int(size))
        return out
    }
}

/// Decodes JPEG images to native pixels; the tests' check of what a viewer would see.
package final class JPEGDecompressor {
    // SAFETY: a TurboJPEG handle owned by this object, used only by its methods and destroyed in deinit.
    private let handle: tjhandle

    package init() {
        guard let handle = tjInitDecompress() else { preconditionFailure("tjInitDecompress failed") }
        self.handle = handle
    }

    deinit { tjDestroy(handle) }

    /// The image's width, height and native pixels, or nil for data that is not a JPEG image.
    package func decompress(_ data: [UInt8]) -> (width: Int, height: Int, pixels: [UInt32])? {
        var width: Int32 = 0
        var height: Int32 = 0
        var subsampling: Int32 = 0
        var colourspace: Int32 = 0
        // SAFETY: libjpeg-turbo reads `data.count` bytes of `data` during the call and writes the four integers.
        let header = data.withUnsafeBufferPointer {
            tjDecompressHeader3(
                handle, $0.baseAddress, UInt($0.count), &width, &height, &subsampling, &colourspace)
        }
        guard header == 0, width > 0, height > 0, Int(width) * Int(height) <= 1 << 24 else { return nil }
        var pixels = [UInt32](repeating: 0, count: Int(width) * Int(height))
        // SAFETY: the destination holds width·height pixels of 4 bytes, pitch width·4, exactly what BGRX output
        // of the header's size needs; both buffers outlive the call.
        let status = data.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { destination in
                tjDecompress2(
                    handle, source.baseAddress, UInt(source.count),
                    UnsafeMutableRawPointer(destination.baseAddress!).assumingMemoryBound(to: UInt8.self),
                    width, width * 4, height, Int32(TJPF_BGRX.rawValue), 0)
            }
        }
        guard status == 0 else { return nil }
        return (Int(width), Int(height), pixels.map { $0 & 0x00ff_ffff })
    }
}
