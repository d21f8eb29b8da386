import JSON

/// What the management plane counts: accepted commands and refusals by code, audit-log writes, and those that
/// failed (the command's outcome stands; the failure is logged and counted).
final class ManagementCounters {
    private(set) var byResult: [String: UInt64] = [:]
    var auditWriteFailures: UInt64 = 0
    var auditWrites: UInt64 = 0

    func count(_ result: String) { byResult[result, default: 0] += 1 }

    var json: JSON {
        var results = JSONObject()
        for key in byResult.keys.sorted() { results[key] = .uint(byResult[key] ?? 0) }
        return [
            "results": .object(results), "auditWrites": .uint(auditWrites),
            "auditWriteFailures": .uint(auditWriteFailures),
        ]
    }
}
