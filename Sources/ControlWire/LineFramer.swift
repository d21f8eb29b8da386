// Newline-delimited framing for the control protocol (`Protocols/control.md` §2): each message is one
// line of UTF-8 JSON ended by LF; a CR before the LF is dropped; empty lines are ignored.
import JSON
import Wire

/// Splits a byte stream into lines, refusing any line longer than the limit.
///
/// Feed it whatever a read delivered; it returns every line that read completed. Chunking never
/// changes the output, and bytes already scanned are not scanned again, so a line arriving one byte
/// at a time costs linear time.
public struct LineFramer: Sendable {
    /// The default maximum line length, newline excluded (1 MiB).
    public static let defaultMaxLineLength = 1 << 20

    public let maxLineLength: Int
    private var pending: [UInt8] = []
    private var scanned = 0

    public init(maxLineLength: Int = LineFramer.defaultMaxLineLength) {
        self.maxLineLength = maxLineLength
    }

    /// Bytes held back waiting for the end of a line.
    public var bufferedByteCount: Int { pending.count }

    /// Set once a line exceeded the limit. The stream cannot be resynchronised after that: the caller
    /// answers with an error and closes. Later feeds return nothing.
    public private(set) var overflow: DecodeError?

    /// Appends `chunk` and returns the complete, non-empty lines (without LF or a trailing CR), in order.
    ///
    /// When a line exceeds the limit, the lines before it are still returned and ``overflow`` is set,
    /// without waiting for the end of the long line; so a read holding good requests followed by an
    /// oversized line is handled exactly as if it had arrived in pieces. Check ``overflow`` after
    /// handling the returned lines.
    public mutating func feed(_ chunk: some Collection<UInt8>) -> [ArraySlice<UInt8>] {
        guard overflow == nil else { return [] }
        pending.append(contentsOf: chunk)
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = 0
        var cursor = scanned
        while let newline = pending[cursor...].firstIndex(of: 0x0a) {
            var end = newline
            if end > lineStart && pending[end - 1] == 0x0d { end -= 1 }
            if end - lineStart > maxLineLength {
                fail()
                return lines
            }
            if end > lineStart { lines.append(pending[lineStart..<end]) }
            lineStart = newline + 1
            cursor = lineStart
        }
        // +1 allows a CR that may yet be followed by its LF.
        if pending.count - lineStart > maxLineLength + 1 {
            fail()
            return lines
        }
        if lineStart > 0 {
            // The returned slices keep the old storage alive (copy-on-write); the tail starts a fresh buffer.
            pending = Array(pending[lineStart...])
        }
        scanned = pending.count
        return lines
    }

    private mutating func fail() {
        // Report the limit, not the length seen so far, so the error does not depend on how the bytes were split.
        overflow = .oversized(length: maxLineLength + 1, limit: maxLineLength)
        pending = []
        scanned = 0
    }

    /// One message as a line: its compact JSON followed by LF (the serializer never emits a raw LF).
    public static func encode(_ message: JSON) -> [UInt8] {
        var out = message.serializedBytes()
        out.append(0x0a)
        return out
    }
}
