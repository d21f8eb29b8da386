import ArgumentParser
import ControlWire
import HubControlClient
import JSON

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the hub's version, platform and endpoints.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.call("hub.info") { keyValues($0) }
    }
}

struct Partitions: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List partitions.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.call("partition.list") { result in
            let rows = (result["partitions"]?.arrayValue ?? []).map { partition in
                ["name", "class", "priority", "state", "attached"].map { cell(partition[$0]) }
            }
            return table(["NAME", "CLASS", "PRIORITY", "STATE", "ATTACHED"], rows)
        }
    }
}

struct PartitionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition", abstract: "Show one partition: state, session, counters.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Partition name.") var name: String

    func run() throws {
        try global.call("partition.get", ["name": .string(name)]) { keyValues($0) }
    }
}

struct Links: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List messaging links and their queues.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.call("link.list") { result in
            let rows = (result["links"]?.arrayValue ?? []).map { link in
                ["name", "endpoints", "depth", "capacity"].map { cell(link[$0]) }
            }
            return table(["NAME", "ENDPOINTS", "DEPTH", "CAPACITY"], rows)
        }
    }
}

struct Limits: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every limit in force.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.call("hub.limits") { result in
            var rows: [[String]] = []
            for (group, limits) in result.objectValue ?? [:] {
                for (name, value) in limits.objectValue ?? [:] { rows.append([group, name, cell(value)]) }
            }
            return table(["GROUP", "LIMIT", "VALUE"], rows)
        }
    }
}

struct Raise: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Raise a cross-interrupt as a named test peer.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("as"), help: "Test peer name the interrupt comes from.") var peer: String
    @Argument(help: "Target partition.") var partition: String
    @Argument(help: "Interrupt line (0-63).") var line: Int

    func run() throws {
        try global.call(
            "irq.raise", ["partition": .string(partition), "line": .int(Int64(line)), "as": .string(peer)]
        ) { result in
            "raised line \(line) on \(partition) as \(peer): event #\(cell(result["seq"]))"
                + (result["pending"] == true ? " (pending: no guest attached)" : "")
        }
    }
}

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a text message on a link as a named test peer.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("as"), help: "Test peer name the message comes from.") var peer: String
    @Option(help: "Correlation id (a non-negative integer) delivered with the message.") var correlation: UInt64?
    @Argument(help: "Link name.") var link: String
    @Argument(help: "Receiving partition (one end of the link).") var to: String
    @Argument(help: "Message text (sent as UTF-8).") var text: String

    func run() throws {
        var params: JSONObject = [
            "link": .string(link), "as": .string(peer), "to": .string(to), "text": .string(text),
        ]
        if let correlation { params["correlation"] = .uint(correlation) }
        try global.call("msg.send", .object(params)) { result in
            "sent \(text.utf8.count) bytes on \(link) as \(peer): event #\(cell(result["seq"]))"
                + (result["queued"] == false ? " (held: receiver not attached)" : "")
        }
    }
}

struct Shutdown: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the hub.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.call("hub.shutdown") { _ in "hub is stopping" }
    }
}

/// Filter options shared by `events` and `wait`.
struct FilterOptions: ParsableArguments {
    @Option(name: .long, help: "Event kind or pattern (e.g. irq.raised, partition.*); repeatable.") var kind: [String] =
        []
    @Option(name: .long, help: "Partition name; repeatable.") var partition: [String] = []
    @Option(name: .long, help: "Device name; repeatable.") var device: [String] = []

    var json: JSON {
        var filter: JSONObject = [:]
        if !kind.isEmpty { filter["kinds"] = .array(kind.map(JSON.string)) }
        if !partition.isEmpty { filter["partitions"] = .array(partition.map(JSON.string)) }
        if !device.isEmpty { filter["devices"] = .array(device.map(JSON.string)) }
        return .object(filter)
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show recent events, or follow them as they happen (--follow).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filter: FilterOptions
    @Flag(name: .long, help: "Keep running and print events as they happen.") var follow = false
    @Option(name: .long, help: "Only events after this sequence number (replayed when following).") var since: UInt64?
    @Option(name: .long, help: "How many recent events to show without --follow.") var limit: Int = 100

    func run() throws {
        let client = try global.connect()
        if !follow {
            var params: JSONObject = ["filter": filter.json, "limit": .int(Int64(limit))]
            if let since { params["since"] = .uint(since) }
            let result = try global.run { try client.call("events.recent", .object(params)) }
            if global.json { return output(result.prettySerialized()) }
            if let missed = result["missed"], missed != JSON.null {
                output(eventLine(method: "events.missed", params: missed))
            }
            for event in result["events"]?.arrayValue ?? [] { output(eventLine(method: "event", params: event)) }
            return
        }
        var params: JSONObject = ["filter": filter.json]
        if let since { params["since"] = .uint(since) }
        _ = try global.run { try client.call("events.subscribe", .object(params)) }
        while true {
            guard let notification = try global.run({ try client.nextEvent(timeoutMs: 60_000) }) else { continue }
            if global.json {
                output(notification.json.serialized())
            } else {
                output(eventLine(method: notification.method, params: notification.params))
            }
        }
    }
}

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait on the hub for the first matching event; exits 1 on timeout.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filter: FilterOptions
    @Option(name: .long, help: "How long the hub waits, in milliseconds.") var timeoutMs: Int = 10_000
    @Option(name: .long, help: "Also consider held events after this sequence number.") var since: UInt64?

    func run() throws {
        var params: JSONObject = ["filter": filter.json, "timeoutMs": .int(Int64(timeoutMs))]
        if let since { params["since"] = .uint(since) }
        let client = try global.connect()
        let result = try global.run {
            try client.call("events.wait", .object(params), timeoutMs: timeoutMs + global.callTimeoutMs)
        }
        output(global.json ? result.prettySerialized() : eventLine(method: "event", params: result["event"]))
    }
}

struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call any method with JSON params; prints the result as JSON.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Method name, e.g. partition.get.") var method: String
    @Argument(help: "Params as a JSON object, e.g. '{\"name\":\"rtos\"}'.") var params: String?

    func run() throws {
        var parsed: JSON? = nil
        if let params {
            do {
                parsed = try JSON.parse(params)
            } catch {
                errorOutput("error: params are not valid JSON: \(error)")
                throw ExitCode(64)
            }
        }
        let client = try global.connect()
        let result = try global.run { try client.call(method, parsed) }
        output(result.prettySerialized())
    }
}

/// `hubctl start|stop|restart|suspend|resume NAME`: local management of partitions (Protocols/control.md §10-11).
struct Manage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manage",
        abstract: "Start, stop, restart, suspend or resume a partition.",
        discussion: "start/stop/restart need a partition the hub launches (a launch section in the configuration).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "start, stop, restart, suspend or resume.") var action: String
    @Argument(help: "Partition name.") var name: String

    func validate() throws {
        guard ["start", "stop", "restart", "suspend", "resume"].contains(action) else {
            throw ValidationError("action must be start, stop, restart, suspend or resume, not '\(action)'")
        }
    }

    func run() throws {
        try global.call("partition.\(action)", ["name": .string(name)]) { result in
            "\(name): \(cell(result["state"]))" + (result["changed"] == false ? " (unchanged)" : "")
        }
    }
}

/// `hubctl logs NAME [--clear]`: a launched guest's recent output.
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a launched partition's recent output.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Clear the log after printing it.") var clear = false
    @Argument(help: "Partition name.") var name: String

    func run() throws {
        try global.call("partition.logs", ["name": .string(name), "clear": .bool(clear)]) { result in
            let dropped = result["dropped"]?.int64Value ?? 0
            return (dropped > 0 ? "[\(dropped) older bytes dropped]\n" : "") + (result["text"]?.stringValue ?? "")
        }
    }
}
