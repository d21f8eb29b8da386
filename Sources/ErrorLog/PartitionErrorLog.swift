/// The bound of one partition's error log (`Protocols/errorlog.md` §3; `hub.limits.errorLogMaxEntries`,
/// `errorLogMaxBytes`).
package struct ErrorLogBound: Sendable, Equatable {
    package var maxEntries: Int
    /// Counted as the records' bytes on disk (length prefix, CRC and body).
    package var maxBytes: Int

    package init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }
}

/// One partition's error log in memory: the newest entries within the bound, the count of those the bound
/// dropped, and the next sequence number (`Protocols/errorlog.md` §3). Pure; `ErrorLogFile` is its disk form.
package struct PartitionErrorLog: Sendable {
    package let bound: ErrorLogBound
    /// Oldest first; `head` entries at the front are already dropped (removed in batches, so dropping stays
    /// cheap however large the bound).
    private var storage: [ErrorLogEntry] = []
    private var head = 0
    /// The records' bytes of the kept entries.
    package private(set) var bytes = 0
    /// Entries the bound dropped since the last reset.
    package private(set) var dropped: UInt64 = 0
    /// The sequence number the next entry gets; never goes back, not even on reset.
    package private(set) var nextSequence: UInt64 = 1

    package init(bound: ErrorLogBound) { self.bound = bound }

    package var entries: ArraySlice<ErrorLogEntry> { storage[head...] }
    package var count: Int { storage.count - head }

    /// The log a file held, bounded (the newest entries that fit are kept; the rest count as dropped).
    package init(bound: ErrorLogBound, contents: ErrorLogFile.Contents) {
        self.bound = bound
        dropped = contents.dropped
        nextSequence = max(1, contents.base, (contents.entries.last?.sequence ?? 0) &+ 1)
        for entry in contents.entries { keep(entry) }
    }

    /// Appends an entry with the next sequence number; text is cut at a character boundary to its limit
    /// (§2) and an empty code becomes `unspecified`. Returns the entry and how many old ones it pushed out.
    @discardableResult
    package mutating func append(
        timeMs: UInt64, source: ErrorLogSource, severity: ErrorLogSeverity, code: String, text: String
    ) -> (entry: ErrorLogEntry, dropped: Int) {
        let clippedCode = Self.clip(code, to: ErrorLogFile.maxCodeBytes)
        let entry = ErrorLogEntry(
            sequence: nextSequence, timeMs: timeMs, source: source, severity: severity,
            code: clippedCode.isEmpty ? "unspecified" : clippedCode,
            text: Self.clip(text, to: ErrorLogFile.maxTextBytes))
        nextSequence += 1
        let before = dropped
        keep(entry)
        return (entry, Int(dropped - before))
    }

    private mutating func keep(_ entry: ErrorLogEntry) {
        storage.append(entry)
        bytes += Self.recordBytes(entry)
        while count > bound.maxEntries || (bytes > bound.maxBytes && count > 1) {
            bytes -= Self.recordBytes(storage[head])
            head += 1
            dropped += 1
        }
        if head > 64 && head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }

    /// Empties the log; sequence numbers go on from where they were, so a reader's `since` stays valid.
    package mutating func reset() {
        storage = []
        head = 0
        bytes = 0
        dropped = 0
    }

    /// Up to `limit` entries with a sequence number of at least `since`, oldest first.
    package func page(since: UInt64, limit: Int) -> ArraySlice<ErrorLogEntry> {
        let kept = entries
        // Sequence numbers ascend: binary search for the first one at or after `since`.
        var low = kept.startIndex
        var high = kept.endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if kept[middle].sequence < since { low = middle + 1 } else { high = middle }
        }
        return kept[low..<min(kept.endIndex, low + max(0, limit))]
    }

    /// The whole file for this log (§4): what a compaction or a reset writes atomically.
    package var fileImage: [UInt8] {
        var out = ErrorLogFile.header(base: entries.first?.sequence ?? nextSequence, dropped: dropped)
        for entry in entries { out += ErrorLogFile.record(entry) }
        return out
    }

    package static func recordBytes(_ entry: ErrorLogEntry) -> Int {
        ErrorLogFile.recordPrefixBytes + ErrorLogFile.minBodyBytes - 1 + entry.code.utf8.count + entry.text.utf8.count
    }

    /// `text` cut to at most `limit` UTF-8 bytes at a character boundary.
    package static func clip(_ text: String, to limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            guard used + size <= limit else { break }
            result.append(character)
            used += size
        }
        return result
    }
}
