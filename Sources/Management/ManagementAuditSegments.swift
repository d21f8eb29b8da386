import JSON
import PlatformConfig

/// The audit log's on-disk form (`Protocols/management.md` §5): segment files `audit.N.jsonl` (N = 1, 2, …),
/// each a header line and then one entry per line, each line one JSON object ended by a line feed and written
/// with one `write(2)`. Only ever appended to: a save costs the entry's bytes, never the log's. Pure: bytes in,
/// values out; the glue (`ManagementServer`) does the file calls.
package enum AuditSegments {
    /// The longest line, line feed included; an entry whose line would be longer has its detail cut (§5).
    package static let maxLineBytes = 4096
    /// The most entries a segment may hold (the largest `auditSegmentEntries`). A file with more is not ours.
    package static let maxEntriesPerSegment = ManagementConfig.auditSegmentEntriesRange.upperBound
    /// Sequence numbers read from disk are below this, so counting on from them cannot overflow and every
    /// number stays a JSON integer of the control API (`Protocols/control.md` §1).
    package static let sequenceLimit: UInt64 = 1 << 62

    /// Entries per segment: `auditSegmentEntries`, within what a reader accepts. The files hold at most a
    /// segment more than the log, and a full segment is deleted, never rewritten, once it is all older than that.
    package static func entriesPerSegment(configured: Int) -> Int {
        min(maxEntriesPerSegment, max(1, configured))
    }

    package static func fileName(_ segment: Int) -> String { "audit.\(segment).jsonl" }

    /// The segment number of a file name `audit.N.jsonl` (N decimal, no leading zero, at least 1); nil for any
    /// other name.
    package static func segmentNumber(fileName: String) -> Int? {
        guard fileName.hasPrefix("audit."), fileName.hasSuffix(".jsonl") else { return nil }
        let digits = fileName.utf8.dropFirst(6).dropLast(6)
        guard !digits.isEmpty, digits.count <= 9, digits.first != UInt8(ascii: "0"),
            digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    /// The first line of a segment: its number and the sequence number its first entry will have, so numbering
    /// continues after a restart even when the segment holds no entry yet.
    package static func header(segment: Int, firstSequence: UInt64) -> [UInt8] {
        let json: JSON = ["auditSegment": 1, "segment": .int(Int64(segment)), "firstSequence": .uint(firstSequence)]
        return json.serializedBytes() + [0x0A]
    }

    /// The line of `entry`. A detail long enough to take the line past `maxLineBytes` is cut to fit (details are
    /// the hub's own sentences; none is near the bound).
    package static func line(_ entry: AuditEntry) -> [UInt8] {
        var bytes = entry.json.serializedBytes() + [0x0A]
        var entry = entry
        while bytes.count > maxLineBytes, !entry.detail.isEmpty {
            entry.detail = String(entry.detail.prefix(max(0, entry.detail.count - (bytes.count - maxLineBytes) - 8)))
            bytes = entry.json.serializedBytes() + [0x0A]
        }
        return bytes
    }
}

/// Why a segment cannot be read: the hub does not start (§5), as for any state file it cannot read.
package struct AuditSegmentError: Error, Equatable, Sendable, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Reads one segment as it streams in: the header, then each entry in order, handed to `body`. Every line but the
/// last must be whole and valid; a bad last line (a torn append: no line feed, or bytes that are not an entry) is
/// reported, not thrown, so the glue can tolerate it in the newest segment only (§5).
package struct AuditSegmentReader {
    package let segment: Int
    /// The header's first sequence number, once read.
    package private(set) var firstSequence: UInt64?
    /// The last entry's sequence number (that of the segments before while none was read).
    package private(set) var lastSequence: UInt64
    package private(set) var entryCount = 0
    /// Bytes up to the end of the last good line: where a torn tail is cut.
    package private(set) var goodBytes = 0
    private var lineNumber = 0
    private var pending: [UInt8] = []
    private var overlong = false
    /// The first bad line; any line after it makes it a bad line in the middle.
    private var bad: (line: Int, reason: String)?

    /// `after`: the last sequence number of the segments before this one (0 for none).
    package init(segment: Int, after: UInt64) {
        self.segment = segment
        lastSequence = after
    }

    package mutating func feed(
        _ bytes: ArraySlice<UInt8>, _ body: (AuditEntry) -> Void
    ) throws(AuditSegmentError) {
        var start = bytes.startIndex
        while start < bytes.endIndex {
            guard let end = bytes[start...].firstIndex(of: 0x0A) else {
                take(bytes[start...])
                return
            }
            take(bytes[start..<end])
            try finishLine(body)
            start = end + 1
        }
    }

    private mutating func take(_ bytes: ArraySlice<UInt8>) {
        guard !overlong else { return }
        // Checked before anything is kept: a line without end never grows the buffer past the bound.
        if pending.count + bytes.count >= AuditSegments.maxLineBytes {
            overlong = true
            pending = []
        } else {
            pending += bytes
        }
    }

    private mutating func finishLine(_ body: (AuditEntry) -> Void) throws(AuditSegmentError) {
        lineNumber += 1
        if let bad { throw error(line: bad.line, bad.reason) }
        let lineBytes = pending.count + 1
        defer {
            pending = []
            overlong = false
        }
        if overlong { return markBad("a line over \(AuditSegments.maxLineBytes) bytes") }
        guard let json = try? JSON.parse(pending) else { return markBad("not JSON") }
        if lineNumber == 1 {
            guard json["auditSegment"]?.intValue == 1, json["segment"]?.intValue == segment,
                let first = json["firstSequence"]?.uint64Value, first >= 1, first < AuditSegments.sequenceLimit,
                first > lastSequence
            else { throw error(line: 1, "not the header of audit segment \(segment)") }
            firstSequence = first
            goodBytes += lineBytes
            return
        }
        guard let entry = AuditEntry(json: json) else { return markBad("not an audit entry") }
        guard entry.sequence < AuditSegments.sequenceLimit, entry.sequence > lastSequence,
            entry.sequence >= firstSequence ?? 1
        else { return markBad("sequence number \(entry.sequence) does not ascend") }
        guard entryCount < AuditSegments.maxEntriesPerSegment else {
            throw error(line: lineNumber, "more than \(AuditSegments.maxEntriesPerSegment) entries")
        }
        lastSequence = entry.sequence
        entryCount += 1
        goodBytes += lineBytes
        body(entry)
    }

    private mutating func markBad(_ reason: String) {
        // The header is written with the file (temporary, fsync, rename): a segment never lacks a whole one.
        if lineNumber == 1 {
            bad = (1, "not the header of audit segment \(segment): \(reason)")
        } else {
            bad = (lineNumber, reason)
        }
    }

    /// The end of the file: nil when it ended cleanly, else the torn last line (its number and what was wrong).
    /// A segment with no header at all is an error.
    package mutating func finish() throws(AuditSegmentError) -> (line: Int, reason: String)? {
        if !pending.isEmpty || overlong {
            if let bad { throw error(line: bad.line, bad.reason) }
            lineNumber += 1
            bad = (lineNumber, overlong ? "a line over \(AuditSegments.maxLineBytes) bytes" : "no line feed")
        }
        if let bad, bad.line == 1 || firstSequence == nil { throw error(line: bad.line, bad.reason) }
        if firstSequence == nil { throw error(line: 1, "empty: no header") }
        return bad
    }

    private func error(line: Int, _ reason: String) -> AuditSegmentError {
        AuditSegmentError("\(AuditSegments.fileName(segment)) line \(line): \(reason)")
    }
}

/// Finds the `verified` entries that have no outcome entry (a later entry whose `outcomeOf` is the `verified`
/// entry's sequence number): what a hub killed between the two writes of a verified command left (§5).
package struct AuditReconciler {
    private var open: [String: AuditEntry] = [:]

    package init() {}

    package mutating func see(_ entry: AuditEntry) {
        guard !entry.authority.isEmpty else { return }
        let key = "\(entry.authority)/\(entry.counter)"
        if entry.result == AuditEntry.verified {
            open[key] = entry
        } else if let verified = entry.outcomeOf, open[key]?.sequence == verified {
            open[key] = nil
        }
    }

    /// The `verified` entries left without an outcome, oldest first.
    package var unfinished: [AuditEntry] { open.values.sorted { $0.sequence < $1.sequence } }

    /// The outcome entry for `verified`, made at start: source `hub`, the command's authority, operation, target
    /// and counter, result `interrupted`, and whether the counter was spent (`spentCounter`: the authority's
    /// counter in `trust.json`).
    package static func interrupted(_ verified: AuditEntry, spentCounter: UInt64, timeMs: UInt64) -> AuditEntry {
        let spent = spentCounter >= verified.counter
        let detail =
            spent
            ? "the hub stopped after verifying entry \(verified.sequence) and before writing its outcome; its counter "
                + "was spent (trust.json holds \(spentCounter)), so the operation may have run: software.status and "
                + "provisioning.status show what it left"
            : "the hub stopped after verifying entry \(verified.sequence) and before writing trust.json; its counter "
                + "was not spent (trust.json holds \(spentCounter)) and the operation did not run"
        return AuditEntry(
            timeMs: timeMs, source: "hub", authority: verified.authority, operation: verified.operation,
            target: verified.target, counter: verified.counter, result: AuditEntry.interrupted, detail: detail,
            outcomeOf: verified.sequence)
    }
}
