// libFuzzer entry for the control router (Protocols/control.md): arbitrary bytes are sent by a control client
// of a real in-process Hub (the reference handset) over a socketpair, so they go through the session's framer,
// the JSON-RPC decoder, authentication, the router and every method handler, exactly as a network client's
// would. Invariants: the hub never traps; everything it writes is newline-delimited JSON; each answer names
// an id and either a result or an error. Every tenth input uses a token-protected session, so the
// unauthenticated paths are fuzzed as well. A `hub.shutdown` in the input is honoured; the next input
// gets a fresh hub.

import Glibc
import HubServer
import HubServerTesting
import JSON
import Logging
import PlatformConfig

nonisolated(unsafe) private var currentHub: Hub?
nonisolated(unsafe) private var inputs = 0

/// Where the hub's Unix sockets go: the runner's directory (`HANDSETHUB_FUZZ_SOCKETS`, which it removes when the
/// run ends), or else one of this process's own under /tmp, removed when libFuzzer exits.
private let socketDirectory: String = {
    if let given = getenv("HANDSETHUB_FUZZ_SOCKETS") { return String(cString: given) }
    atexit {
        let own = "/tmp/control-router-fuzz-\(getpid())"
        unlink(own + "/control.sock")
        unlink(own + "/guest.sock")
        rmdir(own)
    }
    return "/tmp/control-router-fuzz-\(getpid())"
}()

private func makeHub() -> Hub {
    let directory = socketDirectory
    mkdir(directory, 0o700)
    var configuration = PlatformConfiguration.reference
    configuration.hub.controlEndpoints = [.unix(path: directory + "/control.sock")]
    configuration.hub.guestEndpoints = [.unix(path: directory + "/guest.sock")]
    configuration.hub.controlToken = "fuzz-token"
    // Waits answer quickly and small limits are reached often.
    configuration.hub.limits.controlMaxWaitMs = 20
    configuration.hub.limits.controlMaxWaiters = 4
    for index in configuration.devices.framebuffers.indices {
        configuration.devices.framebuffers[index].rfbEndpoints = [.tcp(host: "127.0.0.1", port: 0)]
    }
    unlink(directory + "/control.sock")
    unlink(directory + "/guest.sock")
    var logger = Logger(label: "control-router-fuzz")
    logger.logLevel = .critical
    do {
        return try Hub(configuration: configuration, logger: logger)
    } catch {
        fatalError("cannot start the hub: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func controlRouterFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if currentHub == nil || currentHub!.isShuttingDown {
        if let old = currentHub { _ = old.run() }  // finishes the shutdown and closes every handle
        currentHub = makeHub()
    }
    let hub = currentHub!
    inputs += 1
    guard let client = try? hub.localControlClient(requiresToken: inputs % 10 == 0) else { return 0 }
    var input = bytes
    if input.last != 0x0a { input.append(0x0a) }
    let (output, _) = client.exchange(input)
    client.close()
    _ = client.exchange([], maxPasses: 4)  // the hub sees the hang-up and closes the session
    var lines = output.split(separator: 0x0a, omittingEmptySubsequences: true)[...]
    precondition(output.isEmpty || output.last == 0x0a, "an answer is not ended by LF")
    guard let hello = lines.popFirst() else { return 0 }
    precondition((try? JSON.parse(hello))?["method"] == "hub.hello", "the first line is not hub.hello")
    for line in lines {
        guard let message = try? JSON.parse(line) else { preconditionFailure("the hub wrote a line that is not JSON") }
        precondition(message["jsonrpc"] == "2.0", "not JSON-RPC 2.0")
        if message["method"] != nil { continue }  // a notification (event, events.missed)
        precondition(message["id"] != nil, "an answer without id")
        precondition((message["result"] != nil) != (message["error"] != nil), "an answer needs a result or an error")
        if let error = message["error"] {
            precondition(error["code"]?.int64Value != nil && error["message"]?.stringValue != nil, "malformed error")
            precondition(error["code"] != -32603, "internal error: \(error)")
        }
    }
    return 0
}
