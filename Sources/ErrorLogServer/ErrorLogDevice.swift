import DeviceKit
import ErrorLog
import EventLoop
import HubSystem
import JSON
import PlatformConfig

/// The partitions' persistent error logs (`Protocols/errorlog.md`): entries the guests report (`ERROR_REPORT`,
/// `Protocols/guest.md` §9.5) and faults the hub records itself, bounded per partition, kept in
/// `hub.stateDirectory`/`errorlog` across restarts, read and reset through the `errors.*` methods (and by the
/// `mgmt` agent over the management channel, `Protocols/management.md` §2.6).
package final class ErrorLogDevice: HubDevice {
    package let familyName = "errorLog"
    let bound: ErrorLogBound
    /// Per configured partition.
    var logs: [String: PartitionErrorLog] = [:]
    /// The bytes and records each partition's file holds now (kept records plus those dropped since the last
    /// compaction), so a compaction runs once the file is twice the bound.
    var fileSizes: [String: (bytes: Int, records: Int)] = [:]
    let disk: ErrorLogDisk?
    let counters = ErrorLogCounters()
    let reportsPerSecond: Int
    /// `hub.limits.errorLogSyncIntervalMs`: appends are `fsync`ed together at most this long after they were
    /// written (0: each at once).
    let syncIntervalMs: Int
    /// Partitions whose files got appends not yet synced, and the timer that syncs them.
    var unsynced: Set<String> = []
    var syncTimer: Timer?
    /// Per partition: report tokens and when they were last refilled (monotonic nanoseconds).
    var buckets: [String: (tokens: Double, at: UInt64)] = [:]
    /// Set by `start`. Unowned, not weak: the hub owns the device and outlives it, and a weak reference would give
    /// the hub a side table (`Sources/ARCHITECTURE.md`, "A handle's lifetime").
    unowned var host: (any DeviceHost)?
    private(set) var waits: DeferredWaits<ErrorLogWait>?

    /// Loads every configured partition's log. A file with a torn tail keeps what came before it and is
    /// rewritten without the tail; a file that is not an error log is set aside (`.unreadable`) and the log
    /// starts empty: losing a log must not stop the hub (`Protocols/errorlog.md` §4.3).
    package init(configuration: PlatformConfiguration) throws(HubStartError) {
        let limits = configuration.hub.limits
        bound = ErrorLogBound(maxEntries: limits.errorLogMaxEntries, maxBytes: limits.errorLogMaxBytes)
        reportsPerSecond = limits.errorLogReportsPerSecond
        syncIntervalMs = limits.errorLogSyncIntervalMs
        disk = configuration.hub.stateDirectory.map { ErrorLogDisk(directory: $0 + "/errorlog") }
        if let disk {
            do throws(SystemError) { try FileTree.makeDirectories(disk.directory, permissions: 0o700) } catch {
                throw .device("hub.stateDirectory: error logs in \(disk.directory): \(error.description)")
            }
        }
        for partition in configuration.partitions.map(\.name) { load(partition) }
    }

    /// The log of a partition the hub vouches for (an attached guest, a partition in one of its own events),
    /// loaded on first use when it was not configured at start (a partition provisioned at run time). Names
    /// become file names, so only names of the configuration's form are taken; names from a peer's bytes (a
    /// command's target) never create a log.
    func ensureLog(_ partition: String) -> Bool {
        if logs[partition] != nil { return true }
        guard Self.isPartitionName(partition) else { return false }
        load(partition)
        return logs[partition] != nil
    }

    /// 1...64 ASCII letters, digits, `-` and `_`, starting with a letter (the configuration's names).
    static func isPartitionName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), name.first?.isLetter == true else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    private func load(_ partition: String) {
        guard let disk else {
            logs[partition] = PartitionErrorLog(bound: bound)
            return
        }
        let loaded = disk.load(partition, bound: bound)
        logs[partition] = loaded.log
        fileSizes[partition] = (loaded.fileBytes, loaded.fileRecords)
        counters.tornTailsRepaired += loaded.tornRepaired ? 1 : 0
        counters.unreadableFiles += loaded.unreadable ? 1 : 0
        if loaded.needsRewrite { rewrite(partition) }
    }

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        waits = host.makeWaits()
        host.register(methods)
    }

    package func stop() {
        syncTimer?.close()
        syncTimer = nil
        syncNow()
        waits?.finishAll(.error(.unavailable("the hub is shutting down")))
        waits?.close()
    }

    package var limitsJSON: JSON {
        [
            "maxEntries": .int(Int64(bound.maxEntries)), "maxBytes": .int(Int64(bound.maxBytes)),
            "reportsPerSecond": .int(Int64(reportsPerSecond)), "syncIntervalMs": .int(Int64(syncIntervalMs)),
        ]
    }

    /// Appends one entry to `partition`'s log, writes it to disk, publishes `errors.appended` and answers the
    /// waits it satisfies. Nil for a partition the hub does not know.
    @discardableResult
    package func record(
        _ partition: String, source: ErrorLogSource, severity: ErrorLogSeverity, code: String, text: String
    ) -> ErrorLogEntry? {
        guard var log = logs[partition] else {
            counters.unattributed += 1
            return nil
        }
        let (entry, dropped) = log.append(
            timeMs: (host?.wallClockNanos ?? 0) / 1_000_000, source: source, severity: severity, code: code,
            text: text)
        logs[partition] = log
        counters.appended(source: source, dropped: dropped)
        persist(partition, entry)
        host?.publish("errors.appended", partition: partition, data: entry.json)
        resolveWaits(partition: partition, entry: entry)
        return entry
    }

    /// Empties `partition`'s log (the file too); sequence numbers go on.
    func reset(_ partition: String) -> Int? {
        guard var log = logs[partition] else { return nil }
        let removed = log.count
        log.reset()
        logs[partition] = log
        counters.resets += 1
        rewrite(partition)
        host?.publish("errors.reset", partition: partition, data: ["removed": .int(Int64(removed))])
        return removed
    }

    private func persist(_ partition: String, _ entry: ErrorLogEntry) {
        guard let disk, var size = fileSizes[partition] else { return }
        let record = ErrorLogFile.record(entry)
        do throws(SystemError) {
            try disk.append(partition, record, sync: syncIntervalMs == 0)
            size.bytes += record.count
            size.records += 1
            fileSizes[partition] = size
        } catch {
            writeFailed(partition, error)
            return
        }
        if syncIntervalMs > 0 { scheduleSync(partition) }
        // Amortised: the file is rewritten with the kept entries only once it holds twice the bound.
        if size.bytes > 2 * bound.maxBytes + ErrorLogFile.headerBytes || size.records > 2 * bound.maxEntries {
            counters.compactions += 1
            rewrite(partition)
        }
    }

    /// Syncs `partition`'s file within `syncIntervalMs`: one `fsync` per file for every append in between, so a
    /// flood of reports costs the loop one `fsync` per interval, not one per entry (`Protocols/errorlog.md` §4.1).
    private func scheduleSync(_ partition: String) {
        unsynced.insert(partition)
        guard syncTimer == nil, let loop = host?.loop else { return }
        syncTimer = try? Timer.once(loop: loop, afterMilliseconds: UInt64(syncIntervalMs)) { [weak self] in
            self?.syncTimer = nil
            self?.syncNow()
        }
        if syncTimer == nil { syncNow() }
    }

    /// `fsync`s every file with unsynced appends (also at stop).
    func syncNow() {
        guard let disk else { return }
        for partition in unsynced.sorted() {
            do throws(SystemError) { try FileTree.syncFile(disk.path(partition)) } catch {
                writeFailed(partition, error)
            }
        }
        counters.syncs += UInt64(unsynced.count)
        unsynced = []
    }

    /// Replaces the file with the log's image, atomically (`Protocols/errorlog.md` §4.1).
    private func rewrite(_ partition: String) {
        guard let disk, let log = logs[partition] else { return }
        let image = log.fileImage
        do throws(SystemError) {
            try disk.replace(partition, image)
            fileSizes[partition] = (image.count, log.count)
            unsynced.remove(partition)
        } catch {
            writeFailed(partition, error)
        }
    }

    private func writeFailed(_ partition: String, _ error: SystemError) {
        counters.writeFailures += 1
        host?.logger.error("error log of \(partition) not written: \(error.description)")
    }
}

/// The files of `Protocols/errorlog.md` §4 under `hub.stateDirectory`/`errorlog`: one per partition.
struct ErrorLogDisk {
    let directory: String
    /// A file larger than this is not one of ours (twice the largest bound, and some).
    static let maxFileBytes = 40 << 20

    func path(_ partition: String) -> String { directory + "/" + partition + ".log" }

    struct Loaded {
        var log: PartitionErrorLog
        var fileBytes = 0
        var fileRecords = 0
        var tornRepaired = false
        var unreadable = false
        var needsRewrite = false
    }

    func load(_ partition: String, bound: ErrorLogBound) -> Loaded {
        let file = path(partition)
        var loaded = Loaded(log: PartitionErrorLog(bound: bound))
        let bytes: [UInt8]?
        do { bytes = try Files.readWhole(file, limit: Self.maxFileBytes) } catch {
            return setAside(file, loaded)
        }
        guard let bytes else {
            loaded.needsRewrite = true
            return loaded
        }
        let contents: ErrorLogFile.Contents
        do { contents = try ErrorLogFile.parse(bytes[...]) } catch { return setAside(file, loaded) }
        loaded.log = PartitionErrorLog(bound: bound, contents: contents)
        loaded.fileBytes = bytes.count
        loaded.fileRecords = contents.entries.count
        loaded.tornRepaired = contents.tornBytes > 0
        // A torn tail must go before the next append lands behind it.
        loaded.needsRewrite = contents.tornBytes > 0 || loaded.log.count < contents.entries.count
        return loaded
    }

    private func setAside(_ file: String, _ loaded: Loaded) -> Loaded {
        var result = loaded
        try? Files.rename(file, to: file + ".unreadable")
        result.unreadable = true
        result.needsRewrite = true
        return result
    }

    func append(_ partition: String, _ record: [UInt8], sync: Bool) throws(SystemError) {
        try FileTree.append(path(partition), record, permissions: 0o600, sync: sync)
    }

    func replace(_ partition: String, _ image: [UInt8]) throws(SystemError) {
        try Files.writeAtomically(path(partition), image)
    }
}
