/// Encoded pixel rectangles shared by the viewers of one screen, so that viewers with the same pixel
/// format and encoding that are sent the same rectangle of the same picture (the common case: every
/// viewer of a full-screen animation) cost one encoding, not one each.
///
/// Raw, Hextile and Tight rectangles are cached whole (Tight's every zlib use starts from a reset stream,
/// and its entries are keyed by the viewer's Tight settings as well); ZRLE rectangles as their deflate blocks,
/// keyed by the zlib level, each compressed from a fresh state so that it continues any viewer's stream
/// (`RFBUpdateEncoder.encodeZRLE`). Entries belong to one screen `generation` and are dropped when it
/// changes; their total size is bounded so the cache never holds more than `maxBytes`.
package final class RFBRectCache {
    struct Key: Hashable {
        var format: RFBPixelFormat
        var encoding: Int32
        var rect: RFBRect
        /// Tight's settings (ZRLE: only the compression level; default for the others).
        var tight = RFBTightSettings()
    }

    package let maxBytes: Int
    private(set) var generation: UInt64 = 0
    private var entries: [Key: [UInt8]] = [:]
    private var bytes = 0
    /// Encodings saved by a hit, for tests and the benchmark.
    package private(set) var hits: UInt64 = 0

    package init(maxBytes: Int = 4 << 20) {
        self.maxBytes = maxBytes
    }

    /// Forgets everything encoded from an older picture.
    package func use(generation: UInt64) {
        guard generation != self.generation else { return }
        self.generation = generation
        entries.removeAll(keepingCapacity: true)
        bytes = 0
    }

    static func isCacheable(_ encoding: Int32) -> Bool {
        encoding == RFBEncoding.raw || encoding == RFBEncoding.hextile || encoding == RFBEncoding.tight
    }

    func lookup(_ key: Key) -> [UInt8]? {
        guard let found = entries[key] else { return nil }
        hits += 1
        return found
    }

    func store(_ key: Key, _ encoded: [UInt8]) {
        guard bytes + encoded.count <= maxBytes else { return }
        entries[key] = encoded
        bytes += encoded.count
    }
}
