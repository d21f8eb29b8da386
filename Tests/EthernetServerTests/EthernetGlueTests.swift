import ControlWire
import DeviceKit
import DeviceKitTesting
import EthernetServer
import EventLoop
import Glibc
import HubSystem
import JSON
import PlatformConfig
import Testing

/// The Ethernet device's glue (`Protocols/ethernet.md`, `Protocols/control.md` §13) driven in process, without
/// sockets: stream peers are `FakeByteStream`s connected to the device's fake listeners, a guest's channel is a
/// `FakeChannelEndpoint`, control calls go through the device's method table with a `FakeControlCaller`.
@Suite struct EthernetGlueTests {
    static let endpointA = Endpoint.unix(path: "/fake/lan0-a.sock")
    static let endpointB = Endpoint.unix(path: "/fake/lan0-b.sock")

    /// The reference handset's lan0 (guest ports rtos and linux) plus stream ports `a` and `b` and a test port.
    static func configuration(_ adjust: (inout PlatformConfiguration) -> Void = { _ in }) -> PlatformConfiguration {
        var configuration = PlatformConfiguration.reference
        configuration.devices.modems = []
        configuration.devices.framebuffers = []
        configuration.devices.ethernet[0].ports += [
            EthernetPortConfig(name: "a", attachment: .stream(endpointA)),
            EthernetPortConfig(name: "b", attachment: .stream(endpointB)),
            EthernetPortConfig(name: "t"),
        ]
        adjust(&configuration)
        return configuration
    }

    /// A broadcast frame of 60 bytes from `source`.
    static func broadcast(from source: UInt8) -> [UInt8] {
        [UInt8](repeating: 0xFF, count: 6) + [2, 0, 0, 0, 0, source, 0x88, 0xB5] + [UInt8](repeating: 0x5A, count: 46)
    }

    /// QEMU stream framing (`Protocols/ethernet.md` §3): a 4-byte big-endian length, then the frame.
    static func streamed(_ frame: [UInt8]) -> [UInt8] {
        let length = UInt32(frame.count)
        return [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)]
            + frame
    }

    struct Bench {
        let host: FakeDeviceHost
        let device = EthernetDevice()
        let caller = FakeControlCaller()

        init(_ configuration: PlatformConfiguration = EthernetGlueTests.configuration()) throws {
            host = try FakeDeviceHost(configuration: configuration)
            try device.start(host: host)
        }

        func call(_ method: String, _ params: JSON) -> ControlReply { caller.call(host.methods, method, params) }

        func counters(_ port: String) -> JSON? {
            guard case .result(let result) = call("eth.counters", ["segment": "lan0", "port": .string(port)]) else {
                return nil
            }
            return result["ports"]?[port]
        }

        func stop() -> Int32 {
            device.stop()
            return host.shutdown()
        }
    }

    @Test func aStreamFrameFedOneByteAtATimeReachesTheOtherStreamPeerWhole() throws {
        let bench = try Bench()
        let a = try #require(bench.host.connect(to: Self.endpointA))
        let b = try #require(bench.host.connect(to: Self.endpointB))
        let frame = Self.broadcast(from: 1)
        for byte in Self.streamed(frame) { a.receive([byte]) }
        bench.host.runPasses(5)
        #expect(b.takeWritten() == Self.streamed(frame))
        #expect(a.takeWritten().isEmpty, "a frame is not sent back to its sender")
        #expect(bench.counters("a")?["rxFrames"] == 1)
        #expect(bench.counters("b")?["txFrames"] == 1)
        #expect(bench.stop() == 0)
    }

    @Test func aGarbageStreamLengthDropsThatPeerCountedMalformedAndFreesThePort() throws {
        let bench = try Bench()
        let a = try #require(bench.host.connect(to: Self.endpointA))
        // Larger than QEMU's NET_BUFSIZE: the stream cannot be resynchronised (ethernet.md §3).
        for byte: UInt8 in [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3] { a.receive([byte]) }
        #expect(!a.isOpen, "the peer that sent the bad length is disconnected")
        #expect(bench.counters("a")?["drops"]?["malformed"] == 1)
        // The port's one slot is free again: a new peer is served.
        let again = try #require(bench.host.connect(to: Self.endpointA))
        let b = try #require(bench.host.connect(to: Self.endpointB))
        again.receive(Self.streamed(Self.broadcast(from: 2)))
        bench.host.runPasses(5)
        #expect(again.isOpen && b.takeWritten() == Self.streamed(Self.broadcast(from: 2)))
        #expect(bench.stop() == 0)
    }

    @Test func aSecondStreamPeerIsRefusedWhileTheFirstHoldsThePort() throws {
        let bench = try Bench()
        let first = try #require(bench.host.connect(to: Self.endpointA))
        let second = try #require(bench.host.connect(to: Self.endpointA))
        #expect(first.isOpen && !second.isOpen)
        guard case .result(let ports) = bench.call("eth.ports", ["segment": "lan0"]) else {
            Issue.record("eth.ports failed")
            return
        }
        let a = ports["ports"]?.arrayValue?.first { $0["name"] == "a" }
        #expect(a?["refusedPeers"] == 1 && a?["connected"] == true)
        #expect(bench.stop() == 0)
    }

    /// A peer that hung up with everything it sent read, whose end is not reported yet (a listener's event can
    /// come first in the same poll), does not hold the port: the next peer takes over and its frames flow.
    @Test func aPeerThatHungUpUnseenIsReplacedByTheNextPeerInsteadOfRefusingIt() throws {
        let bench = try Bench()
        let first = try #require(bench.host.connect(to: Self.endpointA))
        let b = try #require(bench.host.connect(to: Self.endpointB))
        b.receive(Self.streamed(Self.broadcast(from: 11)))
        first.receive(Self.streamed(Self.broadcast(from: 12)))
        bench.host.runPasses(3)
        _ = b.takeWritten()
        first.hangUpUnseen()
        let second = try #require(bench.host.connect(to: Self.endpointA))
        #expect(second.isOpen && !first.isOpen)
        second.receive(Self.streamed(Self.broadcast(from: 13)))
        bench.host.runPasses(3)
        #expect(b.takeWritten() == Self.streamed(Self.broadcast(from: 13)))
        guard case .result(let ports) = bench.call("eth.ports", ["segment": "lan0"]) else {
            Issue.record("eth.ports failed")
            return
        }
        let a = ports["ports"]?.arrayValue?.first { $0["name"] == "a" }
        #expect(a?["refusedPeers"] == 0 && a?["peers"] == 2 && a?["connected"] == true)
        #expect(bench.stop() == 0)
    }

    @Test func ethWaitIsAnsweredByTheFirstMatchingFrameSentToThePort() throws {
        let bench = try Bench()
        let reply = bench.call(
            "eth.wait",
            ["segment": "lan0", "port": "t", "pattern": "ff ff ff ff ff ff ?? ?? ?? ?? ?? 07", "timeoutMs": 60_000])
        guard case .deferred = reply else {
            Issue.record("eth.wait answered at once: \(reply)")
            return
        }
        let a = try #require(bench.host.connect(to: Self.endpointA))
        a.receive(Self.streamed(Self.broadcast(from: 6)))  // does not match
        bench.host.runPasses(5)
        #expect(bench.caller.answers.isEmpty)
        a.receive(Self.streamed(Self.broadcast(from: 7)))
        bench.host.runPasses(5)
        let answer = try #require(bench.caller.takeAnswers().first?.result)
        #expect(answer["port"] == "t" && answer["direction"] == "sent" && answer["length"] == 60)
        #expect(answer["frame"]?.stringValue?.hasPrefix("ffffffffffff020000000007") == true)
        #expect(bench.stop() == 0)
    }

    /// A wait on frames *received* from a stream port sees a frame the peer sends after the wait was registered:
    /// the port's read path looks at a stored "observed" flag, which registering the wait must set, and which
    /// goes back once the wait is answered, so later frames go straight to the switch and still arrive.
    @Test func ethWaitOnReceivedFramesOfAStreamPortIsAnsweredAndTheFramesStillFlow() throws {
        let bench = try Bench()
        let a = try #require(bench.host.connect(to: Self.endpointA))
        a.receive(Self.streamed(Self.broadcast(from: 30)))  // before the wait: not observed
        bench.host.runPasses(5)
        let reply = bench.call(
            "eth.wait",
            [
                "segment": "lan0", "port": "a", "direction": "received",
                "pattern": "ff ff ff ff ff ff ?? ?? ?? ?? ?? 1f", "timeoutMs": 60_000,
            ])
        guard case .deferred = reply else {
            Issue.record("eth.wait answered at once: \(reply)")
            return
        }
        a.receive(Self.streamed(Self.broadcast(from: 31)))
        bench.host.runPasses(5)
        let answer = try #require(bench.caller.takeAnswers().first?.result)
        #expect(answer["port"] == "a" && answer["direction"] == "received")
        #expect(answer["frame"]?.stringValue?.hasPrefix("ffffffffffff02000000001f") == true)
        a.receive(Self.streamed(Self.broadcast(from: 32)))
        bench.host.runPasses(5)
        #expect(bench.counters("a")?["rxFrames"] == 3, "\(String(describing: bench.counters("a")))")
        #expect(bench.stop() == 0)
    }

    /// A live capture (`eth.capture.start` with `live`) sees the frames a stream peer sends into the segment,
    /// not only the ones sent to ports, each once and in order.
    @Test func aLiveCaptureSeesFramesAStreamPeerSends() throws {
        let bench = try Bench()
        guard case .result = bench.call("eth.capture.start", ["segment": "lan0", "port": "a", "live": true]) else {
            Issue.record("eth.capture.start live failed")
            return
        }
        let a = try #require(bench.host.connect(to: Self.endpointA))
        a.receive(Self.streamed(Self.broadcast(from: 21)) + Self.streamed(Self.broadcast(from: 22)))
        bench.host.runPasses(5)
        let seen = bench.host.events.filter { $0.kind == "eth.frame" }.map(\.data)
        #expect(seen.map { $0["direction"] } == ["received", "received"])
        let heads = seen.map { $0["frame"]?.stringValue.map { String($0.prefix(24)) } ?? "" }
        #expect(heads == ["ffffffffffff020000000015", "ffffffffffff020000000016"])
        #expect(bench.stop() == 0)
    }

    /// `eth.inject` takes at most 131,072 bytes of hex: a longer frame is refused naming the bound and what was
    /// sent, and text that is not hex is refused as such.
    @Test func anInjectedFrameOverItsBoundIsRefusedNamingIt() throws {
        let bench = try Bench()
        let largest = String(repeating: "ff", count: 131_072)
        let first = bench.call("eth.inject", ["segment": "lan0", "port": "a", "frame": .string(largest)])
        guard case .result(let taken) = first else {
            Issue.record("the largest frame was refused")
            return
        }
        #expect(taken["length"] == 131_072)
        let over = bench.call("eth.inject", ["segment": "lan0", "port": "a", "frame": .string(largest + "ff")])
        guard case .error(let error) = over else {
            Issue.record("a frame over the bound was taken")
            return
        }
        #expect(error.code == .invalidParams)
        #expect(error.message.contains("131072") && error.message.contains("262146"), "\(error.message)")
        guard case .error(let notHex) = bench.call("eth.inject", ["segment": "lan0", "port": "a", "frame": "zz"]) else {
            Issue.record("text that is not hex was taken")
            return
        }
        #expect(notHex.message.contains("hex bytes of one Ethernet frame"), "\(notHex.message)")
        #expect(bench.stop() == 0)
    }

    /// A capture file must be a regular file: a FIFO would hold the loop in `open` until something read it, and
    /// in every write once its reader stopped; a device is refused alike. The refusal names `path`, and the
    /// segment is left without a capture; a regular file still captures, and `stop` says no write failed.
    @Test func aCaptureToAFIFOOrDeviceIsRefusedWithoutWaiting() throws {
        let bench = try Bench()
        let directory = "/tmp/ethernet-capture-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect(mkdir(directory, 0o700) == 0)
        defer { try? FileTree.removeTree(directory) }
        let fifo = directory + "/fifo.pcap"
        #expect(mkfifo(fifo, 0o600) == 0)
        // A reader holds it open (without one, the old open(2) waited for ever; with one it captured into it).
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        for path in [fifo, "/dev/null"] {
            guard case .error(let error) = bench.call("eth.capture.start", ["segment": "lan0", "path": .string(path)])
            else {
                Issue.record("a capture to \(path) was started")
                continue
            }
            #expect(error.code == .invalidParams)
            #expect(error.data?["param"] == "path", "\(error)")
            #expect(error.message.contains("not a regular file"), "\(error.message)")
        }
        guard case .result(let segments) = bench.call("eth.segments", [:]) else {
            Issue.record("eth.segments failed")
            return
        }
        #expect(segments["segments"]?[0]?["capture"] == .null)
        let file = directory + "/lan0.pcap"
        guard case .result = bench.call("eth.capture.start", ["segment": "lan0", "path": .string(file)]) else {
            Issue.record("a capture to a regular file was refused")
            return
        }
        guard case .result(let stopped) = bench.call("eth.capture.stop", ["segment": "lan0"]) else {
            Issue.record("eth.capture.stop failed")
            return
        }
        #expect(stopped["bytes"] == 24)  // the pcap global header
        #expect(stopped["writeError"] == .null)
        #expect(bench.stop() == 0)
    }

    @Test func ethWaitTimesOutWithTimeoutWhenNoFrameMatches() throws {
        let bench = try Bench()
        _ = bench.call("eth.wait", ["segment": "lan0", "port": "t", "pattern": "01", "timeoutMs": 0])
        for _ in 0..<100 where bench.caller.answers.isEmpty { bench.host.runPasses() }
        let error = try #require(bench.caller.takeAnswers().first?.error)
        #expect(error.code == .timeout && error.reason == "timeout")
        #expect(bench.stop() == 0)
    }

    @Test func ethWaitsOverControlMaxWaitersAreRefusedAndADisconnectedCallersWaitsAreFreed() throws {
        let bench = try Bench(Self.configuration { $0.hub.limits.controlMaxWaiters = 2 })
        let wait: JSON = ["segment": "lan0", "port": "t", "pattern": "01", "timeoutMs": 60_000]
        _ = bench.call("eth.wait", wait)
        _ = bench.call("eth.wait", wait)
        guard case .error(let refusal) = bench.call("eth.wait", wait) else {
            Issue.record("a third wait was accepted")
            return
        }
        #expect(refusal == ControlError.limitExceeded("eth.maxWatches", value: 2, reason: "limit_exceeded"))
        // The caller goes away: its two waits no longer count.
        bench.caller.disconnect()
        let other = FakeControlCaller()
        guard case .deferred = other.call(bench.host.methods, "eth.wait", wait) else {
            Issue.record("the waits of a disconnected caller still hold the limit")
            return
        }
        #expect(bench.stop() == 0)
    }

    @Test func aGuestChannelFrameIsSwitchedAndAPartitionWithoutAGrantIsRefused() throws {
        let bench = try Bench()
        let b = try #require(bench.host.connect(to: Self.endpointB))
        let linux = FakeChannelEndpoint(partition: "linux")
        let channel = try bench.device.openChannel(device: "lan0", options: [], endpoint: linux).get()
        channel.received(Self.broadcast(from: 9)[...])
        bench.host.runPasses(5)
        #expect(b.takeWritten() == Self.streamed(Self.broadcast(from: 9)))
        // Frames the other way reach the guest as CHANNEL_DATA.
        b.receive(Self.streamed(Self.broadcast(from: 10)))
        bench.host.runPasses(5)
        #expect(linux.takeSent() == [Self.broadcast(from: 10)])
        guard
            case .failure(let refusal) = bench.device.openChannel(
                device: "lan0", options: [], endpoint: FakeChannelEndpoint(partition: "secure"))
        else {
            Issue.record("secure has no grant for lan0 but opened it")
            return
        }
        #expect(refusal.code == .notPermitted)
        #expect(bench.stop() == 0)
    }

    /// Frames in a QEMU stream as the peer reads them: the length of each, in order.
    static func frameLengths(in stream: [UInt8]) -> [Int] {
        var lengths: [Int] = []
        var offset = 0
        while offset + 4 <= stream.count {
            let length = stream[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            lengths.append(length)
            offset += 4 + length
        }
        return lengths
    }

    /// A stream peer that stops reading makes its port pressured; the stream sender feeding it is paused, not
    /// dropped (`Protocols/ethernet.md` §4.5), and every frame arrives once the peer reads again.
    @Test func aStreamSenderIsPausedWhileItsDestinationDoesNotReadAndLosesNothing() throws {
        let bench = try Bench(
            Self.configuration {
                $0.hub.limits.ethernetStreamHighWatermarkBytes = 256
                $0.devices.ethernet[0].ports[3].queueFrames = 16  // port b
            })
        let a = try #require(bench.host.connect(to: Self.endpointA))
        let b = try #require(bench.host.connect(to: Self.endpointB))
        // b's address is learned, so a's frames go to b alone.
        b.receive(Self.streamed(Self.broadcast(from: 11)))
        bench.host.runPasses(5)
        b.peerReads = false
        let total = 500
        let frame = [2, 0, 0, 0, 0, 11, 2, 0, 0, 0, 0, 1, 0x88, 0xB5] + [UInt8](repeating: 0, count: 46)
        a.receive((0..<total).flatMap { _ in Self.streamed(frame) })
        bench.host.runPasses(10)
        let switchedWhileBlocked = bench.counters("a")?["rxFrames"]?.intValue ?? 0
        #expect(switchedWhileBlocked < total, "the sender was not held back by a destination that does not read")
        var delivered = Self.frameLengths(in: b.takeWritten()).count
        for _ in 0..<1000 where delivered < total {
            b.drain()
            bench.host.runPasses(2)
            delivered += Self.frameLengths(in: b.takeWritten()).count
        }
        #expect(delivered == total)
        #expect(bench.counters("b")?["drops"]?["queueFull"] == 0)
        #expect(bench.stop() == 0)
    }

    /// A flooding stream peer is switched one slice per loop pass (`ethernetReadFramesPerPass`,
    /// `Protocols/ethernet.md` §4.8): the rest of its read waits for the next pass, and nothing is lost.
    @Test func aFloodFromOneStreamPeerIsSwitchedOneSlicePerPass() throws {
        let bench = try Bench(Self.configuration { $0.hub.limits.ethernetReadFramesPerPass = 32 })
        let a = try #require(bench.host.connect(to: Self.endpointA))
        let total = 200
        a.receive((0..<total).flatMap { _ in Self.streamed(Self.broadcast(from: 1)) })
        #expect(bench.counters("a")?["rxFrames"] == 32, "one read switches one slice")
        var passes = 0
        while (bench.counters("a")?["rxFrames"]?.intValue ?? 0) < total && passes < 100 {
            let before = bench.counters("a")?["rxFrames"]?.intValue ?? 0
            bench.host.runPasses()
            let after = bench.counters("a")?["rxFrames"]?.intValue ?? 0
            #expect(after - before <= 32)
            passes += 1
        }
        #expect(bench.counters("a")?["rxFrames"]?.intValue == total)
        #expect(passes >= (total - 32) / 32)
        #expect(bench.stop() == 0)
    }
}
