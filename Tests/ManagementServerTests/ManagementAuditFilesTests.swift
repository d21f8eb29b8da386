import ControlWire
import DeviceKit
import Foundation
import JSON
import Management
import ManagementServer
import Testing

/// The audit log on disk (`Protocols/management.md` §5): append-only segments, their rotation and bound, a torn
/// last line, what stops the hub (a bad line in the middle, a missing segment, a segment that is not a regular
/// file), the migration of the version-1 file, sequence numbers across restarts, the write-ahead `verified`
/// entry and its reconciliation, and what a write that fails answers.
private func segmentPath(_ directory: String, _ number: Int) -> String {
    directory + "/management/audit.\(number).jsonl"
}

private func segments(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/management")) ?? [])
        .filter { $0.hasPrefix("audit.") }.sorted()
}

/// The entries' lines of a segment (the header left out).
private func entryLines(_ path: String) -> [JSON] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").dropFirst().compactMap { try? JSON.parse(String($0)) }
}

private func append(_ bytes: [UInt8], to path: String) throws {
    let handle = try #require(FileHandle(forWritingAtPath: path))
    handle.seekToEndOfFile()
    handle.write(Data(bytes))
    try handle.close()
}

private func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
}

private func sequences(_ rig: Rig) -> [Int64] {
    rig.result("mgmt.audit", ["limit": 1000])?["entries"]?.arrayValue?.compactMap { $0["seq"]?.int64Value } ?? []
}

private func results(_ rig: Rig) -> [String] {
    rig.result("mgmt.audit", ["limit": 1000])?["entries"]?.arrayValue?.compactMap { $0["result"]?.stringValue } ?? []
}

/// What the device refused to start with (the hub does not start then).
private func startError(_ directory: String) -> String? {
    do {
        _ = try Rig(directory: directory)
        return nil
    } catch {
        return "\(error)"
    }
}

private let garbage = Base64.encode([1, 2, 3])

@Suite struct ManagementAuditFilesTests {
    /// Capacity 16: segments of 8 entries; a full segment starts the next, and the oldest go once the ones after
    /// them hold 16 entries. A restart keeps the newest 16 and numbers on.
    @Test func segmentsRotateAndTheOldestAreDeleted() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        for _ in 0..<40 { #expect(rig.submit(garbage) == "bad_envelope") }
        #expect(segments(directory) == ["audit.4.jsonl", "audit.5.jsonl"])
        #expect(entryLines(segmentPath(directory, 4)).compactMap { $0["seq"]?.int64Value } == Array(25...32))
        #expect(entryLines(segmentPath(directory, 5)).compactMap { $0["seq"]?.int64Value } == Array(33...40))
        #expect(sequences(rig) == Array(25...40))
        rig.device.stop()
        let again = try Rig(directory: directory)
        #expect(sequences(again) == Array(25...40))
        #expect(again.submit(garbage) == "bad_envelope")
        #expect(sequences(again).last == 41)
        #expect(segments(directory) == ["audit.4.jsonl", "audit.5.jsonl", "audit.6.jsonl"])
    }

    /// Numbering continues from a segment's header even when it holds no entry yet (a hub killed right after it
    /// started a segment): sequence numbers are never reused.
    @Test func numberingContinuesFromAnEmptySegmentsHeader() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        for _ in 0..<3 { _ = rig.submit(garbage) }
        rig.device.stop()
        try Data(AuditSegments.header(segment: 2, firstSequence: 100)).write(
            to: URL(fileURLWithPath: segmentPath(directory, 2)))
        let again = try Rig(directory: directory)
        #expect(sequences(again) == [1, 2, 3])
        _ = again.submit(garbage)
        #expect(sequences(again) == [1, 2, 3, 100])
        #expect(entryLines(segmentPath(directory, 2)).compactMap { $0["seq"]?.int64Value } == [100])
    }

    /// A hub killed in the middle of an append leaves a torn last line: it is ignored, said so, and cut off, and
    /// the next entry lands on a line of its own.
    @Test func aTornLastLineIsIgnoredAndCutOff() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        for _ in 0..<3 { _ = rig.submit(garbage) }
        rig.device.stop()
        let path = segmentPath(directory, 1)
        let whole = fileSize(path)
        try append(Array(#"{"seq":4,"timeMs":17000000"#.utf8), to: path)
        let again = try Rig(directory: directory)
        #expect(again.device.loadNotes.contains { $0.contains("audit.1.jsonl line 5: no line feed") })
        #expect(fileSize(path) == whole)
        #expect(sequences(again) == [1, 2, 3])
        _ = again.submit(garbage)
        #expect(entryLines(path).compactMap { $0["seq"]?.int64Value } == [1, 2, 3, 4])
        // A whole last line that is not an entry (zeros a crash of the machine left) is a torn line too.
        again.device.stop()
        try append([UInt8](repeating: 0, count: 300) + [0x0A], to: path)
        let third = try Rig(directory: directory)
        #expect(third.device.loadNotes.contains { $0.contains("line 6: not JSON") })
        #expect(sequences(third) == [1, 2, 3, 4])
    }

    /// A huge line: at the end of the newest segment a torn line like any other (never read whole into memory);
    /// anywhere before the last line it stops the hub.
    @Test func aHugeLineIsTornAtTheEndAndRefusedInTheMiddle() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        _ = rig.submit(garbage)
        rig.device.stop()
        let path = segmentPath(directory, 1)
        try append([UInt8](repeating: UInt8(ascii: "x"), count: 8 << 20), to: path)
        let again = try Rig(directory: directory)
        #expect(again.device.loadNotes.contains { $0.contains("a line over 4096 bytes") })
        #expect(sequences(again) == [1])
        again.device.stop()
        let next = AuditSegments.line(
            AuditEntry(
                sequence: 2, timeMs: now, source: "control", authority: "", operation: "", target: "", counter: 0,
                result: "bad_envelope", detail: ""))
        try append([UInt8](repeating: UInt8(ascii: "x"), count: 5000) + [0x0A] + next, to: path)
        #expect(startError(directory)?.contains("audit.1.jsonl line 3: a line over 4096 bytes") == true)
    }

    /// A bad line before the last (of any segment) is not a torn append: the hub does not start, and says which.
    @Test func aBadLineInTheMiddleStopsTheHub() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        for _ in 0..<12 { _ = rig.submit(garbage) }  // segment 1 full (8), segment 2 holds 4
        rig.device.stop()
        // The newest segment: a bad line followed by a good one.
        let newest = segmentPath(directory, 2)
        var text = try String(contentsOfFile: newest, encoding: .utf8)
        text = text.replacingOccurrences(of: #""seq":10,"#, with: #""seq":"ten","#)
        try text.write(toFile: newest, atomically: false, encoding: .utf8)
        #expect(startError(directory)?.contains("audit.2.jsonl line 3: not an audit entry") == true)
        // An older segment's torn last line: only the newest segment can be torn.
        let directory2 = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory2) }
        let other = try Rig(directory: directory2)
        for _ in 0..<12 { _ = other.submit(garbage) }
        other.device.stop()
        try append(Array(#"{"seq":"#.utf8), to: segmentPath(directory2, 1))
        #expect(startError(directory2)?.contains("audit.1.jsonl line 10: no line feed") == true)
    }

    /// A segment missing between two others is lost entries in the middle: the hub does not start.
    @Test func aMissingSegmentInTheMiddleStopsTheHub() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        for _ in 0..<20 { _ = rig.submit(garbage) }
        rig.device.stop()
        #expect(segments(directory) == ["audit.1.jsonl", "audit.2.jsonl", "audit.3.jsonl"])
        try FileManager.default.removeItem(atPath: segmentPath(directory, 2))
        #expect(startError(directory)?.contains("audit.2.jsonl is missing") == true)
    }

    /// What the hub records on its own while it stops (an automatic rollback's outcome) goes on the newest
    /// segment, opened again, not into a new one.
    @Test func anEntryAfterStopGoesOnTheNewestSegment() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        _ = rig.submit(garbage)
        rig.device.stop()
        rig.device.recordOutcome(operation: "upgrade", target: "linux", result: "rolled_back", detail: "status 3")
        #expect(segments(directory) == ["audit.1.jsonl"])
        #expect(
            entryLines(segmentPath(directory, 1)).compactMap { $0["result"]?.stringValue } == [
                "bad_envelope", "rolled_back",
            ])
    }

    /// A FIFO or a symbolic link named like a segment is refused before it is opened: the hub does not start, and
    /// never waits on the FIFO.
    @Test func aSegmentThatIsNotARegularFileStopsTheHub() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        _ = rig.submit(garbage)
        rig.device.stop()
        #expect(mkfifo(segmentPath(directory, 2), 0o600) == 0)
        #expect(startError(directory)?.contains("audit.2.jsonl is not a regular file") == true)
        try FileManager.default.removeItem(atPath: segmentPath(directory, 2))
        try FileManager.default.createSymbolicLink(
            atPath: segmentPath(directory, 2), withDestinationPath: segmentPath(directory, 1))
        #expect(startError(directory)?.contains("audit.2.jsonl is not a regular file") == true)
    }

    /// The version-1 file (one JSON document) is migrated at the first start: segments written, the old file
    /// removed, the entries and their numbers kept. A start killed before the old file was removed migrates
    /// again over whatever segments it had written.
    @Test func theVersionOneFileIsMigrated() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/management", withIntermediateDirectories: true)
        var old = ManagementAuditLog(capacity: 16)
        for counter in 1...20 {
            old.append(
                AuditEntry(
                    timeMs: now, source: "control", authority: "designer", operation: "upgrade", target: "linux",
                    counter: UInt64(counter), result: "replayed", detail: ""))
        }
        try Data(old.json.serializedBytes()).write(to: URL(fileURLWithPath: directory + "/management/audit.json"))
        try Data("half a segment".utf8).write(to: URL(fileURLWithPath: segmentPath(directory, 1)))
        let rig = try Rig(directory: directory)
        #expect(rig.device.loadNotes.contains { $0.contains("migrated 16 entries") })
        #expect(!FileManager.default.fileExists(atPath: directory + "/management/audit.json"))
        #expect(segments(directory) == ["audit.1.jsonl", "audit.2.jsonl"])
        #expect(sequences(rig) == Array(5...20))
        _ = rig.submit(garbage)
        #expect(sequences(rig).last == 21)
        rig.device.stop()
        #expect(try sequences(Rig(directory: directory)) == Array(6...21))
    }

    /// A hub killed after the `verified` entry was written: at the next start the entry gets its outcome
    /// `interrupted`, which says whether the counter was spent (trust.json); once, not at every start.
    @Test func aVerifiedEntryWithoutOutcomeIsReconciledAtStart() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        #expect(rig.submit(envelope(counter: 1)) == "operation_unavailable")
        rig.device.stop()
        // Killed after the write-ahead entry of counter 2, before trust.json: not spent.
        let path = segmentPath(directory, 1)
        try append(
            AuditSegments.line(
                AuditEntry(
                    sequence: 3, timeMs: now, source: "control", authority: "designer", operation: "upgrade",
                    target: "linux", counter: 2, result: "verified", detail: "executing")), to: path)
        let second = try Rig(directory: directory)
        let entries = try #require(second.result("mgmt.audit")?["entries"]?.arrayValue)
        #expect(
            entries.compactMap { $0["result"]?.stringValue } == [
                "verified", "operation_unavailable", "verified", "interrupted",
            ])
        #expect(entries.last?["counter"]?.stringValue == "2" && entries.last?["source"]?.stringValue == "hub")
        #expect(entries.last?["detail"]?.stringValue?.contains("was not spent (trust.json holds 1)") == true)
        // Not spent: the same command may be sent again.
        #expect(second.submit(envelope(counter: 2)) == "operation_unavailable")
        second.device.stop()
        // Killed after trust.json (counter 2 spent), before the outcome: the outcome line is lost.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let kept = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(2).joined(separator: "\n")
        try (kept + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        let third = try Rig(directory: directory)
        let last = try #require(third.result("mgmt.audit", ["from": 5])?["entries"]?.arrayValue)
        #expect(last.compactMap { $0["result"]?.stringValue } == ["verified", "interrupted"])
        #expect(last.last?["detail"]?.stringValue?.contains("was spent (trust.json holds 2)") == true)
        #expect(third.submit(envelope(counter: 2)) == "replayed")
        third.device.stop()
        let fourth = try Rig(directory: directory)
        #expect(results(fourth).filter { $0 == "interrupted" }.count == 2)
    }

    /// The `verified` entry cannot be written (here a new segment cannot be created): the command is refused
    /// `state_unwritable` before its counter is spent, so it can be sent again. The entry is still in the log in
    /// memory: its refusal names it as its outcome (`outcomeOf`), so no `verified` entry is left without one (§5).
    @Test func anUnwritableWriteAheadEntrySpendsNothing() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        for _ in 0..<8 { _ = rig.submit(garbage) }  // segment 1 full
        let blocker = segmentPath(directory, 2) + ".tmp"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: true)
        #expect(rig.submit(envelope(counter: 1)) == "state_unwritable")
        #expect(rig.result("mgmt.status")?["authorities"]?[0]?["counter"]?.stringValue == "0")
        let entries = rig.result("mgmt.audit", ["limit": 1000])?["entries"]?.arrayValue ?? []
        let last = entries.suffix(2).map { ($0["result"]?.stringValue, $0["seq"]?.uint64Value) }
        #expect(last.map { $0.0 } == ["verified", "state_unwritable"])
        #expect(entries.last?["outcomeOf"]?.uint64Value == last.first?.1)
        #expect(entries.last?["outcomeOf"]?.uint64Value != nil)
        try FileManager.default.removeItem(atPath: blocker)
        #expect(rig.submit(envelope(counter: 1)) == "operation_unavailable")
    }

    /// The outcome entry cannot be written after the counter was spent: the command is not answered as it ended
    /// but refused `audit_unwritable` (its outcome in the detail); at the next start the `verified` entry on disk
    /// gets its outcome `interrupted`.
    @Test func anUnwritableOutcomeIsNotAnsweredAsAccepted() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        for _ in 0..<7 { _ = rig.submit(garbage) }  // the verified entry is the 8th, its outcome would start segment 2
        let blocker = segmentPath(directory, 2) + ".tmp"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: true)
        let reply = rig.caller.call(rig.host.methods, "mgmt.submit", ["envelope": .string(envelope(counter: 1))])
        guard case .error(let error) = reply else {
            Issue.record("answered \(reply)")
            return
        }
        #expect(error.reason == "audit_unwritable")
        #expect(error.data?["detail"]?.stringValue?.contains("operation_unavailable") == true)
        #expect(rig.result("mgmt.status")?["authorities"]?[0]?["counter"]?.stringValue == "1")
        rig.device.stop()
        try FileManager.default.removeItem(atPath: blocker)
        let again = try Rig(directory: directory)
        #expect(results(again).suffix(2) == ["verified", "interrupted"])
    }

    /// At `auditMaxEntries` 100000 with the log full, a verified command's save writes its two lines at the end of
    /// the newest segment and nothing else of the log: no file is rewritten, replaced or created. (The version-1
    /// file, 18 MB here, was rewritten whole at every save.) Bytes and inodes, not time: timing is for benchmarks.
    @Test func aFullLogOfOneHundredThousandIsAppendedToNotRewritten() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/management", withIntermediateDirectories: true)
        var old = ManagementAuditLog(capacity: 100_000)
        for counter in 0..<100_000 {
            old.append(
                AuditEntry(
                    timeMs: now, source: "guest:mgmt", authority: "designer", operation: "upgrade", target: "linux",
                    counter: UInt64(counter), result: "replayed", detail: "counter \(counter) is not above 0"))
        }
        try Data(old.json.serializedBytes()).write(to: URL(fileURLWithPath: directory + "/management/audit.json"))
        let rig = try Rig(directory: directory, auditMaxEntries: 100_000)
        #expect(rig.submit(garbage) == "bad_envelope")  // the log is full: this one starts the next segment
        #expect(sequences(rig).count == 1000)  // a page; the log holds 100000
        #expect(rig.result("mgmt.audit", ["limit": 1])?["oldest"]?.int64Value == 2)
        struct Seen: Equatable {
            var inode: Int
            var size: Int
        }
        func files() throws -> [String: Seen] {
            var seen: [String: Seen] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: directory + "/management")
            where name != "trust.json" {
                let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/management/" + name)
                seen[name] = Seen(
                    inode: (attributes[.systemFileNumber] as? NSNumber)?.intValue ?? -1,
                    size: (attributes[.size] as? NSNumber)?.intValue ?? -1)
            }
            return seen
        }
        let before = try files()
        #expect(rig.submit(envelope(counter: 1)) == "operation_unavailable")
        let after = try files()
        #expect(Set(after.keys) == Set(before.keys))
        let changed = after.filter { before[$0.key] != $0.value }
        #expect(changed.count == 1)
        let (name, grown) = try #require(changed.first)
        let was = try #require(before[name])
        #expect(grown.inode == was.inode)
        let lines = entryLines(directory + "/management/" + name).suffix(2)
        #expect(lines.compactMap { $0["result"]?.stringValue } == ["verified", "operation_unavailable"])
        let written = lines.reduce(0) { $0 + $1.serializedBytes().count + 1 }
        #expect(grown.size - was.size == written)
        #expect(written < 1024)
    }
}
