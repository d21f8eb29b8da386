import ArgumentParser
import JSON

/// `hubctl errors read|reset`: the partitions' persistent error logs (`errors.*`, `Protocols/errorlog.md`).
struct Errors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read or reset a partition's persistent error log.", subcommands: [ErrorsRead.self, ErrorsReset.self])
}

struct ErrorsRead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read", abstract: "A page of a partition's error log, oldest first.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The partition.") var partition: String
    @Option(help: "First sequence number (default: the oldest kept).") var since: UInt64 = 0
    @Option(help: "At most this many entries (1...1000).") var limit: Int = 100

    func run() throws {
        let params: JSON = ["partition": .string(partition), "since": .uint(since), "limit": .int(Int64(limit))]
        try global.call("errors.read", params) { result in
            let rows = (result["entries"]?.arrayValue ?? []).map { entry in
                [
                    cell(entry["sequence"]), cell(entry["timeMs"]), cell(entry["source"]), cell(entry["severity"]),
                    cell(entry["code"]), cell(entry["text"]),
                ]
            }
            let footer = "dropped \(cell(result["dropped"])), next \(cell(result["next"]))"
            return table(["SEQ", "TIME MS", "SOURCE", "SEVERITY", "CODE", "TEXT"], rows) + "\n" + footer
        }
    }
}

struct ErrorsReset: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reset", abstract: "Empty a partition's error log.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The partition.") var partition: String

    func run() throws {
        try global.call("errors.reset", ["partition": .string(partition)]) { result in
            "\(partition): \(cell(result["removed"])) entries removed"
        }
    }
}
