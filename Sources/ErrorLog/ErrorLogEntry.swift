import JSON

/// Who wrote an error-log entry (`Protocols/errorlog.md` §2): the partition's guest (`ERROR_REPORT`,
/// `Protocols/guest.md` §9.5) or the hub (a fault it saw).
package enum ErrorLogSource: UInt8, Sendable, CaseIterable {
    case guest = 0
    case hub = 1

    package var name: String { self == .guest ? "guest" : "hub" }
}

/// How bad an entry is (`Protocols/errorlog.md` §2); the numbers are `ERROR_REPORT.severity`'s.
package enum ErrorLogSeverity: UInt8, Sendable, CaseIterable {
    case info = 1
    case warning = 2
    case error = 3
    case critical = 4

    package var name: String {
        switch self {
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }

    package init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }
}

/// One entry of a partition's error log (`Protocols/errorlog.md` §2).
package struct ErrorLogEntry: Sendable, Equatable {
    /// Per partition, from 1, never reused (not even after a reset).
    package var sequence: UInt64
    /// Unix milliseconds when the hub recorded it.
    package var timeMs: UInt64
    package var source: ErrorLogSource
    package var severity: ErrorLogSeverity
    /// 1...64 bytes of UTF-8: the guest's own code, or the hub's fault name (§3).
    package var code: String
    /// 0...1024 bytes of UTF-8, for people.
    package var text: String

    package init(
        sequence: UInt64, timeMs: UInt64, source: ErrorLogSource, severity: ErrorLogSeverity, code: String,
        text: String
    ) {
        self.sequence = sequence
        self.timeMs = timeMs
        self.source = source
        self.severity = severity
        self.code = code
        self.text = text
    }

    /// The entry as the control API and the `mgmt` agent see it (`Protocols/control.md`, errors).
    package var json: JSON {
        [
            "sequence": .uint(sequence), "timeMs": .uint(timeMs), "source": .string(source.name),
            "severity": .string(severity.name), "code": .string(code), "text": .string(text),
        ]
    }
}
