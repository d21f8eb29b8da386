import Glibc
import GuestWire
import HubGuest
import JSON
import PlatformConfig
import PlatformConfigLoader
import TestSupport
import Testing

/// Whole-server checks of `Protocols/guest.md` promises found broken by hostile-peer reviews: liveness judged
/// against heartbeats the hub had not read yet (§9.1), `IRQ.coalesced` (§6.3), the `REGION_READ` length (§8.1),
/// answers built only as fast as the guest reads them (§3.3), errors answering on the frame's channel (§3.4, §11),
/// `CHANNEL_CLOSE` codes (§10.4) and well-formed frames refused as `unexpected_frame` (§6.4, §7.4).
@Suite struct GuestHostilePeerTests {
    private func attach(_ hub: HubHarness, _ partition: String, tcp: Bool = false) throws -> GuestClient {
        let endpoint = tcp ? "tcp:127.0.0.1:\(hub.guestTCPPort)" : "unix:\(hub.guestUnix)"
        return try GuestClient.connect(endpoint: endpoint, partition: partition, secret: "\(partition)-dev-secret")
    }

    private func nextIRQ(_ client: GuestClient) throws -> (line: UInt16, coalesced: UInt32)? {
        while let event = try client.nextEvent(timeout: 5) {
            if case .irq(let line, _, let coalesced) = event { return (line, coalesced) }
        }
        return nil
    }

    /// §9.1: the hub's loop is held up for 1.5 s (five times linux's 3 x 200 ms timeout) while the guest keeps
    /// heartbeating every 100 ms. The heartbeats wait in the socket; the liveness timer, which libuv runs before
    /// it polls, must not take the hub's own delay for the guest's silence.
    @Test func heartbeatsThatWaitedInTheSocketWhileTheLoopWasHeldUpKeepTheGuest() throws {
        let hub = try HubHarness { configuration in
            let index = configuration.partitions.firstIndex { $0.name == "linux" }!
            configuration.partitions[index].heartbeatMs = 200
        }
        let linux = try attach(hub, "linux")
        #expect(linux.welcome.heartbeatMillis == 200)
        try linux.sendFrame(GuestFrame(.heartbeat(stamp: 0)))
        #expect(hub.runOnLoop { usleep(1_500_000) })
        // Heartbeats throughout the freeze and for a second after it (stamp n, request id 0: no answer).
        for stamp in 1...25 {
            try linux.sendFrame(GuestFrame(.heartbeat(stamp: UInt64(stamp))))
            usleep(100_000)
        }
        // Still attached: a heartbeat round trip answers and the hub counted no missed heartbeat.
        try linux.heartbeat(stamp: 99)
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        #expect(try control.call("guest.stats")["result"]?["heartbeatsMissed"] == 0)
        #expect(try control.call("partition.get", ["name": "linux"])["result"]?["state"] == "running")
        #expect(hub.stop() == 0)
    }

    /// The check still closes a guest that really is silent (the verdict is deferred, not dropped).
    @Test func aSilentGuestIsStillClosedForMissedHeartbeats() throws {
        let hub = try HubHarness { configuration in
            let index = configuration.partitions.firstIndex { $0.name == "linux" }!
            configuration.partitions[index].heartbeatMs = 50
        }
        let linux = try attach(hub, "linux")
        var timedOut = false
        while let event = try? linux.nextEvent(timeout: 5) {
            if case .error(let code, _, _) = event, code == .timeout { timedOut = true }
        }
        #expect(timedOut)
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        #expect(try control.call("guest.stats")["result"]?["heartbeatsMissed"] == 1)
        #expect(hub.stop() == 0)
    }

    /// "suspend" or "resume" for the next `SUSPEND` / `RESUME`, skipping region descriptors and the like.
    private func nextSuspension(_ client: GuestClient) throws -> String? {
        while let event = try client.nextEvent(timeout: 5) {
            switch event {
            case .suspend: return "suspend"
            case .resume: return "resume"
            case .regionFD(_, _, _, let descriptor): if let descriptor { close(descriptor) }
            default: break
            }
        }
        return nil
    }

    /// §9.2: a suspended partition's liveness clock stands still, restarts on resume, and suspension belongs to
    /// the partition: a guest attaching while it is suspended is told at once.
    @Test func aSuspendedGuestIsNotJudgedSilentAndAGuestAttachingWhileSuspendedIsTold() throws {
        let hub = try HubHarness { configuration in
            let index = configuration.partitions.firstIndex { $0.name == "linux" }!
            configuration.partitions[index].heartbeatMs = 100
        }
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        var linux = try attach(hub, "linux")
        #expect(try control.call("partition.suspend", ["name": "linux"])["result"]?["state"] == "suspended")
        #expect(try nextSuspension(linux) == "suspend")
        // Four times the 300 ms timeout without a frame from the guest (a stopped process cannot heartbeat).
        usleep(1_200_000)
        #expect(try control.call("guest.stats")["result"]?["heartbeatsMissed"] == 0)
        #expect(try control.call("partition.resume", ["name": "linux"])["result"]?["state"] == "running")
        #expect(try nextSuspension(linux) == "resume")
        // The clock restarted on resume: a heartbeat now is in time.
        try linux.heartbeat(stamp: 1)
        #expect(try control.call("guest.stats")["result"]?["heartbeatsMissed"] == 0)

        try linux.detach()
        linux.close()
        #expect(try control.call("partition.suspend", ["name": "linux"])["result"]?["changed"] == true)
        linux = try attach(hub, "linux")
        #expect(try nextSuspension(linux) == "suspend")
        usleep(600_000)
        try linux.heartbeat(stamp: 2)
        #expect(try control.call("partition.get", ["name": "linux"])["result"]?["state"] == "suspended")
        #expect(try control.call("guest.stats")["result"]?["heartbeatsMissed"] == 0)
        #expect(hub.stop() == 0)
    }

    /// §6.3: `coalesced` counts the raises one delivery stands for, the first included.
    @Test func irqCoalescedCountsEveryRaiseFoldedIntoTheDelivery() throws {
        let hub = try HubHarness()
        let rtos = try attach(hub, "rtos")
        let linux = try attach(hub, "linux", tcp: true)
        #expect(try rtos.raise(partition: "linux", line: 3) == .delivered)
        let single = try #require(try nextIRQ(linux))
        #expect(single.line == 3 && single.coalesced == 1)
        // Line 3 is in service: two raises now make it pending once; the EOI lets that delivery out.
        #expect(try rtos.raise(partition: "linux", line: 3) == .delivered)
        #expect(try rtos.raise(partition: "linux", line: 3) == .delivered)
        try linux.eoi(line: 3)
        let double = try #require(try nextIRQ(linux))
        #expect(double.line == 3 && double.coalesced == 2)
        try linux.eoi(line: 3)
        for _ in 0..<3 { #expect(try rtos.raise(partition: "linux", line: 4) == .delivered) }
        // The first of the three was delivered alone; the other two were folded into the next delivery.
        #expect(try nextIRQ(linux).map { [$0.line, UInt16($0.coalesced)] } == [4, 1])
        try linux.eoi(line: 4)
        #expect(try nextIRQ(linux).map { [$0.line, UInt16($0.coalesced)] } == [4, 2])
        #expect(hub.stop() == 0)
    }

    /// §8.3: a write is bounded by its frame, not by the 1 MiB read length: with 4 MiB frames, 2 MiB go in at once.
    @Test func regionWritesAreBoundedByTheFrameOnly() throws {
        let hub = try HubHarness { configuration in
            configuration.hub.limits.guestMaxFrameBytes = 4 << 20
            configuration.regions.append(
                RegionConfig(
                    name: "bulk", sizeBytes: 4 << 20, grants: [RegionGrant(partition: "rtos", access: .readWrite)]))
        }
        let rtos = try attach(hub, "rtos", tcp: true)
        let region = try #require(rtos.welcome.regions.first { $0.name == "bulk" })
        let pattern = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) }
        #expect(try rtos.writeRegion(region.id, offset: 1 << 20, bytes: pattern) == .ok)
        #expect(try rtos.readRegion(region.id, offset: 1 << 20, length: 1 << 20) == Array(pattern[..<(1 << 20)]))
        #expect(try rtos.readRegion(region.id, offset: 2 << 20, length: 1 << 20) == Array(pattern[(1 << 20)...]))
        // Past the end is still out of bounds.
        #expect(try rtos.writeRegion(region.id, offset: 3 << 20, bytes: pattern) == .outOfBounds)
        #expect(hub.stop() == 0)
    }

    /// `hub.limits` shows the bounds these tests rely on: the region read length and the loader's alias bound.
    @Test func hubLimitsShowTheRegionReadAndConfigLoaderBounds() throws {
        let hub = try HubHarness()
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let limits = try #require(try control.call("hub.limits")["result"])
        #expect(limits["guest"]?["maxRegionRead"] == 1_048_576)
        #expect(limits["config"]?["maxAliasNodes"] == 100_000)
        #expect(limits["config"]?["maxBytes"] == .int(Int64(PlatformConfiguration.maxYAMLBytes)))
        #expect(limits["config"]?["maxDepth"] == .int(Int64(PlatformConfiguration.maxYAMLDepth)))
        #expect(hub.stop() == 0)
    }

    /// §8.1: `REGION_READ` may ask for up to 1 MiB; one byte more is refused precisely (`ERROR too_large`).
    @Test func regionReadsUpToOneMebibyteAreAnswered() throws {
        let size: UInt64 = 2 << 20
        let hub = try HubHarness { configuration in
            configuration.regions.append(
                RegionConfig(
                    name: "bulk", sizeBytes: size,
                    grants: [
                        RegionGrant(partition: "rtos", access: .readWrite),
                        RegionGrant(partition: "linux", access: .readOnly),
                    ]))
        }
        let rtos = try attach(hub, "rtos", tcp: true)
        let linux = try attach(hub, "linux", tcp: true)
        let region = try #require(rtos.welcome.regions.first { $0.name == "bulk" })
        let pattern = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        #expect(try rtos.writeRegion(region.id, offset: 4096, bytes: pattern) == .ok)
        #expect(try linux.readRegion(region.id, offset: 4096, length: 65536) == Array(pattern[..<65536]))
        #expect(try linux.readRegion(region.id, offset: 4096, length: 65537) == Array(pattern[..<65537]))
        #expect(try linux.readRegion(region.id, offset: 4096, length: 1 << 20) == pattern)
        // The whole of the last mebibyte; a read that would pass the end is out of bounds.
        #expect(try linux.readRegion(region.id, offset: size - (1 << 20), length: 1 << 20).count == 1 << 20)
        #expect(throws: GuestClientError.rejected(code: .outOfBounds, reason: "outOfBounds")) {
            try linux.readRegion(region.id, offset: size - 4096, length: 4097)
        }
        let refusal = Result { () throws(GuestClientError) in
            try linux.readRegion(region.id, offset: 0, length: (1 << 20) + 1)
        }
        guard case .failure(.rejected(let code, let reason)) = refusal else {
            Issue.record("a read of 1 MiB + 1 was answered with \(refusal)")
            return
        }
        #expect(code == .tooLarge)
        #expect(reason.contains("1048577") && reason.contains("1048576"), "\(reason)")
        // The session goes on after the refusal.
        #expect(try linux.readRegion(region.id, offset: 4096, length: 3) == Array(pattern[..<3]))
        #expect(hub.stop() == 0)
    }

    /// §3.3: 512 pipelined `REGION_READ`s of 64 KiB (32 MiB of answers) in one write, none read. The hub stops
    /// handling them once the unsent answers pass the high watermark (256 KiB here) instead of building all of
    /// them in one pass; other guests are still served; once the guest reads, every answer arrives, in order.
    @Test func pipelinedRegionReadsAreAnsweredOnlyAsFastAsTheGuestReads() throws {
        let high = 256 << 10
        let length = 64 << 10
        let hub = try HubHarness { configuration in
            configuration.hub.limits.writeHighWatermarkBytes = high
            configuration.hub.limits.writeLowWatermarkBytes = 64 << 10
            configuration.regions.append(
                RegionConfig(
                    name: "bulk", sizeBytes: 1 << 20, grants: [RegionGrant(partition: "rtos", access: .readWrite)]))
        }
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let rtos = try attach(hub, "rtos", tcp: true)
        let secure = try attach(hub, "secure", tcp: true)
        let region = try #require(rtos.welcome.regions.first { $0.name == "bulk" })
        let pattern = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 9) }
        #expect(try rtos.writeRegion(region.id, offset: 0, bytes: pattern) == .ok)
        let count = 512
        let offsets = (0..<count).map { ($0 * 4096) % ((1 << 20) - length) }
        try rtos.sendFrames(
            offsets.enumerated().map { index, offset in
                GuestFrame(
                    .regionRead(region: region.id, offset: UInt64(offset), length: UInt32(length)),
                    requestId: UInt32(index + 1))
            })
        // What the hub holds for rtos, sampled while it does not read: about the watermark, never the 32 MiB.
        var most = 0
        for _ in 0..<10 {
            usleep(50_000)
            let session = try control.call("partition.get", ["name": "rtos"])["result"]?["session"]
            most = max(most, try #require(session?["unsentBytes"]?.intValue))
        }
        #expect(most > 0)
        #expect(most <= high + 2 * (length + 64), "\(most) bytes unsent")
        // Another guest is served meanwhile.
        try secure.heartbeat(stamp: 7)
        // Every answer, complete and in order.
        for (index, offset) in offsets.enumerated() {
            let frame = try #require(try rtos.receive(timeout: 30), "answer \(index + 1) missing")
            guard case .regionData(let id, let at, let bytes) = frame.message else {
                Issue.record("answer \(index + 1): \(frame.type)")
                break
            }
            #expect(frame.requestId == UInt32(index + 1) && id == region.id && at == UInt64(offset))
            #expect(Array(bytes) == Array(pattern[offset..<offset + length]), "answer \(index + 1)")
        }
        // The session goes on, reading again.
        try rtos.heartbeat(stamp: 8)
        #expect(hub.stop() == 0)
    }

    /// The next frame that answers `requestId`, skipping others (region descriptors, credit).
    private func answer(_ client: GuestClient, _ requestId: UInt32) throws -> GuestFrame? {
        while let frame = try client.receive(timeout: 5) {
            if case .regionFD = frame.message { continue }
            if frame.requestId == requestId { return frame }
        }
        return nil
    }

    private func sendRaw(_ client: GuestClient, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(client.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private func errorCode(_ frame: GuestFrame?) -> GuestErrorCode? {
        if case .error(let code, _)? = frame?.message { return code }
        return nil
    }

    /// §3.4, §11: an unknown type and a frame on a channel its type does not allow are answered on that channel.
    @Test func decodeErrorsAreAnsweredOnTheFramesChannel() throws {
        let hub = try HubHarness()
        let rtos = try attach(hub, "rtos", tcp: true)
        // Type 0x7777 on channel 5, request id 11.
        sendRaw(rtos, [0, 0, 0, 8, 0x77, 0x77, 0, 5, 0, 0, 0, 11])
        let unknown = try answer(rtos, 11)
        #expect(errorCode(unknown) == .unknownFrameType && unknown?.channel == 5)
        // RAISE on channel 7, request id 12.
        try rtos.sendFrame(GuestFrame(.raise(partition: "linux", line: 1), channel: 7, requestId: 12))
        let wrongChannel = try answer(rtos, 12)
        #expect(errorCode(wrongChannel) == .malformedFrame && wrongChannel?.channel == 7)
        // A short body has no header: channel 0, request id 0.
        sendRaw(rtos, [0, 0, 0, 3, 1, 1, 0])
        let short = try answer(rtos, 0)
        #expect(errorCode(short) == .malformedFrame && short?.channel == 0)
        #expect(try rtos.raise(partition: "linux", line: 1) == .latched)
        #expect(hub.stop() == 0)
    }

    /// §10.4: a `CHANNEL_CLOSE` code other than 0 or a §5.5 code is malformed; the channel stays open.
    @Test func channelCloseWithAnUndefinedCodeIsMalformed() throws {
        let hub = try HubHarness { configuration in
            let index = configuration.partitions.firstIndex { $0.name == "mgmt" }!
            configuration.partitions[index].mayManage = true
        }
        let mgmt = try attach(hub, "mgmt")
        try mgmt.openManagementRelay(channel: 3)
        for (code, requestId) in [(UInt16(99), UInt32(21)), (0xFFFF, 22)] {
            // Encoded by hand: the codec refuses to build what it would refuse to read.
            var body: [UInt8] = [
                0x05, 0x04, 0, 3, 0, 0, 0, UInt8(requestId), UInt8(code >> 8), UInt8(code & 0xFF), 0, 0,
            ]
            body = [0, 0, 0, UInt8(body.count)] + body
            sendRaw(mgmt, body)
            let refusal = try answer(mgmt, requestId)
            #expect(errorCode(refusal) == .malformedFrame && refusal?.channel == 3, "code \(code)")
        }
        // Still open: a defined code closes it.
        let close = try mgmt.request(.channelClose(code: GuestErrorCode.rateLimited.rawValue, reason: ""), channel: 3)
        #expect(close.message == .ok && close.channel == 3)
        #expect(hub.stop() == 0)
    }

    /// §6.4, §7.4: an EOI of a line not in service and an ack beyond the last delivered id are well-formed frames
    /// that do not fit the state: `unexpected_frame`, not `malformed_frame`.
    @Test func wellFormedFramesOutOfStateAreUnexpectedNotMalformed() throws {
        let hub = try HubHarness()
        let rtos = try attach(hub, "rtos", tcp: true)
        let link = try #require(rtos.welcome.links.first)
        try rtos.sendFrame(GuestFrame(.eoi(line: 2), requestId: 31))
        #expect(errorCode(try answer(rtos, 31)) == .unexpectedFrame)
        try rtos.sendFrame(GuestFrame(.msgAck(link: link.id, upTo: 5), requestId: 32))
        #expect(errorCode(try answer(rtos, 32)) == .unexpectedFrame)
        #expect(try rtos.raise(partition: "linux", line: 1) == .latched)
        #expect(hub.stop() == 0)
    }
}
