import HubSystem
import JSON
import Logging

/// One JSON object per log line on standard error, for log collectors (`hubd --log-format json`).
///
/// Lines are written with a single `write(2)` so concurrent writers cannot interleave a record.
package struct JSONLogHandler: LogHandler {
    package var logLevel: Logger.Level = .info
    package var metadata: Logger.Metadata = [:]
    package var metadataProvider: Logger.MetadataProvider?
    private let label: String

    package init(label: String) { self.label = label }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        let now = WallClock.nanoseconds()
        var record: JSONObject = [
            "time": .double(Double(now / 1_000_000_000) + Double(now % 1_000_000_000) / 1e9),
            "level": .string(event.level.rawValue),
            "logger": .string(label),
            "message": .string(event.message.description),
        ]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { record[key] = JSONLogHandler.json(value) }
        var bytes = JSON.object(record).serializedBytes()
        bytes.append(0x0a)
        _ = try? Descriptors.write(2, bytes)
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSON {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let convertible): return .string(convertible.description)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let dictionary):
            return .object(JSONObject(dictionary.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))
        }
    }
}

/// How `hubd` formats its log.
package enum LogFormat: String, Sendable, CaseIterable {
    case text, json

    /// Installs the process-wide log handler once, at start-up.
    package func bootstrap(level: Logger.Level) {
        switch self {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
