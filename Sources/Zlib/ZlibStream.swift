import CZlib

/// One zlib deflate stream that lives as long as its owner (ZRLE keeps one per client, RFC 6143 §7.7.6:
/// "the zlib stream is not reset between rectangles").
package final class ZlibDeflater {
    // SAFETY: heap-allocated so zlib's internal back-pointer (strm->state->strm) stays valid.
    private let stream: UnsafeMutablePointer<z_stream>
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    /// `raw`: deflate blocks only, no zlib header (the caller supplies the stream's header once).
    package init(level: Int32 = 1, raw: Bool = false) {
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = raw ? czlib_deflate_init_raw(stream, level) : czlib_deflate_init(stream, level)
        precondition(status == Z_OK, "deflateInit2 failed: \(status)")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Starts a fresh stream (no history; the next output begins with a zlib header), as a peer that resets
    /// its inflater expects (Tight's stream-reset bits, Protocols/framebuffer.md §2.6).
    package func reset() {
        deflateReset(stream)
    }

    /// Compresses `input` and flushes to a byte boundary (Z_SYNC_FLUSH), appending the output to `out`.
    package func compress(_ input: [UInt8], into out: inout [UInt8]) {
        // SAFETY: zlib reads `input` and writes `scratch` only during these calls; both outlive them.
        input.withUnsafeBufferPointer { inBuffer in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.pointee.avail_in = UInt32(inBuffer.count)
            repeat {
                let produced: Int = scratch.withUnsafeMutableBufferPointer { outBuffer in
                    stream.pointee.next_out = outBuffer.baseAddress
                    stream.pointee.avail_out = UInt32(outBuffer.count)
                    _ = deflate(stream, Z_SYNC_FLUSH)
                    return outBuffer.count - Int(stream.pointee.avail_out)
                }
                out.append(contentsOf: scratch[0..<produced])
            } while stream.pointee.avail_out == 0
            stream.pointee.next_in = nil
        }
    }
}

/// Whole-buffer zlib helpers (guest damage with zlib, PNG).
package enum Zlib {
    /// Inflates a complete zlib stream, refusing output beyond `limit` bytes (a decompression bomb stops
    /// there). Returns nil for a corrupt or truncated stream or one that would exceed the limit.
    package static func inflate(_ input: ArraySlice<UInt8>, limit: Int) -> [UInt8]? {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        guard czlib_inflate_init(stream) == Z_OK else { return nil }
        var output = [UInt8](repeating: 0, count: limit)
        let input = Array(input)
        // SAFETY: both buffers outlive the inflate calls that use them.
        let result: Int32 = input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
                stream.pointee.avail_in = UInt32(inBuffer.count)
                stream.pointee.next_out = outBuffer.baseAddress
                stream.pointee.avail_out = UInt32(outBuffer.count)
                return CZlib.inflate(stream, Z_FINISH)
            }
        }
        guard result == Z_STREAM_END else { return nil }
        output.removeLast(Int(stream.pointee.avail_out))
        return output
    }

    /// Compresses a whole buffer into one zlib stream.
    package static func deflate(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var bound = Int(compressBound(UInt(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        // SAFETY: compress2 writes at most `bound` bytes into `output` and reads `input.count` bytes.
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { inBuffer in
                var length = UInt(bound)
                let status = compress2(out.baseAddress, &length, inBuffer.baseAddress, UInt(inBuffer.count), level)
                bound = Int(length)
                return status
            }
        }
        precondition(status == Z_OK, "compress2 failed: \(status)")
        output.removeLast(output.count - bound)
        return output
    }

    /// CRC-32 as PNG chunks use it.
    package static func crc32(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt32 {
        // SAFETY: zlib reads exactly `count` bytes from the buffer during the call.
        bytes.withUnsafeBufferPointer { UInt32(CZlib.crc32(UInt(initial), $0.baseAddress, UInt32($0.count))) }
    }
}
