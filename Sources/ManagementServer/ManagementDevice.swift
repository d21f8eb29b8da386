import DeviceKit
import EventLoop
import HubSystem
import JSON
import Management
import ManagementWire
import PlatformConfig

/// The management plane's glue (`Protocols/management.md`): verifies submitted commands, keeps the trusted
/// state and the audit log in `hub.stateDirectory`, hands verified commands to the executor, and serves the
/// `mgmt.*` methods. Commands from the control API and from the `mgmt` partition's relay both arrive at
/// `submit`, so both pass exactly the same checks.
package final class ManagementDevice: HubDevice {
    package let familyName = "management"
    /// Carries out verified partition operations; the software-slot engine replaces the default, which refuses
    /// them with `operation_unavailable`.
    package var executor: any ManagementOperationExecutor = UnavailableOperationExecutor()
    /// Tests only (`Protocols/management.md` §"Test hooks"): the point at which the hub kills itself with SIGKILL.
    package var killPoint: String?
    private(set) var verifier: ManagementVerifier
    private(set) var audit: ManagementAuditLog
    let store: ManagementStore?
    /// The audit log's segment files (nil without a state directory).
    let auditFiles: ManagementAuditFiles?
    let counters = ManagementCounters()
    /// Set by `start`. Unowned, not weak: the hub owns the device and outlives it, and a weak reference would give
    /// the hub a side table (`Sources/ARCHITECTURE.md`, "A handle's lifetime").
    unowned var host: (any DeviceHost)?
    /// What loading the audit log found (a torn last line, a migration), logged once the device has a logger.
    package private(set) var loadNotes: [String] = []
    /// `verified` entries without an outcome at start, and the counters `trust.json` held then.
    private var unfinished: [AuditEntry] = []
    private var persistedCounters: [String: UInt64] = [:]
    private(set) var waits: DeferredWaits<ManagementWait>?
    let config: ManagementConfig

    /// Loads the trusted state and the audit log; a state file that exists but cannot be read stops the hub
    /// (`Protocols/management.md` §5: forgetting counters would re-open replays).
    package init(configuration: PlatformConfiguration) throws(HubStartError) {
        config = configuration.management
        store = configuration.hub.stateDirectory.map { ManagementStore(directory: $0 + "/management") }
        auditFiles = store.map {
            ManagementAuditFiles(
                directory: $0.directory, capacity: configuration.management.auditMaxEntries,
                segmentEntries: configuration.management.auditSegmentEntries)
        }
        var trust: ManagementTrust? = nil
        var log = ManagementAuditLog(capacity: configuration.management.auditMaxEntries)
        if let store, let auditFiles {
            do throws(ManagementStoreError) {
                try store.prepare()
                trust = try store.loadTrust()
                let loaded = try auditFiles.load(legacy: store.auditPath)
                (log, unfinished, loadNotes) = (loaded.log, loaded.unfinished, loaded.notes)
            } catch {
                throw .device("hub.stateDirectory: management state in \(store.directory): \(error.description)")
            }
        }
        persistedCounters = trust?.authorities.mapValues(\.counter) ?? [:]
        verifier = ManagementVerifier(config: configuration.management, persisted: trust)
        audit = log
    }

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        waits = host.makeWaits()
        host.register(methods)
        for note in loadNotes { host.logger.warning("management audit log: \(note)") }
        reconcile()
    }

    /// Gives every `verified` entry left without an outcome (the hub stopped between the two writes of a
    /// verified command) its outcome `interrupted`, so the audit log explains every counter (§5).
    private func reconcile() {
        for verified in unfinished {
            let entry = AuditReconciler.interrupted(
                verified, spentCounter: persistedCounters[verified.authority] ?? 0,
                timeMs: (host?.wallClockNanos ?? 0) / 1_000_000)
            let kept = append(entry, sync: true).entry
            counters.count(kept.result)
            host?.logger.warning("management audit log: entry \(kept.sequence): \(kept.detail)")
            resolveWaits(kept)
        }
        unfinished = []
    }

    package func stop() {
        waits?.finishAll(.error(.unavailable("the hub is shutting down")))
        waits?.close()
        // Refusals were written without fsync (§5): an orderly stop makes them survive the machine too.
        do throws(ManagementStoreError) { try auditFiles?.sync() } catch {
            host?.logger.error("management audit log not synced: \(error.description)")
        }
        auditFiles?.close()
    }

    package var limitsJSON: JSON {
        [
            "auditMaxEntries": .int(Int64(config.auditMaxEntries)),
            "auditSegmentEntries": .int(Int64(config.auditSegmentEntries)),
            "maxEnvelopeBytes": .int(Int64(ManagementCodec.maxEnvelopeBytes)),
            "relayMaxWaitingEnvelopes": .int(Int64(Self.relayMaxWaitingEnvelopes)),
            "relayMaxOwedBusy": .int(Int64(Self.relayMaxOwedBusy)),
            "maxCommandLifetimeMs": .int(Int64(config.maxCommandLifetimeMs)),
            "provisioningBudgets": .array(config.authorities.compactMap(Self.budgetJSON)),
        ]
    }

    /// An authority's provisioning budget as `hub.limits` shows it (`Protocols/management.md` §9).
    static func budgetJSON(_ authority: ManagementAuthorityConfig) -> JSON? {
        guard let budget = authority.budget else { return nil }
        return [
            "authority": .string(authority.name), "namePrefix": .string(budget.namePrefix),
            "maxPartitions": .int(Int64(budget.maxPartitions)), "maxMemoryBytes": .uint(budget.maxMemoryBytes),
            "classes": .array(budget.classes.map { .string($0.rawValue) }),
            "minPriority": .int(Int64(budget.minPriority)), "maxPriority": .int(Int64(budget.maxPriority)),
            "devices": .array(budget.devices.map { .string($0) }), "peers": .array(budget.peers.map { .string($0) }),
        ]
    }

    /// Verifies and runs one envelope from `source` (`control` or `guest:PARTITION`), audits it and publishes
    /// `mgmt.accepted` or `mgmt.refused`; `answer` gets the operation's result or the refusal, once, after the
    /// audit entry is written. It runs before `submit` returns unless the operation's long work runs off the loop
    /// (an image read and copied, `Protocols/management.md` §4): then it runs on the loop when that work is done,
    /// whether or not the submitter is still there (its counter is spent and its entry audited either way).
    /// Returns how many signatures the envelope carries, each checked at most once on the loop (a submitter is
    /// charged for them, `signatureCheckWorkBytes`).
    @discardableResult
    package func submit(
        _ bytes: ArraySlice<UInt8>, source: String, answer: @escaping (Result<JSON, ManagementRefusal>) -> Void
    ) -> Int {
        let nowMs = (host?.wallClockNanos ?? 0) / 1_000_000
        let envelope: ManagementEnvelope
        do {
            envelope = try ManagementCodec.decodeEnvelope(bytes)
        } catch {
            let refusal = ManagementRefusal("bad_envelope", "\(error.kind): \(error.detail)")
            _ = record(nil, source: source, nowMs: nowMs, result: .failure(refusal))
            answer(.failure(refusal))
            return 0
        }
        verifyAndRun(envelope, source: source, nowMs: nowMs) { [weak self] result, verifiedSequence, spent in
            guard let self else { return answer(result) }
            answer(
                self.record(
                    envelope.body, source: source, nowMs: nowMs, result: result, verifiedSequence: verifiedSequence,
                    spent: spent))
        }
        return envelope.signatures.count
    }

    /// Audits and answers a submission refused before its bytes could be read (too long to decode).
    func refuseUnread(_ refusal: ManagementRefusal, source: String) -> ManagementRefusal {
        let nowMs = (host?.wallClockNanos ?? 0) / 1_000_000
        _ = record(nil, source: source, nowMs: nowMs, result: .failure(refusal))
        return refusal
    }

    /// Verifies `envelope` and carries it out; `done(result, verifiedSequence, spent)` runs once, before this
    /// returns unless the operation's long work runs off the loop (then on the loop when it is done).
    /// `verifiedSequence`: the command's `verified` entry, recorded (and on disk, with a state directory);
    /// `spent`: its counter was spent (both passed on to `record`).
    private func verifyAndRun(
        _ envelope: ManagementEnvelope, source: String, nowMs: UInt64,
        done: @escaping (Result<JSON, ManagementRefusal>, _ verifiedSequence: UInt64?, _ spent: Bool) -> Void
    ) {
        let verified: VerifiedCommand
        switch verifier.verify(envelope, nowMs: nowMs, source: source) {
        case .failure(let refusal): return done(.failure(refusal), nil, false)
        case .success(let command): verified = command
        }
        var rotation: (keys: [String], threshold: Int)? = nil
        if verified.command.operation == "rotateKeys" {
            switch ManagementVerifier.rotation(of: verified.command) {
            case .failure(let refusal): return done(.failure(refusal), nil, false)
            case .success(let keys): rotation = keys
            }
        }
        var next = verifier
        next.accept(verified, rotation: rotation)
        // Write-ahead (§5): the `verified` entry is on disk (fsync) before the counter is spent, so a hub killed
        // anywhere after this leaves an entry that explains the counter; the start gives it its outcome.
        let ahead = entry(
            verified.command, source: source, nowMs: nowMs, result: AuditEntry.verified, detail: "executing")
        let written = append(ahead, sync: true)
        resolveWaits(written.entry)
        if let failure = written.failure {
            // Its refusal is still this entry's outcome (`outcomeOf`): the entry is in the log in memory, and may
            // be on disk too (a write that landed and an `fsync` that failed), where without the link the next
            // start would take it for an interrupted command and, with the counter spent by a later one, say the
            // operation may have run (§5).
            return done(
                .failure(ManagementRefusal("state_unwritable", "audit log: \(failure.description)")),
                written.entry.sequence, false)
        }
        let verifiedSequence = written.entry.sequence
        reach("mgmt.verified")
        if let store {
            do throws(ManagementStoreError) {
                try store.saveTrust(next.trust)
            } catch {
                return done(
                    .failure(ManagementRefusal("state_unwritable", error.description)), verifiedSequence, false)
            }
        }
        verifier = next
        reach("mgmt.trusted")
        if let rotation {
            return done(
                .success(["keys": .int(Int64(rotation.keys.count)), "threshold": .int(Int64(rotation.threshold))]),
                verifiedSequence, true)
        }
        executor.execute(verified) { [weak self] result in
            self?.reach("mgmt.executed")
            done(result, verifiedSequence, true)
        }
    }

    /// Audits the answer to a submission and returns it. `verifiedSequence`: the command's `verified` entry,
    /// which its outcome names (`outcomeOf`) and which is on disk, so the outcome is too (fsync) before its answer; `spent`: its counter was spent, so if the
    /// outcome cannot be written the command is not answered as it ended but refused `audit_unwritable`, its
    /// outcome in the detail (§5). Refusals before verification, which anyone who may submit can cause at will,
    /// are appended without fsync.
    private func record(
        _ command: ManagementCommand?, source: String, nowMs: UInt64, result: Result<JSON, ManagementRefusal>,
        verifiedSequence: UInt64? = nil, spent: Bool = false
    ) -> Result<JSON, ManagementRefusal> {
        var answer = result
        let (code, detail) =
            switch result {
            case .success: ("accepted", "")
            case .failure(let refusal): (refusal.code, refusal.detail)
            }
        var outcome = entry(command, source: source, nowMs: nowMs, result: code, detail: detail)
        outcome.outcomeOf = verifiedSequence
        let written = append(outcome, sync: verifiedSequence != nil) { failure in
            guard spent else { return nil }
            let refusal = ManagementRefusal(
                "audit_unwritable",
                "the command was verified and carried out (\(code)\(detail.isEmpty ? "" : ": \(detail)")) but its "
                    + "outcome could not be written to the audit log: \(failure.description)")
            answer = .failure(refusal)
            return refusal
        }
        counters.count(written.entry.result)
        host?.publish(written.entry.result == "accepted" ? "mgmt.accepted" : "mgmt.refused", data: written.entry.json)
        resolveWaits(written.entry)
        return answer
    }

    private func entry(
        _ command: ManagementCommand?, source: String, nowMs: UInt64, result: String, detail: String
    ) -> AuditEntry {
        AuditEntry(
            timeMs: nowMs, source: source, authority: command?.authority ?? "", operation: command?.operation ?? "",
            target: command?.target ?? "", counter: command?.counter ?? 0, result: result, detail: detail)
    }

    /// Audits what the hub did on its own after an accepted command, with source `hub` (an automatic
    /// rollback, `Protocols/management.md` §4), so the audit log says why the software changed again.
    package func recordOutcome(operation: String, target: String, result: String, detail: String) {
        let kept = append(
            AuditEntry(
                timeMs: (host?.wallClockNanos ?? 0) / 1_000_000, source: "hub", authority: "", operation: operation,
                target: target, counter: 0, result: result, detail: detail), sync: true
        ).entry
        resolveWaits(kept)
    }

    /// Appends `entry` to the segment files (one `write(2)`, and `fsync` when `sync`) and then to the log in
    /// memory, numbered. A failed write is counted and logged; `onFailure` may give the entry another result
    /// first (`audit_unwritable`), which is then what the log in memory keeps.
    @discardableResult
    private func append(
        _ entry: AuditEntry, sync: Bool,
        onFailure: (ManagementStoreError) -> ManagementRefusal? = { _ in nil }
    ) -> (entry: AuditEntry, failure: ManagementStoreError?) {
        var entry = entry
        entry.sequence = audit.nextSequence
        var failure: ManagementStoreError? = nil
        if let auditFiles {
            do throws(ManagementStoreError) {
                try auditFiles.append(entry, sync: sync)
                counters.auditWrites += 1
            } catch {
                failure = error
                counters.auditWriteFailures += 1
                host?.logger.error("management audit log: entry \(entry.sequence) not written: \(error.description)")
                if let refusal = onFailure(error) { (entry.result, entry.detail) = (refusal.code, refusal.detail) }
            }
        }
        return (audit.append(entry), failure)
    }

    /// The crash-safety tests' kill points (`Protocols/management.md` §"Test hooks"): `mgmt.verified` (the
    /// `verified` entry written, `trust.json` not yet), `mgmt.trusted` (the counter spent, the operation not run),
    /// `mgmt.executed` (the operation run, its outcome not written).
    private func reach(_ point: String) {
        if point == killPoint { FileTree.killSelfForTest() }
    }
}

/// The files of `Protocols/management.md` §5 under `hub.stateDirectory`/`management`: `trust.json`, replaced
/// atomically, and the audit log's segments (`ManagementAuditFiles`).
struct ManagementStore {
    let directory: String
    /// A state file larger than this is not ours.
    static let maxFileBytes = 64 << 20

    var trustPath: String { directory + "/trust.json" }
    /// The version-1 audit log (one file rewritten whole), migrated to segments at start.
    var auditPath: String { directory + "/audit.json" }

    func prepare() throws(ManagementStoreError) {
        do { try FileTree.makeDirectories(directory, permissions: 0o700) } catch {
            throw ManagementStoreError(error.description)
        }
    }

    func loadTrust() throws(ManagementStoreError) -> ManagementTrust? {
        guard let json = try read(trustPath) else { return nil }
        guard let trust = ManagementTrust(json: json) else {
            throw ManagementStoreError("\(trustPath) is not a trust state")
        }
        return trust
    }

    func saveTrust(_ trust: ManagementTrust) throws(ManagementStoreError) {
        do { try Files.writeAtomically(trustPath, trust.json.serializedBytes()) } catch {
            throw ManagementStoreError(error.description)
        }
    }

    private func read(_ path: String) throws(ManagementStoreError) -> JSON? {
        let bytes: [UInt8]?
        do { bytes = try Files.readWhole(path, limit: Self.maxFileBytes) } catch {
            throw ManagementStoreError(error.description)
        }
        guard let bytes else { return nil }
        do { return try JSON.parse(bytes) } catch { throw ManagementStoreError("\(path): \(error)") }
    }
}

/// The audit log on disk (`Protocols/management.md` §5): segment files `audit.N.jsonl` in the management
/// directory, only ever appended to, each holding up to `AuditSegments.entriesPerSegment` entries. When the
/// newest is full the next entry starts a new one, and the oldest are deleted once the segments after them hold
/// `capacity` entries. A save is one `write(2)` of the entry's line (and an `fsync` for a verified command's
/// entries), and a new segment every `auditSegmentEntries`: the cost per entry does not grow with the log.
final class ManagementAuditFiles {
    let directory: String
    let capacity: Int
    let perSegment: Int
    /// The segments on disk, oldest first: number and entries.
    private(set) var segments: [(number: Int, entries: Int)] = []
    private var current: AppendOnlyFile?
    /// The most names the management directory may hold (it holds a handful).
    static let maxDirectoryEntries = 4096

    init(directory: String, capacity: Int, segmentEntries: Int) {
        self.directory = directory
        self.capacity = max(1, capacity)
        perSegment = AuditSegments.entriesPerSegment(configured: segmentEntries)
    }

    func path(_ segment: Int) -> String { directory + "/" + AuditSegments.fileName(segment) }

    struct Loaded {
        var log: ManagementAuditLog
        var unfinished: [AuditEntry]
        var notes: [String]
    }

    /// Reads every segment, oldest first. A torn last line of the newest segment (a hub killed in the middle of
    /// an append) is cut off and noted; anything else that cannot be read — a bad line before the last, a
    /// segment missing between two others, a segment that is not a regular file — is an error and the hub does
    /// not start. A version-1 `legacy` file is migrated first.
    func load(legacy: String) throws(ManagementStoreError) -> Loaded {
        var notes: [String] = []
        if let migrated = try migrate(legacy) { notes.append(migrated) }
        var log = ManagementAuditLog(capacity: capacity)
        var reconciler = AuditReconciler()
        let numbers = try segmentNumbers()
        var torn: (line: Int, reason: String, goodBytes: Int)? = nil
        for (index, number) in numbers.enumerated() {
            var reader = try read(number, after: log.nextSequence - 1) { entry in
                log.restore(entry)
                reconciler.see(entry)
            }
            let bad: (line: Int, reason: String)?
            do { bad = try reader.finish() } catch { throw ManagementStoreError(error.description) }
            if let bad {
                guard index == numbers.count - 1 else {
                    throw ManagementStoreError("\(AuditSegments.fileName(number)) line \(bad.line): \(bad.reason)")
                }
                torn = (bad.line, bad.reason, reader.goodBytes)
            }
            log.continueNumbering(from: reader.firstSequence ?? 1)
            segments.append((number, reader.entryCount))
        }
        try openNewest(cutting: torn, notes: &notes)
        deleteObsolete()
        return Loaded(log: log, unfinished: reconciler.unfinished, notes: notes)
    }

    /// Streams segment `number` through a reader, each entry to `body`; the reader is returned unfinished.
    private func read(
        _ number: Int, after: UInt64, _ body: (AuditEntry) -> Void
    ) throws(ManagementStoreError) -> AuditSegmentReader {
        var reader = AuditSegmentReader(segment: number, after: after)
        var failure: AuditSegmentError? = nil
        do throws(SystemError) {
            try FileTree.readChunks(path(number), limit: Self.maxSegmentBytes) { chunk in
                guard failure == nil else { return }
                do throws(AuditSegmentError) { try reader.feed(chunk, body) } catch { failure = error }
            }
        } catch {
            throw ManagementStoreError(error.description)
        }
        if let failure { throw ManagementStoreError(failure.description) }
        return reader
    }

    /// The largest segment: its entries' lines at their longest, and the header.
    static let maxSegmentBytes = (AuditSegments.maxEntriesPerSegment + 1) * AuditSegments.maxLineBytes

    /// The numbers of the segments present, ascending and without a gap; leftover temporary files of a segment
    /// being created are removed.
    private func segmentNumbers() throws(ManagementStoreError) -> [Int] {
        let listed: [FileTree.Entry]
        do { listed = try FileTree.list(directory, limit: Self.maxDirectoryEntries) } catch {
            throw ManagementStoreError(error.description)
        }
        var numbers: [Int] = []
        for entry in listed {
            if entry.name.hasSuffix(".jsonl.tmp"),
                AuditSegments.segmentNumber(fileName: String(entry.name.dropLast(4))) != nil
            {
                Files.remove(directory + "/" + entry.name)
                continue
            }
            guard let number = AuditSegments.segmentNumber(fileName: entry.name) else { continue }
            // Looked at before it is opened (and again on the descriptor): a link, FIFO or device named like a
            // segment is not one of ours.
            guard entry.kind == .file else {
                throw ManagementStoreError("\(path(number)) is not a regular file")
            }
            numbers.append(number)
        }
        numbers.sort()
        for (older, newer) in zip(numbers, numbers.dropFirst()) where newer != older + 1 {
            throw ManagementStoreError(
                "\(AuditSegments.fileName(older + 1)) is missing (segments \(older) and \(newer) are there): "
                    + "the audit log has lost entries in its middle")
        }
        return numbers
    }

    /// Opens the newest segment for appending, first cutting a torn last line off it.
    private func openNewest(
        cutting torn: (line: Int, reason: String, goodBytes: Int)?, notes: inout [String]
    ) throws(ManagementStoreError) {
        guard let newest = segments.last else { return }
        do throws(SystemError) {
            let file = try AppendOnlyFile(path(newest.number), create: false)
            if let torn {
                notes.append(
                    "\(AuditSegments.fileName(newest.number)) line \(torn.line): \(torn.reason): ignored the torn last "
                        + "line (\(file.size - torn.goodBytes) bytes) an append the hub did not finish left, and cut it off"
                )
                try file.truncate(to: torn.goodBytes)
            }
            current = file
        } catch {
            throw ManagementStoreError(error.description)
        }
    }

    /// Migrates a version-1 audit log (one JSON file) to segments, then removes it. Crash-safe: the segments are
    /// each written whole (temporary, fsync, rename, directory fsync) before the old file is removed, and while
    /// it exists it wins, so a hub killed in the middle migrates again from the start at its next start.
    private func migrate(_ legacy: String) throws(ManagementStoreError) -> String? {
        guard FileTree.entry(legacy) != nil else { return nil }
        let json: JSON
        do { json = try JSON.parse(try FileTree.read(legacy, limit: ManagementStore.maxFileBytes)) } catch {
            throw ManagementStoreError("\(legacy) is not an audit log: \(error)")
        }
        guard let old = ManagementAuditLog(json: json, capacity: capacity) else {
            throw ManagementStoreError("\(legacy) is not an audit log")
        }
        do throws(SystemError) {
            for stale in try FileTree.list(directory, limit: Self.maxDirectoryEntries)
            where AuditSegments.segmentNumber(fileName: stale.name) != nil {
                Files.remove(directory + "/" + stale.name)
            }
            var number = 0
            var start = 0
            let entries = Array(old.entries)
            repeat {
                let chunk = entries[start..<min(entries.count, start + perSegment)]
                number += 1
                var bytes = AuditSegments.header(
                    segment: number, firstSequence: chunk.first?.sequence ?? old.nextSequence)
                for entry in chunk { bytes += AuditSegments.line(entry) }
                try Files.writeAtomically(path(number), bytes)
                start += perSegment
            } while start < entries.count
            if let last = entries.last, old.nextSequence > last.sequence + 1 {
                try Files.writeAtomically(
                    path(number + 1), AuditSegments.header(segment: number + 1, firstSequence: old.nextSequence))
            }
            Files.remove(legacy)
            try FileTree.syncDirectory(directory)
        } catch {
            throw ManagementStoreError("migrating \(legacy): \(error.description)")
        }
        return "migrated \(old.entries.count) entries from \(legacy) (version 1) to audit.N.jsonl segments"
    }

    /// Appends `entry`'s line to the newest segment, starting a new one when it is full, and `fsync`s it when
    /// `sync`. Nothing of a line that could not be written stays in the file.
    func append(_ entry: AuditEntry, sync: Bool) throws(ManagementStoreError) {
        do throws(SystemError) {
            // After `close` (an outcome recorded while the hub stops) the newest segment is opened again.
            if current == nil, let newest = segments.last, newest.entries < perSegment {
                current = try AppendOnlyFile(path(newest.number), create: false)
            }
            if current == nil || (segments.last?.entries ?? 0) >= perSegment {
                try startSegment(firstSequence: entry.sequence)
            }
            guard let current else { return }
            try current.append(AuditSegments.line(entry))
            segments[segments.count - 1].entries += 1
            if sync { try current.sync() }
        } catch {
            throw ManagementStoreError(error.description)
        }
        deleteObsolete()
    }

    /// Ends the newest segment (fsync: every segment before the newest is whole on disk, so only the newest can
    /// have a torn line) and creates the next one with its header, written whole.
    private func startSegment(firstSequence: UInt64) throws(SystemError) {
        if let current {
            try current.sync()
            current.close()
            self.current = nil
        }
        let number = (segments.last?.number ?? 0) + 1
        try Files.writeAtomically(path(number), AuditSegments.header(segment: number, firstSequence: firstSequence))
        current = try AppendOnlyFile(path(number), create: false)
        segments.append((number, 0))
    }

    /// Deletes the oldest segments while the ones after them hold `capacity` entries (all of theirs are older
    /// than the newest `capacity`). Best effort: a segment that comes back is deleted at the next start.
    private func deleteObsolete() {
        var newer = segments.dropFirst().reduce(0) { $0 + $1.entries }
        while segments.count > 1, newer >= capacity {
            Files.remove(path(segments[0].number))
            segments.removeFirst()
            newer -= segments[0].entries
        }
    }

    /// `fsync` of the newest segment (the refusals appended without one).
    func sync() throws(ManagementStoreError) {
        do { try current?.sync() } catch { throw ManagementStoreError(error.description) }
    }

    func close() {
        current?.close()
        current = nil
    }
}

package struct ManagementStoreError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}

/// The provisioned partitions' file, `hub.stateDirectory`/`provisioning/partitions.json` (`Protocols/management.md`
/// §9): mode 0600 in a 0700 directory (it holds the secrets), replaced atomically like the trusted state.
package struct ProvisioningStore: Sendable {
    package let directory: String
    /// A state file larger than this is not ours (64 partitions per budget, a few hundred bytes each).
    static let maxFileBytes = 4 << 20

    package init(stateDirectory: String) { directory = stateDirectory + "/provisioning" }

    package var path: String { directory + "/partitions.json" }

    /// The records on disk (none when there is no file). A file that exists but cannot be read is an error: the
    /// hub does not start rather than issue a name and its budget share twice.
    package func load() throws(ManagementStoreError) -> [ProvisionedPartition] {
        let bytes: [UInt8]?
        do { bytes = try Files.readWhole(path, limit: Self.maxFileBytes) } catch {
            throw ManagementStoreError("provisioned partitions: \(error.description)")
        }
        guard let bytes else { return [] }
        guard let json = try? JSON.parse(bytes), let records = Provisioning.records(from: json) else {
            throw ManagementStoreError("\(path) is not a list of provisioned partitions")
        }
        return records
    }

    /// Replaces the file with `records`; `storage_failed` when it could not (nothing changed on disk then).
    package func save(_ records: [ProvisionedPartition]) -> ManagementRefusal? {
        do {
            try FileTree.makeDirectories(directory, permissions: 0o700)
            try Files.writeAtomically(path, Provisioning.json(records).serializedBytes(), permissions: 0o600)
        } catch {
            return ManagementRefusal("storage_failed", error.description)
        }
        return nil
    }
}
