import ArgumentParser
import ControlWire
import Glibc
import HubControlClient
import JSON

struct HubCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hubctl",
        abstract: "Drive and observe a running hubd through its control API.",
        subcommands: [
            Info.self, Partitions.self, PartitionCommand.self, Links.self, Limits.self, Raise.self, Send.self,
            Shutdown.self, Events.self, Wait.self, Manage.self, Logs.self, Call.self, Mgmt.self, Software.self,
            Errors.self,
            Policy.self,
        ])
}

/// Options every subcommand accepts.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Control endpoint: tcp:HOST:PORT or unix:/PATH (default: $HANDSETHUB_HUB or tcp:127.0.0.1:7400).")
    var hub: String?

    @Option(name: .long, help: "Token for a TCP endpoint that requires one (default: $HANDSETHUB_TOKEN).")
    var token: String?

    @Flag(name: .long, help: "Print the raw JSON result instead of a table.")
    var json = false

    @Option(name: .long, help: "Milliseconds to wait for each answer from the hub.")
    var callTimeoutMs: Int = 5000

    var address: String {
        if let hub { return hub }
        if let env = getenv("HANDSETHUB_HUB") { return String(cString: env) }
        return HubAddress.defaultAddress.description
    }

    func connect() throws -> HubControlClient {
        let token = self.token ?? getenv("HANDSETHUB_TOKEN").map { String(cString: $0) }
        return try run { try HubControlClient(address: address, token: token, timeoutMs: callTimeoutMs) }
    }

    /// Calls `method` and prints the result: raw JSON with --json, else what `human` renders.
    func call(_ method: String, _ params: JSON? = nil, human: (JSON) -> String) throws {
        let client = try connect()
        let result = try run { try client.call(method, params) }
        output(json ? result.prettySerialized() : human(result))
    }

    /// Runs a client operation, turning failures into a message on stderr and a non-zero exit.
    func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as HubClientError {
            if case .server(let serverError) = error {
                let reason = serverError.reason.map { " [\($0)]" } ?? ""
                errorOutput("error: \(serverError.message)\(reason)")
                throw ExitCode(1)
            }
            errorOutput("error: \(error)")
            throw ExitCode(2)
        }
        // Only HubClientError can come from the client; rethrow anything else unchanged.
    }
}

/// Writes a line to stdout unbuffered, so `events --follow | grep` sees each event at once.
func output(_ text: String) {
    writeAll(1, text + "\n")
}

func errorOutput(_ text: String) {
    writeAll(2, text + "\n")
}

private func writeAll(_ fd: Int32, _ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { buffer in
            // SAFETY: the buffer is valid during the closure and offset < count.
            write(fd, buffer.baseAddress! + offset, buffer.count - offset)
        }
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { return }
        offset += written
    }
}
