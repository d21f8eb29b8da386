import CZlib

/// A zlib inflater kept across pieces, as a viewer keeps its ZRLE stream (RFC 6143 §7.7.6) or each of Tight's four
/// streams (§7.7.5): the tests' decoders and the deflate tests share it, and it frees its stream when dropped.
final class StreamInflater {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)

    init() {
        stream.initialize(to: z_stream())
        precondition(czlib_inflate_init(stream) == Z_OK)
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates one piece completely; nil if zlib reports an error.
    func inflate(_ piece: [UInt8]) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var input = piece
        var failed = false
        // SAFETY: zlib reads `input` and writes `buffer` only during these calls.
        input.withUnsafeMutableBufferPointer { inBuffer in
            stream.pointee.next_in = inBuffer.baseAddress
            stream.pointee.avail_in = UInt32(inBuffer.count)
            repeat {
                let produced: Int = buffer.withUnsafeMutableBufferPointer { out in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = UInt32(out.count)
                    let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                    if status != Z_OK && status != Z_BUF_ERROR { failed = true }
                    return out.count - Int(stream.pointee.avail_out)
                }
                output += buffer[0..<produced]
            } while !failed && (stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0)
        }
        return failed ? nil : output
    }
}
