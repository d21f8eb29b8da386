import ErrorLog
import JSON

/// What the error logs count, hub-wide since start (`Protocols/control.md`, errors.status): entries by
/// source, entries the bound dropped, refused reports by reason, and the disk's troubles.
final class ErrorLogCounters {
    var guestEntries: UInt64 = 0
    var hubEntries: UInt64 = 0
    var dropped: UInt64 = 0
    var resets: UInt64 = 0
    var compactions: UInt64 = 0
    /// Files `fsync`ed for appends written earlier (`errorLogSyncIntervalMs`).
    var syncs: UInt64 = 0
    var writeFailures: UInt64 = 0
    var tornTailsRepaired: UInt64 = 0
    var unreadableFiles: UInt64 = 0
    /// Hub faults for no known partition (a refused command naming none).
    var unattributed: UInt64 = 0
    var reportsRateLimited: UInt64 = 0
    var reportsWithoutFeature: UInt64 = 0

    func appended(source: ErrorLogSource, dropped count: Int) {
        if source == .guest { guestEntries += 1 } else { hubEntries += 1 }
        dropped += UInt64(count)
    }

    var json: JSON {
        [
            "guestEntries": .uint(guestEntries), "hubEntries": .uint(hubEntries), "dropped": .uint(dropped),
            "resets": .uint(resets), "compactions": .uint(compactions), "syncs": .uint(syncs),
            "writeFailures": .uint(writeFailures),
            "tornTailsRepaired": .uint(tornTailsRepaired), "unreadableFiles": .uint(unreadableFiles),
            "unattributed": .uint(unattributed), "reportsRateLimited": .uint(reportsRateLimited),
            "reportsWithoutFeature": .uint(reportsWithoutFeature),
        ]
    }
}
