import ArgumentParser
import JSON

/// `hubctl policy activate PROFILE|--base` and `hubctl policy status`: policy profiles (`Protocols/policy.md`).
struct Policy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Switch the policy profile, or show the one in force and what its activation changed.",
        subcommands: [PolicyActivate.self, PolicyStatus.self])
}

struct PolicyActivate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate", abstract: "Switch to a policy profile (or the base policy with --base).")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Switch to the base policy (no profile).") var base = false
    @Argument(help: "The profile's name.") var profile: String?

    func validate() throws {
        guard base != (profile != nil) else { throw ValidationError("give a profile name or --base, not both") }
    }

    func run() throws {
        try global.call("policy.activate", ["profile": profile.map(JSON.string) ?? .null]) { result in
            let name = result["profile"].map(cell) ?? "-"
            return "policy \(name) (generation \(cell(result["generation"])))\n" + keyValues(result["changes"] ?? .null)
                + keyValues(result["effects"] ?? .null)
        }
    }
}

struct PolicyStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "The active profile, the profiles, and the last activation.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.call("policy.status") { keyValues($0) }
    }
}
