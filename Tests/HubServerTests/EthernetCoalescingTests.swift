import Glibc
import JSON
import PlatformConfig
import Testing

/// Receive coalescing on stream ports (`Protocols/ethernet.md` §4.8): a read that carried several frames holds the
/// peer's next read for `ethernetStreamCoalesceMicros`, so what it sends meanwhile is switched in one batch; a peer
/// whose reads carry one frame each is never held, and nothing is lost or reordered either way.
@Suite struct EthernetCoalescingTests {
    private static let holdMicros = 80_000

    /// A QEMU stream record (4-byte length prefix) from `source` to `destination`, numbered by its last byte.
    private static func frame(from source: UInt8, to destination: UInt8, number: UInt8) -> [UInt8] {
        let body: [UInt8] =
            [2, 0, 0, 0, 0, destination, 2, 0, 0, 0, 0, source, 0x88, 0xB5] + [UInt8](repeating: 0, count: 45)
            + [number]
        return [0, 0, 0, UInt8(body.count)] + body
    }

    private static func milliseconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
    }

    /// Reads whole records until `count` frames arrived or `timeoutMs` passed; returns each frame's number and
    /// arrival time.
    private static func receive(_ client: LineClient, count: Int, timeoutMs: Double) -> [(number: UInt8, at: Double)] {
        var bytes: [UInt8] = []
        var frames: [(number: UInt8, at: Double)] = []
        let end = milliseconds() + timeoutMs
        while frames.count < count && milliseconds() < end {
            var pollfd = Glibc.pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pollfd, 1, 10) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let got = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
            guard got > 0 else { break }
            bytes += chunk[..<got]
            while bytes.count >= 4 {
                let length = Int(bytes[2]) << 8 | Int(bytes[3])
                guard bytes.count >= 4 + length else { break }
                // Frames from the sender only (the receiver's own hello is not switched back to it).
                frames.append((bytes[3 + length], milliseconds()))
                bytes.removeFirst(4 + length)
            }
        }
        return frames
    }

    private func portState(_ hub: HubHarness, _ name: String) throws -> JSON? {
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let ports = try control.call("eth.ports", ["segment": "lan0"])
        // The attachment's state (`readHolds` among it) is merged into the port's object.
        return ports["result"]?["ports"]?.arrayValue?.first { $0["name"]?.stringValue == name }
    }

    /// A hub with two stream ports on lan0, `a` (the sender's) and `b` (the receiver's, whose address the switch
    /// has learned), coalescing as given, at least three frames to a hold.
    private func hubWithTwoPeers(coalesceMicros: Int) throws -> (HubHarness, LineClient, LineClient) {
        let base = "/tmp/hubtest-coalesce-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let hub = try HubHarness {
            $0.devices.ethernet[0].ports.append(
                EthernetPortConfig(name: "a", attachment: .stream(.unix(path: base + "a"))))
            $0.devices.ethernet[0].ports.append(
                EthernetPortConfig(name: "b", attachment: .stream(.unix(path: base + "b"))))
            $0.hub.limits.ethernetStreamCoalesceMicros = coalesceMicros
            $0.hub.limits.ethernetStreamCoalesceFrames = 3
        }
        let sender = try LineClient(unixPath: base + "a")
        let receiver = try LineClient(unixPath: base + "b")
        // The receiver announces its address (a broadcast the sender's port floods), so frames to it are unicast.
        var hello = Self.frame(from: 2, to: 0xFF, number: 0)
        for index in 4..<10 { hello[index] = 0xFF }
        receiver.sendRaw(hello)
        _ = Self.receive(sender, count: 1, timeoutMs: 2000)
        return (hub, sender, receiver)
    }

    private func run(coalesceMicros: Int) throws -> (
        holds: Int?, heldDelayMs: Double, loneDelayMs: Double, numbers: [UInt8]
    ) {
        let (hub, sender, receiver) = try hubWithTwoPeers(coalesceMicros: coalesceMicros)
        defer { _ = hub.stop() }
        // Two frames in one write: below the threshold of three, nothing is held.
        sender.sendRaw(Self.frame(from: 1, to: 2, number: 1) + Self.frame(from: 1, to: 2, number: 2))
        var numbers = Self.receive(receiver, count: 2, timeoutMs: 2000).map(\.number)
        // Three in one write: one read of three frames holds the next read; a frame sent 20 ms later waits for
        // the deadline, at least the hold after the burst was sent.
        let burstSent = Self.milliseconds()
        sender.sendRaw((3...5).flatMap { Self.frame(from: 1, to: 2, number: $0) })
        usleep(20_000)
        sender.sendRaw(Self.frame(from: 1, to: 2, number: 6))
        let burst = Self.receive(receiver, count: 4, timeoutMs: 5000)
        numbers += burst.map(\.number)
        let heldDelay = (burst.last?.at ?? .infinity) - burstSent
        // Long after the hold: a lone frame goes through at once.
        usleep(UInt32(Self.holdMicros * 2))
        let loneSent = Self.milliseconds()
        sender.sendRaw(Self.frame(from: 1, to: 2, number: 7))
        let lone = Self.receive(receiver, count: 1, timeoutMs: 5000)
        numbers += lone.map(\.number)
        let holds = try portState(hub, "a")?["readHolds"]?.intValue
        return (holds, heldDelay, (lone.first?.at ?? .infinity) - loneSent, numbers)
    }

    @Test func aReadOfSeveralFramesHoldsTheNextAndALoneFrameIsNeverHeld() throws {
        let run = try run(coalesceMicros: Self.holdMicros)
        #expect(run.numbers == Array(1...7))
        // The burst's read held the next; frame 6's read at the deadline and frame 7's carried one frame each.
        #expect(run.holds == 1)
        #expect(
            run.heldDelayMs >= Double(Self.holdMicros) / 1000, "frame 6 arrived \(run.heldDelayMs) ms after the burst")
        #expect(run.loneDelayMs < Double(Self.holdMicros) / 1000 / 2, "a lone frame took \(run.loneDelayMs) ms")
    }

    /// A read at least `ethernetStreamCoalesceBelowBytes` long (default 4 KiB) means the peer fills its socket:
    /// holding would only make it wait on a full socket, so many frames in one long read hold nothing.
    @Test func aLongReadOfManyFramesHoldsNothing() throws {
        let (hub, sender, receiver) = try hubWithTwoPeers(coalesceMicros: Self.holdMicros)
        defer { _ = hub.stop() }
        // 100 records of 64 bytes: one write of 6.4 KiB, one read.
        sender.sendRaw((0..<100).flatMap { Self.frame(from: 1, to: 2, number: UInt8($0)) })
        #expect(Self.receive(receiver, count: 100, timeoutMs: 5000).map(\.number) == (0..<100).map(UInt8.init))
        #expect(try portState(hub, "a")?["readHolds"]?.intValue == 0)
    }

    @Test func withCoalescingOffNothingIsHeld() throws {
        let run = try run(coalesceMicros: 0)
        #expect(run.numbers == Array(1...7))
        #expect(run.holds == 0)
        #expect(run.heldDelayMs < Double(Self.holdMicros) / 1000 * 0.75, "frame 6 took \(run.heldDelayMs) ms")
    }
}
