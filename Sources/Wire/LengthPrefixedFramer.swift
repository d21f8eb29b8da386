/// Splits a byte stream into frames carried behind a big-endian length prefix.
///
/// One framer serves every length-prefixed protocol the hub speaks: the guest protocol
/// (4-byte prefix), QEMU `-netdev stream` (4 bytes) and VDE stream cables (2 bytes).
/// Feed it whatever a read delivered; it returns every complete frame that read finished,
/// so a large coalesced read costs one call. Chunking never changes the output.
public struct LengthPrefixedFramer {
    public enum PrefixWidth: Int, Sendable { case two = 2, four = 4 }

    public let prefixWidth: PrefixWidth
    /// Checked at every length prefix, so raising it (after a handshake) applies from the next frame on.
    public var maxFrameLength: Int
    public let allowEmpty: Bool
    private var pending: [UInt8] = []

    public init(prefixWidth: PrefixWidth, maxFrameLength: Int, allowEmpty: Bool = false) {
        self.prefixWidth = prefixWidth
        self.maxFrameLength = maxFrameLength
        self.allowEmpty = allowEmpty
    }

    /// Bytes held back waiting for the rest of a frame.
    public var bufferedByteCount: Int { pending.count }

    /// Appends `chunk` and returns the complete frames, in order.
    ///
    /// Throws on a length over the limit (or zero, when empty frames are not allowed); the stream
    /// cannot be resynchronised after that, so the caller closes the connection.
    public mutating func feed(_ chunk: some Collection<UInt8>) throws(DecodeError) -> [ArraySlice<UInt8>] {
        pending.append(contentsOf: chunk)
        return try split()
    }

    /// As `feed`, but the frames are slices of `chunk` itself (no copy); only a frame that straddles two reads
    /// is assembled in the framer's own buffer.
    public mutating func feed(_ chunk: ArraySlice<UInt8>) throws(DecodeError) -> [ArraySlice<UInt8>] {
        var frames: [ArraySlice<UInt8>] = []
        try feed(chunk, into: &frames)
        return frames
    }

    /// As `feed(_:)` on a slice, appending the frames to `frames`, so a caller reusing one array across reads
    /// allocates nothing per read. On a throw, `frames` may hold frames that preceded the bad length.
    public mutating func feed(_ chunk: ArraySlice<UInt8>, into frames: inout [ArraySlice<UInt8>])
        throws(DecodeError)
    {
        var cursor = chunk.startIndex
        let width = prefixWidth.rawValue
        if !pending.isEmpty {
            // Finish the frame the previous read began: only its bytes are copied, the rest stays in `chunk`.
            if pending.count < width {
                let take = min(width - pending.count, chunk.endIndex - cursor)
                pending.append(contentsOf: chunk[cursor..<cursor + take])
                cursor += take
                if pending.count < width { return }
            }
            var length = 0
            for offset in 0..<width { length = length << 8 | Int(pending[offset]) }
            try check(length)
            let missing = width + length - pending.count
            let take = min(missing, chunk.endIndex - cursor)
            pending.append(contentsOf: chunk[cursor..<cursor + take])
            cursor += take
            guard take == missing else { return }
            frames.append(pending[width...])
            // The frame keeps the old storage (copy-on-write); the next straddling frame starts a fresh buffer.
            pending = []
        }
        while chunk.endIndex - cursor >= width {
            var length = 0
            for offset in 0..<width { length = length << 8 | Int(chunk[cursor + offset]) }
            try check(length)
            guard chunk.endIndex - cursor - width >= length else { break }
            let start = cursor + width
            frames.append(chunk[start..<start + length])
            cursor = start + length
        }
        if cursor < chunk.endIndex { pending.append(contentsOf: chunk[cursor...]) }
    }

    @inline(__always)
    private func check(_ length: Int) throws(DecodeError) {
        if length > maxFrameLength { throw .oversized(length: length, limit: maxFrameLength) }
        if length == 0 && !allowEmpty { throw .empty }
    }

    private mutating func split() throws(DecodeError) -> [ArraySlice<UInt8>] {
        var frames: [ArraySlice<UInt8>] = []
        var cursor = 0
        let width = prefixWidth.rawValue
        while pending.count - cursor >= width {
            var length = 0
            for offset in 0..<width { length = length << 8 | Int(pending[cursor + offset]) }
            if length > maxFrameLength { throw .oversized(length: length, limit: maxFrameLength) }
            if length == 0 && !allowEmpty { throw .empty }
            guard pending.count - cursor - width >= length else { break }
            let start = cursor + width
            frames.append(pending[start..<start + length])
            cursor = start + length
        }
        if cursor > 0 {
            // Frames are slices of the old buffer (copy-on-write keeps them valid); start a fresh one for the tail.
            pending = Array(pending[cursor...])
        }
        return frames
    }

    /// Encodes one frame with its prefix.
    public static func encode(_ body: some Collection<UInt8>, prefixWidth: PrefixWidth) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + prefixWidth.rawValue)
        let length = body.count
        for shift in stride(from: (prefixWidth.rawValue - 1) * 8, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: length >> shift))
        }
        out.append(contentsOf: body)
        return out
    }
}
