import DeviceKit
import EventLoop
import Glibc
import HubServer
import HubSystem
import JSON
import Logging
import PlatformConfig
import Synchronization
import TestSupport
import Testing

/// Runs a `Hub` in this process on its own thread, on fresh Unix and port-0 TCP endpoints, in a directory of
/// its own under /tmp that it removes once the hub has exited (`stop`, or when the harness goes away).
final class HubHarness: Sendable {
    let directory: String
    let controlUnix: String
    let controlTCPPort: UInt16
    let guestUnix: String
    let guestTCPPort: UInt16
    let shutdown: @Sendable (String) -> Bool
    private let finished = Locked<Int32?>(nil)
    /// The hub's door, to run a job on its loop thread (`runOnLoop`).
    private let door = Locked<LoopDoor?>(nil)
    /// The hub itself, for jobs on its loop thread that look at its state (`withHub`).
    private let hubObject = Locked<HubObject?>(nil)

    /// The hub, handed between threads only to be used by jobs on its own loop thread.
    private struct HubObject: @unchecked Sendable {
        // SAFETY: read only by jobs `runOnLoop` runs, on the loop thread, while `Hub.run` has the hub alive.
        unowned(unsafe) let hub: Hub
    }

    /// Starts a hub; `configure` adjusts the reference configuration first.
    init(configure: (inout PlatformConfiguration) -> Void = { _ in }) throws {
        let directory = "/tmp/hubtest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        self.directory = directory
        var configuration = PlatformConfiguration.reference
        configuration.hub.controlEndpoints = [
            .unix(path: directory + "/control.sock"), .tcp(host: "127.0.0.1", port: 0),
        ]
        configuration.hub.guestEndpoints = [.unix(path: directory + "/guest.sock"), .tcp(host: "127.0.0.1", port: 0)]
        // Device listeners on fixed ports would collide between parallel tests.
        for index in configuration.devices.framebuffers.indices {
            configuration.devices.framebuffers[index].rfbEndpoints = [.tcp(host: "127.0.0.1", port: 0)]
        }
        configure(&configuration)
        controlUnix = directory + "/control.sock"
        guestUnix = directory + "/guest.sock"

        let started = Locked<Result<(@Sendable (String) -> Bool, [Endpoint], [Endpoint]), HubStartError>?>(nil)
        let finished = self.finished
        let door = self.door
        let hubObject = self.hubObject
        let config = configuration
        spawnThread {
            var logger = Logger(label: "hub-under-test")
            logger.logLevel = .warning
            let hub: Hub
            do {
                hub = try Hub(configuration: config, logger: logger)
            } catch let error as HubStartError {
                started.withLock { $0 = .failure(error) }
                return
            } catch {
                fatalError("unexpected \(error)")
            }
            door.withLock { $0 = hub.door }
            hubObject.withLock { $0 = HubObject(hub: hub) }
            started.withLock { $0 = .success((hub.remoteShutdown, hub.boundControlEndpoints, hub.boundGuestEndpoints)) }
            let status = hub.run()
            finished.withLock { $0 = status }
        }
        var result: Result<(@Sendable (String) -> Bool, [Endpoint], [Endpoint]), HubStartError>?
        while result == nil {
            usleep(1000)
            result = started.withLock { $0 }
        }
        let (shutdown, control, guest): (@Sendable (String) -> Bool, [Endpoint], [Endpoint])
        do {
            (shutdown, control, guest) = try result!.get()
        } catch {
            try? FileTree.removeTree(directory)  // a hub that did not start may have made it
            throw error
        }
        self.shutdown = shutdown
        func tcpPort(_ endpoints: [Endpoint]) -> UInt16 {
            endpoints.compactMap { endpoint -> UInt16? in
                if case .tcp(_, let port) = endpoint { return port }
                return nil
            }.first ?? 0
        }
        controlTCPPort = tcpPort(control)
        guestTCPPort = tcpPort(guest)
    }

    /// Runs `job` on the hub's loop thread, between its callbacks: a job that sleeps holds the loop up, as a
    /// long pass or a stopped hub process would. False once the hub stopped.
    @discardableResult
    func runOnLoop(_ job: @escaping @Sendable () -> Void) -> Bool {
        door.withLock { $0 }?.post(job) ?? false
    }

    /// Runs `job` with the hub on its loop thread (`runOnLoop`). False once the hub stopped.
    @discardableResult
    func withHub(_ job: @escaping @Sendable (Hub) -> Void) -> Bool {
        guard let object = hubObject.withLock({ $0 }) else { return false }
        return runOnLoop { job(object.hub) }
    }

    /// How long `stop` and `waitForExit` wait for the hub's thread by default. The bound only turns a hub that
    /// never stops into a failure instead of a hung test run; it is no speed requirement. It is generous because
    /// under `Tools/hub test --sanitize` on a loaded machine a single loop pass of a flooded hub takes seconds,
    /// and the hub handles the stop request only after that pass.
    static let exitTimeoutMilliseconds = 60_000

    /// Stops the hub and waits; returns `uv_loop_close`'s result (0 = no leak), nil on timeout. Once the hub has
    /// exited its directory is removed: nothing of the hub's is read after `stop`.
    @discardableResult
    func stop(timeoutMilliseconds: Int = HubHarness.exitTimeoutMilliseconds) -> Int32? {
        _ = shutdown("test finished")
        let status = waitForExit(timeoutMilliseconds: timeoutMilliseconds)
        if status != nil { try? FileTree.removeTree(directory) }
        return status
    }

    /// A hub the test left running (it ended early, or never stopped it) is stopped first, so that nothing of
    /// the test is left behind: no hub thread, no directory.
    deinit {
        if finished.withLock({ $0 }) == nil {
            _ = shutdown("test finished")
            _ = waitForExit()
        }
        try? FileTree.removeTree(directory)
    }

    func waitForExit(timeoutMilliseconds: Int = HubHarness.exitTimeoutMilliseconds) -> Int32? {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        while true {
            if let status = finished.withLock({ $0 }) { return status }
            if MonotonicClock.nanoseconds() >= deadline { return nil }
            usleep(1000)
        }
    }
}

/// A blocking newline-JSON client for tests, speaking raw bytes so hostile input is easy to send.
final class LineClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    /// How long a read waits for the hub. Only a bound that turns a hub that never answers into a failure instead
    /// of a hung test run (no test expects a read to time out); generous because a whole-screen `fb.region`
    /// answer takes the ThreadSanitizer debug build seconds to encode, and the hub answers others only after it.
    static let receiveTimeoutMilliseconds = 60_000

    init(unixPath: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in unixPath.utf8.enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(result == 0, "connect \(unixPath): errno \(errno)")
        setTimeout(milliseconds: LineClient.receiveTimeoutMilliseconds)
    }

    init(tcpPort: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = tcpPort.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(result == 0, "connect 127.0.0.1:\(tcpPort): errno \(errno)")
        setTimeout(milliseconds: LineClient.receiveTimeoutMilliseconds)
    }

    deinit { close(fd) }

    func setTimeout(milliseconds: Int) {
        var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func sendRaw(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }

    func sendLine(_ text: String) { sendRaw(Array(text.utf8) + [0x0a]) }

    /// The next line, or nil at end of stream / timeout.
    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0a) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeFirst(newline + 1)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            buffer += chunk[..<count]
        }
    }

    func readJSON() throws -> JSON {
        let line = try #require(readLine(), "connection ended")
        return try JSON.parse(line)
    }

    /// Sends a request and returns the response with the same id, skipping notifications.
    func call(_ method: String, _ params: JSON? = nil, id: Int64 = 1) throws -> JSON {
        var request: JSONObject = ["jsonrpc": "2.0", "id": .int(id), "method": .string(method)]
        if let params { request["params"] = params }
        sendLine(JSON.object(request).serialized())
        while true {
            let message = try readJSON()
            if message["id"] == .int(id) { return message }
        }
    }

    /// True when the peer has closed (read returns 0).
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }
}
