import ArgumentParser
import DeviceKit
import Glibc
import HubServer
import HubSystem
import Logging
import ModemServer
import PlatformConfig
import PlatformConfigLoader

/// `hubd`: the HandsetHub server. All logic lives in HubServer; this file parses flags and exits
/// with the documented statuses (0 clean shutdown, 1 start-up failure, 2 invalid configuration).
@main
struct Hubd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hubd",
        abstract: "HandsetHub: a networked virtual device hub emulating a handset's hypervisor.",
        subcommands: [Serve.self, ModemSim.self], defaultSubcommand: Serve.self)
}

/// `hubd modem-sim --listen ADDRESS`: only the built-in modem network simulator, as a remote backend.
struct ModemSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modem-sim",
        abstract: "Serve the built-in modem network simulator to hubs elsewhere (Protocols/modem.md §6).",
        discussion: """
            --listen ADDRESS (tcp:HOST:PORT or unix:PATH): each connection gets its own simulated modem; a hub             uses it with `backend: {remote: ADDRESS}`, a raw client (socat) gets plain AT.             --connect ADDRESS: connect to a hub whose modem has `backend: {listen: ADDRESS}`, reconnecting             with back-off. --token is the shared secret (required by --listen from hubs, raw clients are then             refused; presented by --connect).
            """)

    @Option(name: .long, help: "Where to listen: tcp:HOST:PORT or unix:PATH.")
    var listen: String?

    @Option(name: .long, help: "A hub's modem backend listener to connect to: tcp:HOST:PORT or unix:PATH.")
    var connect: String?

    @Option(name: .long, help: "Shared secret of the hub link.")
    var token: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    mutating func run() throws {
        guard (listen == nil) != (connect == nil) else {
            throw ValidationError("give exactly one of --listen and --connect")
        }
        func parse(_ text: String?, _ flag: String) throws -> Endpoint? {
            guard let text else { return nil }
            do {
                return try Endpoint(parsing: text)
            } catch {
                throw ValidationError("\(flag): \(error)")
            }
        }
        let listenEndpoint = try parse(listen, "--listen")
        let connectEndpoint = try parse(connect, "--connect")
        if let token, token.isEmpty || token.utf8.count > 256 {
            throw ValidationError("--token: 1 to 256 bytes")
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: '\(logLevel)' is not a log level")
        }
        LogFormat.text.bootstrap(level: level)
        let logger = Logger(label: "hubd.modem-sim")
        do {
            let server = try ModemSimServer(
                listen: listenEndpoint, connect: connectEndpoint, token: token, logger: logger)
            if server.run() != 0 { throw ExitCode(1) }
        } catch let error as HubStartError {
            logger.critical("start-up failed: \(error)")
            throw ExitCode(1)
        }
    }
}

/// The hub itself (the default subcommand).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "HandsetHub: a networked virtual device hub emulating a handset's hypervisor.",
        discussion: """
            With no --config, runs the built-in reference handset (rtos, linux, secure, mgmt).
            Exit status: 0 after a clean shutdown, 1 when start-up fails, 2 for an invalid configuration.
            """)

    @Option(name: .long, help: "Platform configuration (YAML); '-' reads standard input.")
    var config: String?

    @Flag(name: .long, help: "Print the built-in reference handset configuration as YAML and exit.")
    var printDefaultConfig = false

    @Flag(name: .long, help: "Validate the configuration, print a summary and exit.")
    var checkConfig = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(name: .long, help: "Log format: text or json.")
    var logFormat: String = "text"

    @Option(name: .long, help: "When ready, write the bound endpoints as JSON to this file (for scripts and tests).")
    var readyFile: String?

    mutating func run() throws {
        if printDefaultConfig {
            print(PlatformConfiguration.reference.encodeYAML(), terminator: "")
            return
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: '\(logLevel)' is not one of \(Logger.Level.allCases.map(\.rawValue))")
        }
        guard let format = LogFormat(rawValue: logFormat) else {
            throw ValidationError("--log-format: '\(logFormat)' is not text or json")
        }
        let platform: PlatformConfiguration
        do {
            platform = try config.map { try PlatformConfiguration.load(path: $0) } ?? .reference
        } catch {
            FileHandleLite.standardError.write("hubd: \(config ?? "built-in configuration"): \(error)\n")
            throw ExitCode(2)
        }
        if platform.hasEthernetStreamPorts { keepForwardingBuffersOnTheHeap() }
        if checkConfig {
            print(HubSummary(configuration: platform, boundControl: [], boundGuest: []).text)
            return
        }
        format.bootstrap(level: level)
        let logger = Logger(label: "hubd")
        do {
            let hub = try Hub(configuration: platform, options: .init(readyFile: readyFile), logger: logger)
            let status = hub.run()
            if status != 0 { throw ExitCode(1) }
        } catch let error as HubStartError {
            logger.critical("start-up failed: \(error)")
            throw ExitCode(1)
        }
    }
}

/// Minimal unbuffered stderr writer (no Foundation).
enum FileHandleLite {
    case standardError

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { raw in _ = Glibc.write(2, raw.baseAddress, raw.count) }
    }
}

/// Ethernet stream ports read and write a few hundred KiB every loop pass under load. With these thresholds such
/// buffers stay on the heap (below 2 MiB) and up to 4 MiB of free heap is kept, instead of mapping and faulting
/// in fresh pages each time (page faults dominated the 1500-byte forwarding profile). The price is resident
/// memory that glibc no longer returns, so only configurations with stream ports pay it
/// (`Tools/bench --only startup,ethernet` measures both sides). The threshold only returns the top of the heap:
/// after a burst of connections closes, the hub hands the free pages in between back with `malloc_trim`
/// (`AdmissionRegistry`), and peers that have not authenticated never get large buffers in the first place
/// (`hub.limits.guestPreAuthFrameBytes`).
private func keepForwardingBuffersOnTheHeap() {
    Memory.setMmapThreshold(2 << 20)
    Memory.setTrimThreshold(4 << 20)
}

extension PlatformConfiguration {
    /// Whether any Ethernet port is a QEMU or VDE stream listener (the bulk-forwarding transports).
    fileprivate var hasEthernetStreamPorts: Bool {
        devices.ethernet.contains { segment in
            segment.ports.contains { port in
                switch port.attachment {
                case .stream, .vde: true
                default: false
                }
            }
        }
    }
}
