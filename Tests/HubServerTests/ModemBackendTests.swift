import Glibc
import JSON
import Modem
import PlatformConfig
import Testing

@testable import HubServer

/// The hub's side of the remote-simulator link (Protocols/modem.md §6.2, §6.3) against a simulator the
/// test plays by hand: one that goes silent, one that speaks a byte at a time.
struct ModemBackendTests {
    /// A raw peer on a Unix socket: frames of the modem-sim link, or raw AT bytes.
    final class Peer {
        let client: LineClient
        var buffer: [UInt8] = []

        init(_ path: String) throws { client = try LineClient(unixPath: path) }

        func sendFrame(_ kind: UInt8, _ payload: [UInt8], byteAtATime: Bool = false) {
            let length = UInt32(payload.count + 1)
            let bytes = withUnsafeBytes(of: length.bigEndian) { Array($0) } + [kind] + payload
            if byteAtATime {
                for byte in bytes { client.sendRaw([byte]) }
            } else {
                client.sendRaw(bytes)
            }
        }

        func sendJSON(_ kind: UInt8, _ json: JSON, byteAtATime: Bool = false) {
            sendFrame(kind, Array(json.serialized().utf8), byteAtATime: byteAtATime)
        }

        /// More bytes, or false at end of stream / timeout.
        func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return false }
            buffer += chunk[..<count]
            return true
        }

        /// The next frame (kind, payload), or nil when the stream ends.
        func readFrame() -> (UInt8, [UInt8])? {
            while true {
                if buffer.count >= 5 {
                    let length = buffer[0..<4].reduce(0) { $0 << 8 | Int($1) }
                    if buffer.count >= 4 + length {
                        let frame = (buffer[4], Array(buffer[5..<4 + length]))
                        buffer.removeFirst(4 + length)
                        return frame
                    }
                }
                guard fill() else { return nil }
            }
        }

        /// Raw bytes until `text` has arrived; everything read so far.
        func readUntil(_ text: String) -> String? {
            while true {
                let got = String(decoding: buffer, as: UTF8.self)
                if got.contains(text) {
                    buffer.removeAll()
                    return got
                }
                guard fill() else { return nil }
            }
        }
    }

    static func startHub(_ adjust: @escaping (inout ModemConfig) -> Void = { _ in }) throws -> (
        HubHarness, backend: String, at: String
    ) {
        var paths = ("", "")
        let hub = try HubHarness { configuration in
            guard case .unix(let control) = configuration.hub.controlEndpoints[0] else { return }
            let directory = String(control.dropLast("/control.sock".count))
            paths = (directory + "/backend.sock", directory + "/modem0.sock")
            configuration.devices.modems[0].backend = .listen(.unix(path: paths.0))
            configuration.devices.modems[0].listen = [.unix(path: paths.1)]
            configuration.devices.modems[0].backendCommandTimeoutMs = 300
            configuration.devices.modems[0].backendKeepaliveMs = 200
            adjust(&configuration.devices.modems[0])
        }
        return (hub, paths.0, paths.1)
    }

    static let hello: JSON = ["protocol": "handsethub-modem-sim", "version": 1]

    /// Connects a simulator and completes the handshake; returns it with the hub's hello.
    static func connectSimulator(_ path: String, byteAtATime: Bool = false) throws -> (Peer, JSON) {
        let simulator = try Peer(path)
        simulator.sendJSON(1, hello, byteAtATime: byteAtATime)
        let (kind, payload) = try #require(simulator.readFrame(), "no hello from the hub")
        #expect(kind == 1)
        return (simulator, try JSON.parse(payload))
    }

    /// The keepalive `ping` goes out when nothing has come from the simulator for `backendKeepaliveMs`
    /// (`Protocols/modem.md` §6.3): one interval after its last frame, not at the next tick of a fixed period,
    /// which for a frame a fifth of a period after the hello came 1.8 intervals after it.
    @Test func theKeepaliveProbeComesOneIntervalAfterTheLastFrame() throws {
        let (hub, backend, _) = try ModemBackendTests.startHub {
            $0.backendKeepaliveMs = 1000
            $0.backendCommandTimeoutMs = 5000
        }
        defer { #expect(hub.stop() == 0) }
        let (simulator, _) = try ModemBackendTests.connectSimulator(backend)
        usleep(200_000)  // a fifth of an interval after the hello
        simulator.sendJSON(4, ["kind": "dtmf", "data": ["digits": "1"]])
        func seconds() -> Double {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        }
        let heard = seconds()
        var ping: (UInt8, [UInt8])?
        while let frame = simulator.readFrame() {
            if frame.0 == 3, (try? JSON.parse(frame.1))?["method"] == "ping" {
                ping = frame
                break
            }
        }
        let after = seconds() - heard
        #expect(ping != nil)
        #expect(after > 0.9 && after < 1.5, "the ping came \(after) s after the simulator's last frame")
    }

    /// A simulator that stops answering: the host's command gets the error its +CMEE asks for within the
    /// deadline (not never), the hub drops the silent link, and the next simulator receives the host's
    /// settings in the hub's hello.
    @Test func aSilentSimulatorCostsTheHostOneErrorAndItsSettingsGoToTheNextOne() throws {
        let (hub, backend, at) = try ModemBackendTests.startHub()
        defer { #expect(hub.stop() == 0) }
        let (silent, firstHello) = try ModemBackendTests.connectSimulator(backend)
        #expect(firstHello["modem"] != nil && firstHello["settings"] == nil)
        // The host set ATE0 and +CMEE=2 on this simulator, which reported it.
        var reported = ModemHostSettingsJSON.defaults
        reported["echo"] = false
        reported["cmee"] = 2
        reported["clip"] = 1
        reported["nextReference"] = 42
        // A hostile field: the hub must not hand 60 KB on to the next simulator's hello.
        reported["cscs"] = .string(String(repeating: "X", count: 60000))
        reported["cmgf"] = "one"
        silent.sendJSON(4, ["kind": "settings", "data": .object(reported)])

        let host = try Peer(at)
        host.client.sendRaw(Array("AT+CSQ\r".utf8))
        let answer = try #require(host.readUntil("\r\n+CME ERROR: phone failure\r\n"), "no final result")
        #expect(answer == "\r\n+CME ERROR: phone failure\r\n", "no echo, verbose error: \(answer.debugDescription)")
        // The simulator received the line and a probe, answered neither, and the hub gave the link up.
        var frames: [(UInt8, [UInt8])] = []
        while let frame = silent.readFrame() { frames.append(frame) }
        #expect(frames.contains { $0.0 == 2 && $0.1 == Array("AT+CSQ\r".utf8) })
        #expect(frames.contains { $0.0 == 3 && (try? JSON.parse($0.1))?["method"] == "ping" })

        // While no simulator is there, a line byte by byte gets the same answer, still without echo.
        for byte in Array("AT\r".utf8) { host.client.sendRaw([byte]) }
        #expect(host.readUntil("\r\n") == "\r\n+CME ERROR: phone failure\r\n")

        // The next simulator, its hello a byte at a time, gets the settings before anything else.
        let (next, secondHello) = try ModemBackendTests.connectSimulator(backend, byteAtATime: true)
        let settings = try #require(secondHello["settings"])
        #expect(settings["echo"] == false && settings["cmee"] == 2 && settings["clip"] == 1)
        #expect(settings["nextReference"] == 42)
        #expect(settings["cscs"] == "IRA" && settings["cmgf"] == 0, "bad fields fall back to the defaults")
        // It answers: the host is served again, and answered probes end no link.
        host.client.sendRaw(Array("AT\r".utf8))
        var answeredLine = false
        while !answeredLine, let (kind, payload) = next.readFrame() {
            if kind == 3, let id = try JSON.parse(payload)["id"] { next.sendJSON(3, ["id": id, "result": [:]]) }
            if kind == 2 {
                next.sendFrame(2, Array("\r\nOK\r\n".utf8))
                answeredLine = true
            }
        }
        #expect(host.readUntil("\r\nOK\r\n") == "\r\nOK\r\n")
    }

    /// A simulator that says hello and then never reads: the hub holds at most `backendBacklogBytes` of the
    /// host's input for it, then drops the link and answers the host, long before any deadline.
    @Test func aSimulatorThatNeverReadsIsDroppedAtTheBacklogLimit() throws {
        let (hub, backend, at) = try ModemBackendTests.startHub { modem in
            modem.backendBacklogBytes = 65536
            modem.backendCommandTimeoutMs = 600_000
            modem.backendKeepaliveMs = 600_000
        }
        defer { #expect(hub.stop() == 0) }
        let (stuck, _) = try ModemBackendTests.connectSimulator(backend)
        let host = try Peer(at)
        // 4 MiB without a line end: more than the socket buffers and the budget together.
        let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: 65536)
        for _ in 0..<64 { host.client.sendRaw(chunk) }
        // The host's lost line is answered first; the echo of what it typed after the drop follows (ATE1).
        let answer = try #require(host.readUntil("\r\nERROR\r\n"))
        #expect(answer.hasPrefix("\r\nERROR\r\n") && answer.dropFirst(9).allSatisfy { $0 == "A" })
        // The simulator's end: what the kernel held, then the end of the link (at most the budget beyond it).
        var received = 0
        while let (_, payload) = stuck.readFrame() { received += payload.count }
        #expect(received < 4 << 20, "the hub dropped what it could not hand over")
        let control = try LineClient(unixPath: hub.controlUnix)
        let modems = try control.call("modem.list")["result"]?["modems"]
        #expect(modems?[0]?["backendLink"]?["overflows"] == 1)
        #expect(modems?[0]?["backendLink"]?["backlogBytes"] == 65536)
    }

    /// A peer that connects and never says hello is given up after the command deadline.
    @Test func aSimulatorThatNeverSaysHelloIsDropped() throws {
        let (hub, backend, _) = try ModemBackendTests.startHub()
        defer { #expect(hub.stop() == 0) }
        let mute = try Peer(backend)
        #expect(mute.readFrame() == nil, "the hub closes a link without a hello")
        // And the listener takes the next simulator.
        let (_, hello) = try ModemBackendTests.connectSimulator(backend)
        #expect(hello["modem"] != nil)
    }
}

/// The settings object as a simulator reports it (Protocols/modem.md §6.2), all defaults.
enum ModemHostSettingsJSON {
    static let defaults: JSONObject = [
        "echo": true, "verbose": true, "quiet": false, "cmee": 0, "crc": 0, "clip": 0, "ccwa": 0, "colp": 0,
        "cvhu": 0, "creg": 0, "cgreg": 0, "cereg": 0, "cmgf": 0, "csms": 0, "cscs": "IRA",
        "cnmi": [0, 0, 0, 0, 0], "csmp": [17, 167, 0, 0], "csdh": 0, "cfun": 1, "copsMode": 0, "copsFormat": 0,
        "cgatt": true, "simUnlocked": false, "nextReference": 0, "nextConcatReference": 0,
    ]
}
