import ControlWire
import DeviceKit
import DeviceKitTesting
import EthernetServer
import EventLoop
import JSON
import PlatformConfig
import Testing

/// VXLAN remotes given as host names (`Protocols/ethernet.md`, VXLAN; `Deploy/config-reference.md`): resolved
/// at start (an unresolvable one is a start error naming its entry), resolved again every
/// `vxlanResolveIntervalMs`, and followed when the address changes, with an `eth.vxlan.remoteChanged` event.
/// The resolver is injected; the remotes are real UDP sockets on loopback.
@Suite struct VXLANRemoteNameTests {
    static let endpointA = Endpoint.unix(path: "/fake/lan0-a.sock")

    static func configuration(remotes: [UDPAddress], intervalMs: Int = 20, lookupsInFlight: Int = 1)
        -> PlatformConfiguration
    {
        var configuration = PlatformConfiguration.reference
        configuration.devices.modems = []
        configuration.devices.framebuffers = []
        configuration.hub.limits.vxlanResolveIntervalMs = intervalMs
        configuration.hub.limits.vxlanLookupsInFlight = lookupsInFlight
        configuration.devices.ethernet[0].ports += [
            EthernetPortConfig(name: "a", attachment: .stream(endpointA)),
            EthernetPortConfig(
                name: "wan",
                attachment: .vxlan(local: UDPAddress(host: "127.0.0.1", port: 0), vni: 42, remotes: remotes)),
        ]
        return configuration
    }

    static let frame: [UInt8] =
        [UInt8](repeating: 0xFF, count: 6) + [2, 0, 0, 0, 0, 1, 0x88, 0xB5] + [UInt8](repeating: 0x5A, count: 46)

    static func streamed(_ frame: [UInt8]) -> [UInt8] { [0, 0, 0, UInt8(frame.count)] + frame }

    /// A UDP socket on loopback that counts the datagrams it gets.
    final class Receiver {
        let socket: UDPSocket
        var datagrams = 0

        init(loop: Loop) throws {
            socket = try UDPSocket(loop: loop, host: "127.0.0.1", port: 0)
            socket.onDatagram = { [unowned self] _, _ in self.datagrams += 1 }
            try socket.startReceiving()
        }
    }

    /// A resolver whose lookups at start answer `startAddress` and whose re-resolutions wait, in order, until the
    /// test answers them.
    final class HeldLookups {
        static let startAddress = InetAddress(host: "127.0.0.9", port: 4789)
        private(set) var asked: [String] = []
        private(set) var outstanding: [(Result<[InetAddress], LoopError>) -> Void] = []

        var resolver: VXLANResolver {
            VXLANResolver(
                now: { _, _, _ in .success([Self.startAddress]) },
                later: { host, _, _, _, completion in
                    self.asked.append(host)
                    self.outstanding.append(completion)
                })
        }

        /// Answers the oldest lookup still waiting for its answer.
        func answerOldest(_ result: Result<[InetAddress], LoopError>) { outstanding.removeFirst()(result) }
    }

    /// The `eth.ports` entry of the VXLAN port `wan`.
    static func wanPort(_ host: FakeDeviceHost) throws -> JSON {
        guard case .result(let ports) = FakeControlCaller().call(host.methods, "eth.ports", ["segment": "lan0"]) else {
            throw LoopError(code: -1, operation: "eth.ports")
        }
        return try #require(ports["ports"]?.arrayValue?.first { $0["name"] == "wan" })
    }

    @Test func aRenamedRemoteIsFollowedAndTheChangeIsAnEvent() throws {
        let name = UDPAddress(host: "handset-1.handset-fleet", port: 4789)
        let host = try FakeDeviceHost(configuration: Self.configuration(remotes: [name]))
        let old = try Receiver(loop: host.loop)
        let new = try Receiver(loop: host.loop)
        var answer = old.socket.boundAddress
        var asked: [String] = []
        let device = EthernetDevice()
        device.resolver = VXLANResolver(
            now: { host, _, _ in
                asked.append(host)
                return .success([answer])
            },
            later: { host, _, _, _, completion in
                asked.append(host)
                completion(.success([answer]))
            })
        try device.start(host: host)
        #expect(asked == ["handset-1.handset-fleet"])
        let peer = try #require(host.connect(to: Self.endpointA))
        peer.receive(Self.streamed(Self.frame))
        for _ in 0..<50 where old.datagrams == 0 { _ = host.loop.runOnce(wait: true) }
        #expect(old.datagrams == 1 && new.datagrams == 0)

        // The same answer again changes nothing; a new one moves the remote.
        for _ in 0..<3 { _ = host.loop.runOnce(wait: true) }
        #expect(host.events.filter { $0.kind == "eth.vxlan.remoteChanged" }.isEmpty)
        answer = new.socket.boundAddress
        for _ in 0..<50 where host.events.isEmpty { _ = host.loop.runOnce(wait: true) }
        let event = try #require(host.events.first { $0.kind == "eth.vxlan.remoteChanged" })
        #expect(event.device == "lan0")
        #expect(event.data["port"] == "wan" && event.data["remote"] == "handset-1.handset-fleet:4789")
        #expect(event.data["from"] == .string(old.socket.boundAddress.description))
        #expect(event.data["to"] == .string(new.socket.boundAddress.description))

        peer.receive(Self.streamed(Self.frame))
        for _ in 0..<50 where new.datagrams == 0 { _ = host.loop.runOnce(wait: true) }
        #expect(new.datagrams == 1 && old.datagrams == 1)
        device.stop()
        old.socket.close()
        new.socket.close()
        #expect(host.shutdown() == 0)
    }

    @Test func aFailedReResolutionKeepsTheLastAddress() throws {
        let name = UDPAddress(host: "handset-2.handset-fleet", port: 4789)
        let host = try FakeDeviceHost(configuration: Self.configuration(remotes: [name]))
        let device = EthernetDevice()
        var failed = 0
        device.resolver = VXLANResolver(
            now: { _, _, _ in .success([InetAddress(host: "127.0.0.9", port: 4789)]) },
            later: { _, _, _, _, completion in
                failed += 1
                completion(.failure(LoopError(code: -3008, operation: "resolve")))
            })
        try device.start(host: host)
        // Asked again after a failed answer: a failure ends the lookup as an answer does.
        for _ in 0..<100 where failed < 2 { _ = host.loop.runOnce(wait: true) }
        #expect(failed >= 2)
        let wan = try Self.wanPort(host)
        #expect(wan["remotes"] == ["127.0.0.9:4789"])
        #expect(wan["remoteNames"] == ["handset-2.handset-fleet:4789"])
        #expect((wan["resolveFailures"]?.intValue ?? 0) >= 2)
        #expect(host.events.isEmpty)
        device.stop()
        #expect(host.shutdown() == 0)
    }

    /// A name server that does not answer holds a pool thread per lookup: a remote is not asked for again while
    /// its lookup is outstanding, so the lookups stay one per remote however many intervals pass.
    @Test func aLookupThatHasNotAnsweredIsNotAskedForAgain() throws {
        let name = UDPAddress(host: "handset-3.handset-fleet", port: 4789)
        let host = try FakeDeviceHost(configuration: Self.configuration(remotes: [name], intervalMs: 5))
        let device = EthernetDevice()
        let lookups = HeldLookups()
        device.resolver = lookups.resolver
        try device.start(host: host)
        func skipped() throws -> Int { try Self.wanPort(host)["resolvesSkipped"]?.intValue ?? 0 }
        // Several intervals with the first lookup unanswered: still one lookup, the others counted as skipped.
        for _ in 0..<200 where try skipped() < 3 { _ = host.loop.runOnce(wait: true) }
        #expect(lookups.asked.count == 1 && lookups.outstanding.count == 1)
        #expect(try skipped() >= 3)
        // Once it answers, the next interval asks again.
        lookups.answerOldest(.success([HeldLookups.startAddress]))
        for _ in 0..<200 where lookups.asked.count < 2 { _ = host.loop.runOnce(wait: true) }
        #expect(lookups.asked.count == 2 && lookups.outstanding.count == 1)
        #expect(try Self.wanPort(host)["remotes"] == ["127.0.0.9:4789"])
        device.stop()
        #expect(host.shutdown() == 0)
    }

    /// Each lookup holds a thread of the pool image file work shares: at most `vxlanLookupsInFlight` run at once,
    /// hub-wide, and the others start, in order, as answers come.
    @Test(arguments: [1, 2])
    func lookupsRunAtMostTheLimitAtOnce(limit: Int) throws {
        let names = (1...3).map { UDPAddress(host: "handset-\($0).handset-fleet", port: 4789) }
        let host = try FakeDeviceHost(
            configuration: Self.configuration(remotes: names, intervalMs: 5, lookupsInFlight: limit))
        let device = EthernetDevice()
        let lookups = HeldLookups()
        device.resolver = lookups.resolver
        try device.start(host: host)
        // Several 5 ms intervals: the first `limit` names are asked for and nothing more starts while they run.
        for _ in 0..<200 where lookups.asked.count < limit { _ = host.loop.runOnce(wait: true) }
        for _ in 0..<10 { _ = host.loop.runOnce(wait: true) }
        try #require(lookups.asked == Array(names.prefix(limit).map(\.host)))
        try #require(lookups.outstanding.count == limit)
        // Each answer lets the next waiting name start, in the order they were asked for.
        lookups.answerOldest(.success([HeldLookups.startAddress]))
        #expect(lookups.asked == Array(names.prefix(limit + 1).map(\.host)))
        #expect(lookups.outstanding.count == limit)
        lookups.answerOldest(.failure(LoopError(code: -3008, operation: "resolve")))
        #expect(lookups.asked.count == min(names.count, limit + 2))
        #expect(lookups.outstanding.count == min(limit, names.count - 2))
        device.stop()
        #expect(host.shutdown() == 0)
    }

    /// A stopping device drops the lookups still waiting and ignores the answer of the one running.
    @Test func lookupsWaitingWhenTheDeviceStopsAreDropped() throws {
        let names = (1...3).map { UDPAddress(host: "handset-\($0).handset-fleet", port: 4789) }
        let host = try FakeDeviceHost(configuration: Self.configuration(remotes: names, intervalMs: 5))
        let device = EthernetDevice()
        let lookups = HeldLookups()
        device.resolver = lookups.resolver
        try device.start(host: host)
        for _ in 0..<200 where lookups.asked.isEmpty { _ = host.loop.runOnce(wait: true) }
        try #require(lookups.asked.count == 1 && lookups.outstanding.count == 1)
        device.stop()
        // The running lookup's answer, a new address, comes after the stop: nothing starts and nothing moves.
        lookups.answerOldest(.success([InetAddress(host: "127.0.0.7", port: 4789)]))
        #expect(lookups.asked.count == 1 && lookups.outstanding.isEmpty)
        #expect(host.events.isEmpty)
        #expect(host.shutdown() == 0)
    }

    @Test func anUnresolvableRemoteIsAStartErrorNamingItsEntry() throws {
        let remotes = [UDPAddress(host: "127.0.0.1", port: 4789), UDPAddress(host: "nowhere.invalid", port: 4789)]
        let host = try FakeDeviceHost(configuration: Self.configuration(remotes: remotes))
        let device = EthernetDevice()
        device.resolver = VXLANResolver(
            now: { _, _, _ in .failure(LoopError(code: -3008, operation: "resolve nowhere.invalid")) },
            later: { _, _, _, _, _ in })
        do {
            try device.start(host: host)
            Issue.record("start succeeded")
        } catch {
            #expect(
                error.description.hasPrefix(
                    "devices.ethernet[0].ports[3].vxlan.remotes[1]: cannot resolve 'nowhere.invalid:4789'"))
        }
        device.stop()
        #expect(host.shutdown() == 0)
    }

    @Test func literalAddressesAreNeverLookedUpAndNotReResolved() throws {
        let host = try FakeDeviceHost(
            configuration: Self.configuration(remotes: [UDPAddress(host: "127.0.0.5", port: 4789)]))
        let device = EthernetDevice()
        var asked = 0
        device.resolver = VXLANResolver(
            now: { _, _, _ in
                asked += 1
                return .success([])
            },
            later: { _, _, _, _, _ in asked += 1 })
        try device.start(host: host)
        host.runPasses(3)
        #expect(asked == 0)
        device.stop()
        #expect(host.shutdown() == 0)
    }
}
