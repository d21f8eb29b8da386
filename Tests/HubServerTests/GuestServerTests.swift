import EventLoop
import Glibc
import GuestWire
import HubGuest
import JSON
import TestSupport
import Testing

@Suite struct GuestServerTests {
    private func attach(_ hub: HubHarness, _ partition: String, tcp: Bool = false, resume: [UInt8]? = nil) throws
        -> GuestClient
    {
        let endpoint = tcp ? "tcp:127.0.0.1:\(hub.guestTCPPort)" : "unix:\(hub.guestUnix)"
        return try GuestClient.connect(
            endpoint: endpoint, partition: partition, secret: "\(partition)-dev-secret", resumeToken: resume)
    }

    private func nextIRQ(_ client: GuestClient) throws -> UInt16? {
        while let event = try client.nextEvent(timeout: 5) {
            if case .irq(let line, _, _) = event { return line }
        }
        return nil
    }

    /// Raise outcomes (`Protocols/guest.md` §6.2): delivered, not permitted, and latched-then-delivered on attach.
    @Test func crossInterruptsFollowThePolicyAndLatch() throws {
        let hub = try HubHarness()
        let rtos = try attach(hub, "rtos")
        let linux = try attach(hub, "linux", tcp: true)
        let mgmt = try attach(hub, "mgmt")
        #expect(try rtos.raise(partition: "linux", line: 3) == .delivered)
        #expect(try nextIRQ(linux) == 3)
        try linux.eoi(line: 3)
        #expect(try linux.raise(partition: "secure", line: 1) == .notPermitted)
        #expect(try linux.raise(partition: "nobody", line: 1) == .noSuchPartition)
        #expect(try rtos.raise(partition: "linux", line: 999) == .noSuchLine)
        // secure is not attached yet: the raise latches and arrives when it attaches.
        #expect(try rtos.raise(partition: "secure", line: 5) == .latched)
        let secure = try attach(hub, "secure", tcp: true)
        #expect(try nextIRQ(secure) == 5)
        _ = mgmt
        // The control API sees the sessions and counters.
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let linuxInfo = try control.call("partition.get", ["name": "linux"])
        #expect(linuxInfo["result"]?["state"] == "running")
        #expect(linuxInfo["result"]?["counters"]?["irqDelivered"] == 1)
        #expect(hub.stop() == 0)
    }

    /// A handler's EOI and its raise on the peer in one write (`eoiAndRaise`, §6.4 then §6.2) are both carried
    /// out: the peer gets its interrupt, and a raise that arrived during service is delivered again after the EOI.
    @Test func anEOIAndARaiseInOneWriteAreBothCarriedOut() throws {
        let hub = try HubHarness()
        let rtos = try attach(hub, "rtos")
        let secure = try attach(hub, "secure", tcp: true)
        #expect(try rtos.raise(partition: "secure", line: 2) == .delivered)
        #expect(try nextIRQ(secure) == 2)
        _ = try rtos.raise(partition: "secure", line: 2)  // during service: pending until the EOI
        #expect(try secure.nextEvent(timeout: 0.1) == nil)
        try secure.eoiAndRaise(line: 2, partition: "rtos", raising: 2)
        #expect(try nextIRQ(rtos) == 2)
        #expect(try nextIRQ(secure) == 2)
        #expect(hub.stop() == 0)
    }

    /// TIMER_SET values the codec accepts but the operation does not (guest.md §6.7) are `invalid_argument`
    /// naming the bound, not `malformed_frame`; the session goes on and a valid timer still fires.
    @Test func timerValuesOutOfRangeAreInvalidArgumentsNamingTheBound() throws {
        let hub = try HubHarness()
        let linux = try attach(hub, "linux")
        #expect(
            throws: GuestClientError.rejected(code: .invalidArgument, reason: "period_us 10 is below the minimum of 50")
        ) {
            try linux.setTimer(line: 6, firstDelayMicros: 100, periodMicros: 10)
        }
        #expect(
            throws: GuestClientError.rejected(
                code: .invalidArgument,
                reason: "first_delay_us and period_us must keep the timer within the hub's clock (2^64 ns)")
        ) { try linux.setTimer(line: 6, firstDelayMicros: 1 << 63) }
        try linux.setTimer(line: 6, firstDelayMicros: 1000)
        #expect(try nextIRQ(linux) == 6)
        #expect(hub.stop() == 0)
    }

    @Test func handshakeFailuresAreRefusedPrecisely() throws {
        let hub = try HubHarness()
        #expect(throws: GuestClientError.self) {
            _ = try GuestClient.connect(endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "wrong")
        }
        do {
            _ = try GuestClient.connect(endpoint: "unix:\(hub.guestUnix)", partition: "baseband", secret: "x")
            Issue.record("unknown partition attached")
        } catch let error {
            #expect("\(error)".contains("baseband"))
        }
        let first = try attach(hub, "rtos")
        do {
            _ = try attach(hub, "rtos")
            Issue.record("second attach accepted without take-over")
        } catch let error {
            #expect("\(error)".contains("already"))
        }
        _ = first
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        #expect(try control.call("guest.stats")["result"]?["authFailures"] == 1)
        #expect(hub.stop() == 0)
    }

    @Test func handshakeTimeoutClosesASilentConnection() throws {
        let hub = try HubHarness { $0.hub.handshakeTimeoutMs = 200 }
        let silent = try LineClient(unixPath: hub.guestUnix)
        // The ERROR timeout frame arrives, then the close.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(silent.fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        var decoder = GuestFrameDecoder()
        let frames = try decoder.feed(bytes)
        guard case .success(let frame) = frames.first, case .error(let code, _) = frame.message else {
            Issue.record("expected an ERROR frame, got \(frames)")
            return
        }
        #expect(code == .timeout)
        #expect(hub.stop() == 0)
    }

    @Test func malformedFramesGetErrorsAndTheSessionContinues() throws {
        let hub = try HubHarness()
        let rtos = try attach(hub, "rtos")
        // An unknown frame type from a "newer" client: ERROR unknown_frame_type, session stays.
        var body: [UInt8] = [0x7f, 0x01, 0, 0, 0, 0, 0, 9]
        body += [1, 2, 3]
        let raw = [UInt8(0), 0, 0, UInt8(body.count)] + body
        _ = raw.withUnsafeBytes { send(rtos.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var sawError = false
        while let event = try rtos.nextEvent(timeout: 5) {
            if case .error(let code, _, let request) = event {
                #expect(code == .unknownFrameType)
                #expect(request == 9)
                sawError = true
                break
            }
        }
        #expect(sawError)
        #expect(try rtos.raise(partition: "linux", line: 1) == .latched)
        #expect(hub.stop() == 0)
    }

    @Test func regionsEnforceGrants() throws {
        let hub = try HubHarness()
        let rtos = try attach(hub, "rtos", tcp: true)
        let linux = try attach(hub, "linux", tcp: true)
        let region = try #require(rtos.welcome.regions.first { $0.name == "shared-status" })
        #expect(try rtos.writeRegion(region.id, offset: 0, bytes: Array("hello".utf8)) == .ok)
        #expect(try linux.readRegion(region.id, offset: 0, length: 5) == Array("hello".utf8))
        #expect(try linux.writeRegion(region.id, offset: 0, bytes: [1]) == .outOfGrant)
        #expect(try rtos.writeRegion(region.id, offset: region.size, bytes: [1]) == .outOfBounds)
        #expect(hub.stop() == 0)
    }
}

@Suite struct GuestChannelTests {
    @Test func openingAChannelToAnUnknownDeviceIsRefusedOnThatChannel() throws {
        let hub = try HubHarness()
        let rtos = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret")
        do {
            _ = try rtos.openChannel(5, device: "no-such-device")
            Issue.record("channel to an unknown device opened")
        } catch let error {
            #expect("\(error)".contains("no_such_device") || "\(error)".contains("noSuchDevice"), "\(error)")
        }
        // Data on a channel that is not open gets an error and the session goes on.
        try rtos.sendChannelData(9, [1, 2, 3])
        #expect(try rtos.raise(partition: "linux", line: 2) == .latched)
        #expect(hub.stop() == 0)
    }
}

/// The batch paths end to end: `sendMessages` (many MSG_SENDs in one write), the hub's batched deliveries, and
/// `receiveMessages` (MSG_DELIVER read in place) — every message once, in order, with its sender and payload,
/// while other frames (credit) still reach `nextEvent`.
@Suite struct BatchMessagingTests {
    /// rtos (real-time, read whole) sends to linux; then linux (fair-share, read one slice per pass) sends to rtos.
    @Test(arguments: [true, false]) func batchedSendsArriveInOrderThroughTheInPlaceReader(realTimeSender: Bool)
        throws
    {
        let hub = try HubHarness()
        let realTime = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret")
        let fairShare = try GuestClient.connect(
            endpoint: "tcp:127.0.0.1:\(hub.guestTCPPort)", partition: "linux", secret: "linux-dev-secret")
        let (rtos, linux) = realTimeSender ? (realTime, fairShare) : (fairShare, realTime)
        let link = try #require(rtos.welcome.links.first { $0.name == "rtos-linux" })
        let total = 40 * Int(link.initialCredit)
        var sent = 0
        var credit = Int(link.initialCredit)
        var received: [(UInt64, String, [UInt8])] = []
        var lastAcked: UInt64 = 0
        let deadline = MonotonicClock.nanoseconds() + 10_000_000_000
        while received.count < total && MonotonicClock.nanoseconds() < deadline {
            if credit > 0 && sent < total {
                let count = min(credit, total - sent)
                let payloads = (sent..<sent + count).map { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)][...] }
                try rtos.sendMessages(link: link.id, payloads: payloads)
                sent += count
                credit -= count
            }
            _ = try linux.receiveMessages(timeout: 0.05) { delivery in
                received.append((delivery.messageId, delivery.sender, Array(delivery.payload)))
            }
            if let last = received.last?.0, last > lastAcked {
                try linux.ack(link: link.id, upTo: last)
                lastAcked = last
            }
            // Credit comes back as ordinary frames.
            while let event = try rtos.nextEvent(timeout: 0) {
                if case .credit(let id, let more) = event, id == link.id { credit += Int(more) }
            }
        }
        #expect(received.count == total)
        #expect(received.map(\.0) == (1...UInt64(total)).map { $0 })
        #expect(received.allSatisfy { $0.1 == (realTimeSender ? "rtos" : "linux") })
        #expect(
            received.enumerated().allSatisfy { index, message in
                message.2 == [UInt8(truncatingIfNeeded: index), UInt8(index >> 8)]
            })
        #expect(hub.stop() == 0)
    }
}

extension BatchMessagingTests {
    /// A guest that writes its messages and DETACH and hangs up at once loses nothing it wrote, even when the hub
    /// reads it one slice per pass (fair-share) and its writes to the gone guest fail meanwhile.
    @Test(arguments: ["linux", "rtos"]) func whatAGuestWroteBeforeHangingUpIsAllQueued(sender: String) throws {
        let hub = try HubHarness { configuration in
            for index in configuration.links.indices { configuration.links[index].depth = 4096 }
        }
        let receiverName = sender == "rtos" ? "linux" : "rtos"
        let writer = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: sender, secret: "\(sender)-dev-secret")
        let link = try #require(writer.welcome.links.first { $0.name == "rtos-linux" })
        let total = Int(link.initialCredit)
        for start in stride(from: 0, to: total, by: 256) {
            try writer.sendMessages(
                link: link.id,
                payloads: Array(repeating: [UInt8](repeating: 7, count: 64)[...], count: min(256, total - start)))
        }
        try writer.detach(reason: "done")
        let receiver = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: receiverName, secret: "\(receiverName)-dev-secret")
        var received = 0
        let deadline = MonotonicClock.nanoseconds() + 10_000_000_000
        while received < total && MonotonicClock.nanoseconds() < deadline {
            received += try receiver.receiveMessages(timeout: 0.1) { _ in }
        }
        #expect(received == total)
        #expect(hub.stop() == 0)
    }
}

extension BatchMessagingTests {
    /// As above while the receiver acknowledges as it goes: the hub keeps writing credit to the writer, and those
    /// writes fail once it has hung up. A failed write used to close the session at once, dropping what the
    /// writer had sent but the hub (reading a fair-share guest one slice per pass) had not read yet.
    @Test func creditWrittenToAGuestThatHungUpDoesNotDropItsLastMessages() throws {
        let hub = try HubHarness { configuration in
            for index in configuration.links.indices { configuration.links[index].depth = 4096 }
        }
        let total = 40_000
        let receiver = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret")
        let writer = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "linux", secret: "linux-dev-secret")
        let link = try #require(writer.welcome.links.first { $0.name == "rtos-linux" })
        // SAFETY: the receiver is used only by the thread it is handed to, from here on.
        final class Handoff: @unchecked Sendable {
            let client: GuestClient
            init(_ client: GuestClient) { self.client = client }
        }
        let handoff = Handoff(receiver)
        let received = Locked(0)
        let done = Locked(false)
        spawnThread {
            let receiver = handoff.client
            var count = 0
            var last: UInt64 = 0
            let deadline = MonotonicClock.nanoseconds() + 20_000_000_000
            while count < total && MonotonicClock.nanoseconds() < deadline {
                count += (try? receiver.receiveMessages(timeout: 0.1) { last = $0.messageId }) ?? 0
                if last > 0 { try? receiver.ack(link: link.id, upTo: last) }
            }
            received.withLock { $0 = count }
            done.withLock { $0 = true }
        }
        var credit = Int(link.initialCredit)
        var sent = 0
        let payload = [UInt8](repeating: 9, count: 64)[...]
        while sent < total {
            if credit > 0 {
                let count = min(credit, total - sent, 256)
                try writer.sendMessages(link: link.id, payloads: Array(repeating: payload, count: count))
                sent += count
                credit -= count
            } else if case .credit(_, let more)? = try writer.nextEvent(timeout: 5) {
                credit += Int(more)
            }
        }
        try writer.detach(reason: "done")
        while !done.withLock({ $0 }) { usleep(10_000) }
        #expect(received.withLock { $0 } == total)
        #expect(hub.stop() == 0)
    }
}
