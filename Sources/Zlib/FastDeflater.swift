import CIsal

/// Raw deflate blocks (RFC 1951) from ISA-L's igzip at its level 1: several times faster than zlib's level 1
/// and usually smaller, for ZRLE's rectangles at the default compression (Protocols/framebuffer.md §2.4).
///
/// Every `compress` starts from a fresh state (no reference to earlier input) and ends sync-flushed on a byte
/// boundary with the stream left open, so its output continues any zlib stream that ended the same way.
package final class FastDeflater {
    // SAFETY: heap-allocated so the stream's address stays fixed while igzip uses it; freed in deinit.
    private let stream: UnsafeMutablePointer<isal_zstream>
    // SAFETY: igzip's level-1 hash tables, owned here for the stream's life; freed in deinit.
    private let levelBuffer: UnsafeMutableRawPointer
    private let levelBufferSize: Int

    package init() {
        stream = UnsafeMutablePointer<isal_zstream>.allocate(capacity: 1)
        stream.initialize(to: isal_zstream())
        levelBufferSize = Int(cisal_level1_buffer_size())
        levelBuffer = UnsafeMutableRawPointer.allocate(byteCount: levelBufferSize, alignment: 64)
    }

    deinit {
        stream.deinitialize(count: 1)
        stream.deallocate()
        levelBuffer.deallocate()
    }

    /// Compresses `input` from a fresh state and flushes to a byte boundary, appending the blocks to `out`.
    package func compress(_ input: [UInt8], into out: inout [UInt8]) {
        isal_deflate_init(stream)
        stream.pointee.level = 1
        stream.pointee.level_buf = levelBuffer.assumingMemoryBound(to: UInt8.self)
        stream.pointee.level_buf_size = UInt32(levelBufferSize)
        stream.pointee.gzip_flag = UInt16(IGZIP_DEFLATE)
        stream.pointee.flush = UInt16(SYNC_FLUSH)
        stream.pointee.end_of_stream = 0
        // Room for incompressible input (stored blocks add 5 bytes per 64 KiB) and the flush's empty block.
        var room = input.count + input.count / 1024 + 64
        // SAFETY: igzip reads `input` during these calls only; each call writes at most `room` bytes into the
        // fresh uninitialised buffer it is given, and only what it reports written is counted as initialised.
        // A full buffer means more output is pending: the call is repeated with another.
        input.withUnsafeBufferPointer { inBuffer in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.pointee.avail_in = UInt32(inBuffer.count)
            repeat {
                let chunk = [UInt8](unsafeUninitializedCapacity: room) { buffer, initialized in
                    stream.pointee.next_out = buffer.baseAddress
                    stream.pointee.avail_out = UInt32(buffer.count)
                    let status = isal_deflate(stream)
                    precondition(status == COMP_OK, "isal_deflate failed: \(status)")
                    initialized = buffer.count - Int(stream.pointee.avail_out)
                }
                out += chunk
                room = 64 * 1024
            } while stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
    }
}
