// Newline-delimited framing for the control protocol (`Protocols/control.md` §2): each message is one
// line of UTF-8 JSON ended by LF; a CR before the LF is dropped; empty lines are ignored.
import JSON
import Wire

/// Splits a byte stream into lines, refusing any line longer than the limit.
///
/// Feed it whatever a read delivered; it returns every line that read completed. Chunking never
/// changes the output, and bytes already scanned are not scanned again, so a line arriving one byte
/// at a time costs linear time.
package struct LineFramer: Sendable {
    /// The default maximum line length, newline excluded (1 MiB).
    package static let defaultMaxLineLength = 1 << 20

    /// The longest line accepted. A server may raise it once its peer has authenticated
    /// (`Protocols/control.md` §2.3): lines are checked when they are taken, so the new limit applies
    /// to every line not yet taken.
    package var maxLineLength: Int
    private var pending: [UInt8] = []
    /// Where the first line not yet taken starts in `pending`.
    private var start = 0
    /// Bytes of `pending` already searched for LF (never searched twice).
    private var scanned = 0

    package init(maxLineLength: Int = LineFramer.defaultMaxLineLength) {
        self.maxLineLength = maxLineLength
    }

    /// Bytes held back: lines not taken yet and the start of an unfinished line.
    package var bufferedByteCount: Int { pending.count - start }

    /// After `hasNewline()` found one: the bytes up to it, what the next line costs to take.
    package var bytesToNewline: Int { scanned - start }

    /// Set once a line exceeded the limit. The stream cannot be resynchronised after that: the caller
    /// answers with an error and closes. Later feeds return nothing.
    package private(set) var overflow: DecodeError?

    /// Appends `chunk` and returns the complete, non-empty lines (without LF or a trailing CR), in order.
    ///
    /// When a line exceeds the limit, the lines before it are still returned and ``overflow`` is set,
    /// without waiting for the end of the long line; so a read holding good requests followed by an
    /// oversized line is handled exactly as if it had arrived in pieces. Check ``overflow`` after
    /// handling the returned lines.
    package mutating func feed(_ chunk: some Collection<UInt8>) -> [ArraySlice<UInt8>] {
        guard overflow == nil else { return [] }
        append(chunk)
        var lines: [ArraySlice<UInt8>] = []
        while let line = nextLine() { lines.append(line) }
        return lines
    }

    /// Buffers `chunk` without taking any line; take them one at a time with ``nextLine()``, so a server
    /// can stop between requests (backpressure) and leave the rest buffered.
    package mutating func append(_ chunk: some Collection<UInt8>) {
        guard overflow == nil else { return }
        if start == pending.count {
            pending.removeAll(keepingCapacity: pending.capacity <= 1 << 16)
            start = 0
            scanned = 0
        } else if start >= 4096 && start * 2 >= pending.count {
            // Drop the taken prefix now and then; lines already returned keep their own storage (copy-on-write).
            pending.removeFirst(start)
            scanned -= start
            start = 0
        }
        pending.append(contentsOf: chunk)
    }

    /// Whether a newline is buffered past the last line taken (a line, perhaps an empty one, can be taken), found
    /// without taking it: a server can ask for the budget to handle it first. What it searched is not searched
    /// again by `nextLine()`.
    package mutating func hasNewline() -> Bool {
        guard overflow == nil else { return false }
        guard let newline = firstNewline(from: scanned) else {
            scanned = pending.count
            return false
        }
        scanned = newline
        return true
    }

    /// The next complete, non-empty line (without LF or a trailing CR), or nil when none is complete
    /// yet or the stream has overflowed (then ``overflow`` is set).
    package mutating func nextLine() -> ArraySlice<UInt8>? {
        guard overflow == nil else { return nil }
        while let newline = firstNewline(from: scanned) {
            var end = newline
            if end > start && pending[end - 1] == 0x0d { end -= 1 }
            if end - start > maxLineLength {
                fail()
                return nil
            }
            let lineStart = start
            start = newline + 1
            scanned = start
            if end > lineStart { return pending[lineStart..<end] }
        }
        scanned = pending.count
        // +1 allows a CR that may yet be followed by its LF.
        if pending.count - start > maxLineLength + 1 { fail() }
        return nil
    }

    /// The index of the first LF in `pending` at or after `from`, eight bytes a step: every request is searched
    /// once, and a byte-by-byte search of a slice cost about as much as taking the line.
    private func firstNewline(from: Int) -> Int? {
        pending.withUnsafeBytes { bytes -> Int? in
            let count = bytes.count
            var index = from
            // A word's bytes that are LF become zero after the XOR; the classic test sets the top bit of a zero byte
            // (and may set it of a byte above a zero one, but the lowest flagged byte is always a real zero).
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            let newlines: UInt64 = 0x0a0a_0a0a_0a0a_0a0a
            while count - index >= 8 {
                // SAFETY: eight bytes from `index` are inside `pending` (the loop's condition).
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) ^ newlines
                let flagged = (word &- ones) & ~word & highs
                if flagged != 0 { return index + flagged.trailingZeroBitCount / 8 }
                index += 8
            }
            while index < count {
                if bytes[index] == 0x0a { return index }
                index += 1
            }
            return nil
        }
    }

    private mutating func fail() {
        // Report the limit, not the length seen so far, so the error does not depend on how the bytes were split.
        overflow = .oversized(length: maxLineLength + 1, limit: maxLineLength)
        pending = []
        start = 0
        scanned = 0
    }

    /// One message as a line: its compact JSON followed by LF (the serializer never emits a raw LF).
    package static func encode(_ message: JSON) -> [UInt8] {
        var out = message.serializedBytes()
        out.append(0x0a)
        return out
    }
}
