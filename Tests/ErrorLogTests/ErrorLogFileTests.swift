import JSON
import Testing
import VectorSupport

@testable import ErrorLog

/// The on-disk record format and the bound (`Protocols/errorlog.md` §3, §4), checked against
/// `Protocols/vectors/errorlog/records.vectors`, and the promise of §4.3: a file cut or damaged anywhere after
/// its header loses only what follows the damage, and never stops the load.
@Suite struct ErrorLogFileTests {
    private func load(_ vector: TestVector) throws -> (PartitionErrorLog, ErrorLogFile.Contents)? {
        let bound = ErrorLogBound(
            maxEntries: Int(try vector.text("maxEntries"))!, maxBytes: Int(try vector.text("maxBytes"))!)
        guard let contents = try? ErrorLogFile.parse(try vector.bytes()[...]) else { return nil }
        return (PartitionErrorLog(bound: bound, contents: contents), contents)
    }

    @Test func vectorsLoadAsTheSpecSays() throws {
        let set = try VectorSet("errorlog/records.vectors")
        #expect(set.vectors.count >= 12)
        for vector in set.vectors {
            if let kind = vector["error"] {
                #expect(throws: ErrorLogFileError.self, "\(vector.name)") {
                    try ErrorLogFile.parse(try vector.bytes()[...])
                }
                let bytes = try vector.bytes()
                do throws(ErrorLogFileError) { _ = try ErrorLogFile.parse(bytes[...]) } catch {
                    #expect(error.kind == kind, "\(vector.name)")
                }
                continue
            }
            guard let (log, contents) = try load(vector) else {
                Issue.record("\(vector.name): refused")
                continue
            }
            let expect = try JSON.parse(try vector.text("expect"))
            let got: JSON = [
                "entries": .array(log.entries.map(\.json)), "dropped": .uint(log.dropped),
                "nextSequence": .uint(log.nextSequence), "tornBytes": .int(Int64(contents.tornBytes)),
                "tornKind": contents.tornKind.map { .string($0) } ?? .null,
            ]
            #expect(got == expect, "\(vector.name)")
        }
    }

    /// The writer's bytes are the vectors' bytes: records built from the entries equal the file's records.
    @Test func writerProducesTheVectorBytes() throws {
        let vector = try VectorSet("errorlog/records.vectors").vector("two-entries")
        let contents = try ErrorLogFile.parse(try vector.bytes()[...])
        var image = ErrorLogFile.header(base: 1, dropped: 0)
        for entry in contents.entries { image += ErrorLogFile.record(entry) }
        #expect(image == (try vector.bytes()))
    }

    /// A kill at any byte of an append: every record before the cut survives, the load never fails.
    @Test func cutAtEveryPositionKeepsEarlierRecords() throws {
        var log = PartitionErrorLog(bound: ErrorLogBound(maxEntries: 100, maxBytes: 1 << 20))
        for index in 0..<5 {
            log.append(
                timeMs: 1000 + UInt64(index), source: .guest, severity: .error, code: "c\(index)", text: "é\(index)")
        }
        let image = log.fileImage
        var recordEnds: [Int] = []
        var offset = ErrorLogFile.headerBytes
        for entry in log.entries {
            offset += ErrorLogFile.record(entry).count
            recordEnds.append(offset)
        }
        for cut in ErrorLogFile.headerBytes...image.count {
            let contents = try ErrorLogFile.parse(image[..<cut])
            let whole = recordEnds.filter { $0 <= cut }.count
            #expect(contents.entries.count == whole, "cut at \(cut)")
            #expect(contents.tornBytes == cut - (whole == 0 ? ErrorLogFile.headerBytes : recordEnds[whole - 1]))
        }
    }

    /// Garbage after a good record (seeded, many shapes) is a torn tail, never a crash or an allocation of a
    /// length it names.
    @Test func garbageTailIsTorn() throws {
        var log = PartitionErrorLog(bound: ErrorLogBound(maxEntries: 10, maxBytes: 1 << 20))
        log.append(timeMs: 1, source: .hub, severity: .critical, code: "failed", text: "x")
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<500 {
            var tail: [UInt8] = []
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            for _ in 0..<Int(seed >> 58) + 1 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                tail.append(UInt8(truncatingIfNeeded: seed >> 33))
            }
            let contents = try ErrorLogFile.parse((log.fileImage + tail)[...])
            #expect(contents.entries.first == log.entries.first)
        }
    }

    @Test func boundDropsOldestAndCounts() {
        var log = PartitionErrorLog(bound: ErrorLogBound(maxEntries: 3, maxBytes: 1 << 20))
        var dropped = 0
        for index in 1...10 {
            dropped += log.append(timeMs: 0, source: .guest, severity: .info, code: "c", text: "\(index)").dropped
        }
        #expect(log.count == 3)
        #expect(log.dropped == 7 && dropped == 7)
        #expect(log.entries.map(\.sequence) == [8, 9, 10])
        // Bytes bound: each record here is 8 + 22 + 1 + 100 bytes.
        var small = PartitionErrorLog(bound: ErrorLogBound(maxEntries: 100, maxBytes: 300))
        for _ in 0..<5 {
            small.append(timeMs: 0, source: .hub, severity: .info, code: "c", text: String(repeating: "a", count: 100))
        }
        #expect(small.count == 2 && small.bytes <= 300 && small.dropped == 3)
    }

    @Test func resetKeepsNumberingAndFileImageSaysSo() throws {
        var log = PartitionErrorLog(bound: ErrorLogBound(maxEntries: 10, maxBytes: 1 << 20))
        for _ in 0..<4 { log.append(timeMs: 0, source: .guest, severity: .info, code: "c", text: "") }
        log.reset()
        #expect(log.count == 0 && log.dropped == 0 && log.nextSequence == 5)
        let reloaded = PartitionErrorLog(bound: log.bound, contents: try ErrorLogFile.parse(log.fileImage[...]))
        #expect(reloaded.nextSequence == 5 && reloaded.count == 0)
        var next = reloaded
        #expect(next.append(timeMs: 0, source: .guest, severity: .info, code: "c", text: "").entry.sequence == 5)
    }

    @Test func pagesBySequence() {
        var log = PartitionErrorLog(bound: ErrorLogBound(maxEntries: 5, maxBytes: 1 << 20))
        for _ in 0..<8 { log.append(timeMs: 0, source: .guest, severity: .info, code: "c", text: "") }
        #expect(log.page(since: 0, limit: 2).map(\.sequence) == [4, 5])
        #expect(log.page(since: 6, limit: 100).map(\.sequence) == [6, 7, 8])
        #expect(log.page(since: 9, limit: 100).isEmpty)
    }

    /// Long text and codes are cut at a character boundary, so the record stays valid UTF-8 and reads back.
    @Test func clippedTextStaysReadable() throws {
        var log = PartitionErrorLog(bound: ErrorLogBound(maxEntries: 5, maxBytes: 1 << 20))
        let entry = log.append(
            timeMs: 0, source: .guest, severity: .info, code: String(repeating: "é", count: 40),
            text: String(repeating: "€", count: 400)
        ).entry
        #expect(entry.code.utf8.count <= 64 && entry.text.utf8.count <= 1024)
        let contents = try ErrorLogFile.parse(log.fileImage[...])
        #expect(contents.entries == [entry] && contents.tornBytes == 0)
        #expect(log.append(timeMs: 0, source: .guest, severity: .info, code: "", text: "").entry.code == "unspecified")
    }
}
