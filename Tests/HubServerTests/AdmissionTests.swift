import EventLoop
import Glibc
import GuestWire
import HubGuest
import JSON
import PlatformConfig
import TestSupport
import Testing

/// Admission of every listener (`Protocols/control.md` §2.6): pending connections have a budget apart from the
/// authenticated ones, a handshake deadline, small frames before authentication, and a share kept for the Unix
/// socket; peers that never finish a handshake cannot lock real clients out.
@Suite struct AdmissionTests {
    /// Reads exactly `count` bytes, or fewer when the peer closes or the read times out.
    private func read(_ client: LineClient, _ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: count)
        while bytes.count < count {
            let got = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, count - bytes.count, 0) }
            if got <= 0 { break }
            bytes += chunk[..<got]
        }
        return bytes
    }

    /// Everything until the peer closes (nil if it did not close before the read timeout).
    private func readUntilClosed(_ client: LineClient) -> [UInt8]? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
            if got == 0 { return bytes }
            if got < 0 { return nil }
            bytes += chunk[..<got]
        }
    }

    private func admin(_ hub: HubHarness) throws -> LineClient {
        let client = try LineClient(unixPath: hub.controlUnix)
        _ = try client.readJSON()
        return client
    }

    private func gate(_ admin: LineClient, _ name: String) throws -> JSON {
        let listeners = try #require(admin.call("hub.admission")["result"]?["listeners"]?.arrayValue)
        return try #require(listeners.first { $0["name"]?.stringValue == name }, "no gate \(name)")
    }

    // MARK: Control

    @Test func silentControlClientsDoNotTakeClientSlots() throws {
        let hub = try HubHarness {
            $0.hub.limits.controlMaxClients = 2
            $0.hub.limits.controlMaxPending = 16
        }
        // Connections that never send a request are pending: they do not count against controlMaxClients.
        var silent: [LineClient] = []
        for _ in 0..<5 {
            let client = try LineClient(tcpPort: hub.controlTCPPort)
            _ = try client.readJSON()
            silent.append(client)
        }
        let first = try admin(hub)
        #expect(try first.call("hub.info")["result"] != nil)
        let second = try LineClient(unixPath: hub.controlUnix)
        _ = try second.readJSON()
        #expect(try second.call("hub.info")["result"] != nil)
        // The authenticated budget is now full: a new client is told so at once.
        let third = try LineClient(unixPath: hub.controlUnix)
        #expect(try third.readJSON()["error"]?["data"]?["reason"] == "too_many_clients")
        let control = try gate(first, "control")
        #expect(control["pending"] == 5)
        #expect(control["authenticated"] == 2)
        #expect(control["refused"]?["too_many_clients"] == 1)
        _ = silent
        #expect(hub.stop() == 0)
    }

    @Test func aFullTCPPendingBudgetEvictsTheOldestAndTheAdminOnUnixIsServed() throws {
        let hub = try HubHarness {
            $0.hub.limits.controlMaxPending = 6
            $0.hub.limits.controlUnixReserved = 3
        }
        var held: [LineClient] = []
        for _ in 0..<3 {
            let client = try LineClient(tcpPort: hub.controlTCPPort)
            _ = try client.readJSON()
            held.append(client)
        }
        // TCP may take 6 - 3 pending slots: the next TCP client is served and the oldest stalled one gives way,
        // told precisely why.
        let newcomer = try LineClient(tcpPort: hub.controlTCPPort)
        #expect(try newcomer.readJSON()["method"] == "hub.hello")
        let error = try held[0].readJSON()["error"]
        #expect(error?["data"]?["reason"] == "evicted")
        #expect(error?["data"]?["limit"] == "controlMaxPending")
        #expect(held[0].isClosedByPeer())
        #expect(try newcomer.call("hub.info")["result"]?["server"] == "hubd")
        // The administrator on the Unix socket still gets in and is served.
        let admin = try admin(hub)
        #expect(try admin.call("hub.info")["result"]?["server"] == "hubd")
        let control = try gate(admin, "control")
        #expect(control["refused"]?["evicted"] == 1)
        #expect(control["refused"]?["too_many_pending"] == 0)
        _ = held
        #expect(hub.stop() == 0)
    }

    @Test func aTCPNewcomerNeverEvictsUnixPeers() throws {
        let hub = try HubHarness {
            $0.hub.limits.controlMaxPending = 6
            $0.hub.limits.controlUnixReserved = 3
        }
        var unix: [LineClient] = []
        for _ in 0..<3 {
            let client = try LineClient(unixPath: hub.controlUnix)
            _ = try client.readJSON()
            unix.append(client)
        }
        // Three Unix peers pending use up what TCP may take; there is no TCP peer to evict: refused precisely.
        let refused = try LineClient(tcpPort: hub.controlTCPPort)
        let error = try refused.readJSON()["error"]
        #expect(error?["data"]?["reason"] == "too_many_pending")
        #expect(error?["data"]?["limit"] == "controlMaxPending")
        #expect(refused.isClosedByPeer())
        // The Unix peers were left alone and are served.
        for client in unix { #expect(try client.call("hub.info")["result"]?["server"] == "hubd") }
        let control = try gate(unix[0], "control")
        #expect(control["refused"]?["too_many_pending"] == 1)
        #expect(control["refused"]?["evicted"] == 0)
        #expect(hub.stop() == 0)
    }

    @Test func controlHandshakeAndIdleDeadlinesCloseSilentClients() throws {
        let hub = try HubHarness {
            $0.hub.controlToken = "0123456789abcdef-token"
            $0.hub.limits.controlHandshakeMs = 200
            $0.hub.limits.controlIdleMs = 600
        }
        // A local client on the Unix socket (no token asked) may connect early and speak later: no deadline.
        let early = try LineClient(unixPath: hub.controlUnix)
        _ = try early.readJSON()
        let silent = try LineClient(tcpPort: hub.controlTCPPort)
        _ = try silent.readJSON()
        let answer = try silent.readJSON()
        #expect(answer["error"]?["data"]?["reason"] == "handshake_timeout")
        #expect(answer["error"]?["code"] == -32005)
        #expect(silent.isClosedByPeer())
        // An authenticated client is past its handshake; once silent for controlIdleMs it is closed too.
        let quiet = try LineClient(tcpPort: hub.controlTCPPort)
        _ = try quiet.readJSON()
        #expect(try quiet.call("hub.authenticate", ["token": "0123456789abcdef-token"])["result"] != nil)
        let idle = try quiet.readJSON()
        #expect(idle["error"]?["data"]?["reason"] == "idle_timeout")
        #expect(quiet.isClosedByPeer())
        // The early local client outlived both deadlines and is served.
        #expect(try early.call("hub.info")["result"]?["server"] == "hubd")
        let control = try gate(early, "control")
        #expect(control["refused"]?["handshake_timeout"] == 1)
        #expect(control["refused"]?["idle_timeout"] == 1)
        #expect(hub.stop() == 0)
    }

    @Test func tokenClientsStayPendingUntilAuthenticated() throws {
        let hub = try HubHarness {
            $0.hub.controlToken = "0123456789abcdef-token"
            $0.hub.limits.controlMaxClients = 4
            $0.hub.limits.controlHandshakeMs = 300
        }
        let client = try LineClient(tcpPort: hub.controlTCPPort)
        _ = try client.readJSON()
        // A request before authenticating is answered but does not end the handshake.
        #expect(try client.call("hub.info")["error"]?["data"]?["reason"] == "auth_required")
        #expect(try client.call("hub.authenticate", ["token": "0123456789abcdef-token"])["result"] != nil)
        usleep(500_000)
        #expect(try client.call("hub.info", id: 3)["result"] != nil, "authenticated before the deadline")
        #expect(hub.stop() == 0)
    }

    // MARK: Guest

    @Test func guestsInTheirHandshakeDoNotCountAsSessions() throws {
        let hub = try HubHarness {
            $0.hub.limits.guestMaxSessions = 3
            $0.hub.limits.guestMaxPending = 12
            $0.hub.limits.guestUnixReserved = 2
        }
        var stalled: [LineClient] = []
        for _ in 0..<10 { stalled.append(try LineClient(tcpPort: hub.guestTCPPort)) }
        // The TCP share of the pending budget (12 - 2) is full: the next TCP connection takes the place of the
        // one that has waited longest, which is told precisely why.
        let newcomer = try LineClient(tcpPort: hub.guestTCPPort)
        var decoder = GuestFrameDecoder()
        let frames = try decoder.feed(try #require(readUntilClosed(stalled[0])))
        guard case .success(let frame) = frames.first, case .error(let code, let reason) = frame.message else {
            Issue.record("expected an ERROR frame, got \(frames)")
            return
        }
        #expect(code == .rateLimited)
        #expect(reason.contains("guestMaxPending"))
        #expect(reason.contains("evicted"))
        _ = newcomer
        // Real guests still attach (over the Unix socket's reserved share and over TCP after the others).
        let rtos = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret")
        #expect(rtos.welcome.sessionId != 0)
        stalled.removeAll()
        usleep(100_000)
        let linux = try GuestClient.connect(
            endpoint: "tcp:127.0.0.1:\(hub.guestTCPPort)", partition: "linux", secret: "linux-dev-secret")
        let mgmt = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "mgmt", secret: "mgmt-dev-secret")
        // guestMaxSessions counts attached sessions only: the fourth is refused, naming the limit.
        do {
            _ = try GuestClient.connect(
                endpoint: "unix:\(hub.guestUnix)", partition: "secure", secret: "secure-dev-secret")
            Issue.record("a fourth session attached over guestMaxSessions 3")
        } catch let error {
            #expect("\(error)".contains("guestMaxSessions"))
        }
        _ = (linux, mgmt)
        #expect(hub.stop() == 0)
    }

    @Test func largeFramesAreRefusedBeforeWelcomeAndAcceptedAfter() throws {
        let hub = try HubHarness { $0.hub.limits.guestPreAuthFrameBytes = 1024 }
        // A 1 MiB frame announced before HELLO (under guestMaxFrameBytes): refused at its length prefix,
        // without the hub waiting for (and buffering) the rest.
        let hostile = try LineClient(unixPath: hub.guestUnix)
        let length = UInt32(1 << 20)
        hostile.sendRaw(withUnsafeBytes(of: length.bigEndian, Array.init) + [UInt8](repeating: 0, count: 4096))
        var decoder = GuestFrameDecoder()
        let frames = try decoder.feed(try #require(readUntilClosed(hostile), "the hub closes the connection"))
        guard case .success(let frame) = frames.first, case .error(let code, _) = frame.message else {
            Issue.record("expected an ERROR frame, got \(frames)")
            return
        }
        #expect(code == .tooLarge)
        // After WELCOME the configured limit applies, and the hub says so.
        let rtos = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret")
        #expect(Int(rtos.welcome.maxFrameLength) == Limits().guestMaxFrameBytes)
        #expect(try rtos.raise(partition: "linux", line: 1) == .latched)
        #expect(hub.stop() == 0)
    }

    // MARK: RFB

    /// Connects to the framebuffer's RFB endpoint and reads the server's version.
    private func rfbConnect(_ admin: LineClient) throws -> LineClient {
        let endpoints = try #require(admin.call("fb.info", ["device": "fb0"])["result"]?["rfbEndpoints"]?.arrayValue)
        let address = try #require(endpoints.first?.stringValue)
        let port = try #require(UInt16(address.split(separator: ":").last ?? ""))
        let client = try LineClient(tcpPort: port)
        #expect(read(client, 12) == Array("RFB 003.008\n".utf8))
        return client
    }

    @Test func stalledRFBHandshakesDoNotBlockARealViewer() throws {
        let hub = try HubHarness {
            $0.devices.framebuffers[0].maxViewers = 2
            $0.hub.limits.rfbMaxPending = 8
            $0.hub.limits.rfbHandshakeMs = 400
        }
        let admin = try admin(hub)
        var stalled: [LineClient] = []
        for _ in 0..<5 { stalled.append(try rfbConnect(admin)) }
        // A real viewer (security None) completes its handshake although 5 others are stuck in theirs.
        let viewer = try rfbConnect(admin)
        viewer.sendRaw(Array("RFB 003.008\n".utf8))
        #expect(read(viewer, 2) == [1, 1], "security list: None")
        viewer.sendRaw([1])
        #expect(read(viewer, 4) == [0, 0, 0, 0], "SecurityResult OK")
        viewer.sendRaw([1])
        let serverInit = read(viewer, 4)
        #expect(serverInit == [0x01, 0xE0, 0x03, 0x20], "ServerInit 480x800")
        // The stalled ones are closed at the handshake deadline; the viewer stays.
        for client in stalled { #expect(readUntilClosed(client) != nil) }
        let rfb = try gate(admin, "rfb:fb0")
        #expect(rfb["refused"]?["handshake_timeout"] == 5)
        #expect(rfb["authenticated"] == 1)
        #expect(rfb["pending"] == 0)
        #expect(hub.stop() == 0)
    }

    @Test func aFullRFBPendingBudgetEvictsTheLongestHandshake() throws {
        let hub = try HubHarness { $0.hub.limits.rfbMaxPending = 2 }
        let admin = try admin(hub)
        let first = try rfbConnect(admin)
        let second = try rfbConnect(admin)
        // The third client is served (rfbConnect reads its version banner); the first, stalled longest, is closed.
        let third = try rfbConnect(admin)
        #expect(readUntilClosed(first) != nil)
        third.sendRaw(Array("RFB 003.008\n".utf8))
        #expect(read(third, 2) == [1, 1], "security list: None")
        let rfb = try gate(admin, "rfb:fb0")
        #expect(rfb["refused"]?["evicted"] == 1)
        #expect(rfb["pending"] == 2)
        _ = second
        #expect(hub.stop() == 0)
    }

    // MARK: Raw AT

    @Test func anIdleRawATSocketDoesNotKeepTheOwnerFromItsModem() throws {
        let path = "/tmp/hubtest-at-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let hub = try HubHarness { $0.devices.modems[0].listen = [.unix(path: path)] }
        let raw = try LineClient(unixPath: path)
        raw.sendLine("AT\r")
        #expect(raw.readLine() != nil)
        // The owner opens its modem: the raw socket client gives way, told why.
        let rtos = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret")
        _ = try rtos.openChannel(1, device: "modem0")
        let rest = String(decoding: try #require(readUntilClosed(raw)), as: UTF8.self)
        #expect(rest.contains("taken over by its owner rtos"))
        let admin = try admin(hub)
        #expect(try gate(admin, "modem:modem0")["refused"]?["displaced"] == 1)
        // While the owner holds it, a raw client is refused.
        let late = try LineClient(unixPath: path)
        #expect(String(decoding: try #require(readUntilClosed(late)), as: UTF8.self).contains("already open"))
        #expect(hub.stop() == 0)
    }

    @Test func rawATIdleDeadline() throws {
        let path = "/tmp/hubtest-at-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let hub = try HubHarness {
            $0.devices.modems[0].listen = [.unix(path: path)]
            $0.hub.limits.modemRawIdleMs = 300
        }
        let raw = try LineClient(unixPath: path)
        let text = String(decoding: try #require(readUntilClosed(raw)), as: UTF8.self)
        #expect(text.contains("idle_timeout"))
        #expect(try gate(try admin(hub), "modem:modem0")["refused"]?["idle_timeout"] == 1)
        #expect(hub.stop() == 0)
    }

    // MARK: Ethernet stream

    @Test func aSilentStreamPeerLosesThePortAtItsDeadline() throws {
        let path = "/tmp/hubtest-eth-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let hub = try HubHarness {
            $0.devices.ethernet[0].ports.append(
                EthernetPortConfig(name: "qemu", attachment: .stream(.unix(path: path))))
            $0.hub.limits.ethernetStreamHandshakeMs = 300
        }
        let silent = try LineClient(unixPath: path)
        // A second peer meanwhile is refused (one peer per port).
        let refused = try LineClient(unixPath: path)
        #expect(readUntilClosed(refused) != nil)
        #expect(readUntilClosed(silent) != nil, "dropped at the deadline")
        let next = try LineClient(unixPath: path)
        let frame: [UInt8] = [0, 0, 0, 14] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 2, 0, 0, 0, 0, 1, 0x88, 0xB5]
        next.sendRaw(frame)
        usleep(600_000)
        let admin = try admin(hub)
        let ethernet = try gate(admin, "ethernet:lan0/qemu")
        #expect(ethernet["refused"]?["handshake_timeout"] == 1)
        #expect(ethernet["refused"]?["too_many_clients"] == 1)
        #expect(ethernet["authenticated"] == 1, "a peer that sent a frame keeps the port")
        #expect(hub.stop() == 0)
    }

    // MARK: Loop watchdog

    @Test func hubInfoReportsTheLoopAndTheOpenFileLimit() throws {
        let hub = try HubHarness()
        let admin = try admin(hub)
        let info = try #require(admin.call("hub.info")["result"])
        // The first pass ends after this answer; the second call sees it.
        _ = info
        let later = try #require(admin.call("hub.info", id: 2)["result"])
        #expect((later["loop"]?["passes"]?.intValue ?? 0) > 0)
        #expect(info["loop"]?["stallWarnMs"] == 50)
        let soft = try #require(info["openFiles"]?["soft"]?.intValue)
        let hard = try #require(info["openFiles"]?["hard"]?.intValue)
        #expect(soft == hard, "the soft open-file limit is raised to the hard limit")
        let limits = try #require(admin.call("hub.limits")["result"]?["limits"])
        for key in ["controlMaxPending", "guestPreAuthFrameBytes", "rfbHandshakeMs", "loopStallWarnMs"] {
            #expect(limits[key]?["value"] != nil, "\(key) in hub.limits")
        }
        #expect(hub.stop() == 0)
    }
}
