import JSON
import Management
import Testing

/// The audit log's pure parts (`Protocols/management.md` §5): the log in memory, a segment's lines read as they
/// stream in, and the reconciliation of `verified` entries left without an outcome.
private func entry(_ sequence: UInt64, _ result: String = "replayed", counter: UInt64 = 1, detail: String = "")
    -> AuditEntry
{
    AuditEntry(
        sequence: sequence, timeMs: 1_700_000_000_000, source: "control", authority: "designer",
        operation: "upgrade", target: "linux", counter: counter, result: result, detail: detail)
}

/// A segment's bytes: its header, then the entries' lines.
private func segment(_ number: Int, first: UInt64, _ entries: [AuditEntry]) -> [UInt8] {
    entries.reduce(AuditSegments.header(segment: number, firstSequence: first)) { $0 + AuditSegments.line($1) }
}

/// Reads `bytes` fed in pieces of `step`; the entries' sequence numbers and the torn last line, or the error.
private func read(_ bytes: [UInt8], segment number: Int = 1, after: UInt64 = 0, step: Int = 7) -> (
    [UInt64], (line: Int, reason: String)?, String?
) {
    var reader = AuditSegmentReader(segment: number, after: after)
    var sequences: [UInt64] = []
    do throws(AuditSegmentError) {
        var start = 0
        while start < bytes.count {
            try reader.feed(bytes[start..<min(bytes.count, start + step)]) { sequences.append($0.sequence) }
            start += step
        }
        return (sequences, try reader.finish(), nil)
    } catch {
        return (sequences, nil, error.description)
    }
}

@Suite struct AuditSegmentsTests {
    /// Dropping the oldest is amortised O(1) and keeps order, numbering and paging right across compactions.
    @Test func theLogInMemoryKeepsTheNewestCapacity() {
        var log = ManagementAuditLog(capacity: 4)
        for _ in 0..<103 { log.append(entry(0)) }
        #expect(log.entries.map(\.sequence) == [100, 101, 102, 103])
        #expect(log.entries[0].sequence == 100 && log.entries.last?.sequence == 103)
        #expect(log.page(from: 0, limit: 2).map(\.sequence) == [100, 101])
        #expect(log.page(from: 102, limit: 10).map(\.sequence) == [102, 103])
        #expect(log.page(from: 104, limit: 10).isEmpty)
        #expect(log.nextSequence == 104)
    }

    @Test func segmentNamesAndLines() throws {
        #expect(AuditSegments.segmentNumber(fileName: "audit.12.jsonl") == 12)
        for name in [
            "audit.0.jsonl", "audit.01.jsonl", "audit.x.jsonl", "audit..jsonl", "audit.1.jsonl.tmp", "audit.json",
        ] {
            #expect(AuditSegments.segmentNumber(fileName: name) == nil, "\(name)")
        }
        #expect(AuditSegments.entriesPerSegment(configured: 8) == 8)
        #expect(AuditSegments.entriesPerSegment(configured: 0) == 1)
        #expect(AuditSegments.entriesPerSegment(configured: 1_000_000) == 50_000)
        // A detail with line feeds stays on one line; one too long for a line is cut to fit.
        let broken = AuditSegments.line(entry(1, detail: "two\nlines"))
        #expect(broken.filter { $0 == 0x0A }.count == 1)
        let long = AuditSegments.line(entry(1, detail: String(repeating: "\u{1}é", count: 5000)))
        #expect(long.count <= AuditSegments.maxLineBytes && long.last == 0x0A)
        #expect(AuditEntry(json: try JSON.parse(Array(long.dropLast())))?.sequence == 1)
    }

    /// However the bytes arrive, the same entries; a torn last line is reported, not thrown.
    @Test func aSegmentReadsAlikeInAnyPiecesAndReportsATornTail() {
        let whole = segment(3, first: 5, [entry(5), entry(6), entry(9)])
        for step in [1, 2, 7, 64, whole.count] {
            let (sequences, torn, error) = read(whole, segment: 3, after: 4, step: step)
            #expect(sequences == [5, 6, 9] && torn == nil && error == nil, "step \(step)")
        }
        let cut = read(Array(whole.dropLast(10)), segment: 3, after: 4)
        #expect(cut.0 == [5, 6] && cut.1?.line == 4 && cut.1?.reason == "no line feed")
        let notAscending = read(whole + AuditSegments.line(entry(9)), segment: 3, after: 4)
        #expect(notAscending.0 == [5, 6, 9] && notAscending.1?.reason == "sequence number 9 does not ascend")
    }

    /// A bad line followed by another, a bad header, a wrong segment number, an empty file: errors, by line.
    @Test func aBadLineInTheMiddleOrABadHeaderIsAnError() {
        var middle = segment(1, first: 1, [entry(1)])
        middle += Array("{not json}\n".utf8) + AuditSegments.line(entry(2))
        #expect(read(middle).2 == "audit.1.jsonl line 3: not JSON")
        #expect(read(segment(2, first: 1, [entry(1)])).2 == "audit.1.jsonl line 1: not the header of audit segment 1")
        #expect(read(segment(1, first: 5, [entry(7)]), after: 5).2?.contains("line 1: not the header") == true)
        #expect(read([]).2 == "audit.1.jsonl line 1: empty: no header")
        #expect(read(Array("{\"auditSegm".utf8)).2?.contains("line 1") == true)
        // A line without end is dropped as soon as it passes the bound, never kept whole.
        let huge = segment(1, first: 1, []) + [UInt8](repeating: 0x20, count: 1 << 20)
        #expect(read(huge, step: 65536).1?.reason == "a line over 4096 bytes")
    }

    /// `verified` entries with no later outcome naming them, and the outcome given them.
    @Test func unfinishedVerifiedEntriesAreFound() {
        var reconciler = AuditReconciler()
        var outcome = entry(2, "accepted", counter: 1)
        outcome.outcomeOf = 1
        let lines = [
            entry(1, "verified", counter: 1), outcome, entry(3, "verified", counter: 2),
            entry(4, "bad_envelope", counter: 0), entry(5, "verified", counter: 3),
        ]
        for line in lines { reconciler.see(line) }
        #expect(reconciler.unfinished.map(\.sequence) == [3, 5])
        let spent = AuditReconciler.interrupted(lines[4], spentCounter: 3, timeMs: 9)
        #expect(spent.result == "interrupted" && spent.source == "hub" && spent.counter == 3)
        #expect(spent.detail.contains("entry 5") && spent.detail.contains("was spent (trust.json holds 3)"))
        let unspent = AuditReconciler.interrupted(lines[2], spentCounter: 1, timeMs: 9)
        #expect(unspent.detail.contains("was not spent (trust.json holds 1)"))
        #expect(spent.outcomeOf == 5 && AuditEntry(json: spent.json) == spent)
        reconciler.see(spent)
        #expect(reconciler.unfinished.map(\.sequence) == [3])
    }

    /// While a verified command's operation runs off the loop, other submissions of the same authority and counter
    /// are audited before its outcome (a replay, a forgery): refusals that name no `verified` entry, which must
    /// not be taken for its outcome. Only the entry whose `outcomeOf` is the `verified` entry's number ends it.
    @Test func onlyTheOutcomeNamingAVerifiedEntryEndsIt() {
        var reconciler = AuditReconciler()
        reconciler.see(entry(7, "verified", counter: 4))
        reconciler.see(entry(8, "replayed", counter: 4))
        reconciler.see(entry(9, "bad_signature", counter: 4))
        var stale = entry(10, "accepted", counter: 4)
        stale.outcomeOf = 3
        reconciler.see(stale)
        #expect(reconciler.unfinished.map(\.sequence) == [7])
        var outcome = entry(11, "accepted", counter: 4)
        outcome.outcomeOf = 7
        reconciler.see(outcome)
        #expect(reconciler.unfinished.isEmpty)
        // The link survives the line it is written as; an entry without one reads back without one.
        #expect(AuditEntry(json: outcome.json)?.outcomeOf == 7)
        #expect(AuditEntry(json: entry(8).json)?.outcomeOf == nil)
        guard case .object(var bad) = outcome.json else {
            Issue.record("an entry is an object")
            return
        }
        bad["outcomeOf"] = "seven"
        #expect(AuditEntry(json: .object(bad)) == nil)
    }
}
