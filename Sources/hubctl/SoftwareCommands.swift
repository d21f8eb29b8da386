import ArgumentParser
import JSON

/// `hubctl software status`: the software slots of launched partitions (`software.status`,
/// `Protocols/management.md` §"Images"). Software is changed only by signed management commands.
struct Software: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Software slots of launched partitions.", subcommands: [SoftwareStatus.self])
}

struct SoftwareStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Which image each partition runs, probation and the last rollback.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.call("software.status") { result in
            guard result["enabled"]?.boolValue == true else { return "software slots are off (no hub.stateDirectory)" }
            let rows = (result["partitions"]?.objectValue ?? [:]).map { name, partition -> [String] in
                let probation = partition["probation"].map { $0.isNull ? "-" : "attempt \(cell($0["attempts"]))" }
                return [
                    name, cell(partition["active"]), cell(partition["version"]), probation ?? "-",
                    cell(partition["highestVersion"]), cell(partition["lastRollback"]),
                ]
            }
            return table(["PARTITION", "SLOT", "VERSION", "PROBATION", "HIGHEST", "LAST ROLLBACK"], rows)
        }
    }
}
