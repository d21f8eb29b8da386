import GuestWire
import HubGuest
import PlatformConfig
import Testing

/// The hub's power wiring in process (`Protocols/power.md`): the `power` feature gate, `WAKE` written before the
/// interrupt that woke a partition, and suspend for priority reaching the target's `SUSPEND` with its reason.
@Suite struct PowerServerWiringTests {
    private static func hub() throws -> HubHarness {
        try HubHarness { configuration in
            let mgmt = configuration.partitions.firstIndex { $0.name == "mgmt" }!
            configuration.partitions[mgmt].maySuspend = ["linux"]
        }
    }

    private func attach(_ hub: HubHarness, _ partition: String, power: Bool = true) throws -> GuestClient {
        try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: partition, secret: "\(partition)-dev-secret",
            features: power ? [GuestProtocol.powerFeature] : [])
    }

    private func rejection(_ body: () throws -> Void) -> GuestErrorCode? {
        do {
            try body()
        } catch let error as GuestClientError {
            if case .rejected(let code, _) = error { return code }
        } catch {}
        return nil
    }

    @Test func powerFramesNeedTheFeature() throws {
        let hub = try Self.hub()
        let plain = try attach(hub, "rtos", power: false)
        #expect(rejection { _ = try plain.request(.powerState(.idle)) } == .unknownFrameType)
        #expect(rejection { _ = try plain.request(.wakeLock(held: true, name: "x")) } == .unknownFrameType)
        let aware = try attach(hub, "secure")
        #expect(try aware.request(.powerState(.idle)).message == .ok)
        // A frame that only the hub sends is refused from a guest.
        #expect(rejection { _ = try aware.request(.wake(source: "irq", line: 1, from: .idle)) } == .unexpectedFrame)
    }

    @Test func aWokenPartitionGetsWakeBeforeTheInterrupt() throws {
        let hub = try Self.hub()
        let rtos = try attach(hub, "rtos")
        let secure = try attach(hub, "secure")
        #expect(try rtos.request(.powerState(.idle)).message == .ok)
        #expect(try secure.raise(partition: "rtos", line: 2) == .delivered)
        // Frames up to the interrupt (region descriptors and credit came after WELCOME).
        var frames: [GuestFrame] = []
        while let frame = try rtos.receive(timeout: 5) {
            frames.append(frame)
            if frame.type == .irq { break }
        }
        let wakes = frames.filter { $0.type == .wake }
        #expect(wakes.map(\.message) == [.wake(source: "irq", line: 2, from: .idle)])
        #expect(frames.suffix(2).map(\.type) == [.wake, .irq], "WAKE right before its IRQ: \(frames.map(\.type))")
        // Active now: the next interrupt comes without WAKE.
        try rtos.eoi(line: 2)
        #expect(try secure.raise(partition: "rtos", line: 2) == .delivered)
        #expect(try rtos.receive(timeout: 5)?.type == .irq)
        guard case .powerInfo(let info) = try rtos.request(.powerQuery).message else {
            Issue.record("no POWER_INFO")
            return
        }
        #expect(info.partition == .active && info.platform == .on)
    }

    @Test func mgmtSuspendsWhatItsPolicyNamesWithTheReason() throws {
        let hub = try Self.hub()
        let mgmt = try attach(hub, "mgmt")
        let linux = try attach(hub, "linux")
        let done = try mgmt.request(.partitionControl(action: .suspend, partition: "linux", reason: "call"))
        #expect(done.message == .partitionControlResult(partition: "linux", action: .suspend, status: .done))
        var reason: String?
        while let event = try linux.nextEvent(timeout: 5) {
            if case .suspend(let text) = event {
                reason = text
                break
            }
        }
        #expect(reason == "mgmt: call")
        let refused = try mgmt.request(.partitionControl(action: .suspend, partition: "secure", reason: "no"))
        #expect(
            refused.message == .partitionControlResult(partition: "secure", action: .suspend, status: .notPermitted))
        let resumed = try mgmt.request(.partitionControl(action: .resume, partition: "linux", reason: "call ended"))
        #expect(resumed.message == .partitionControlResult(partition: "linux", action: .resume, status: .done))
    }

    /// The HubGuest helpers against the real hub: declare, lock, query, suspend for priority, and `WAKE` as a
    /// typed event right before the interrupt it announces.
    @Test func theGuestLibrarysPowerHelpersDriveTheHub() throws {
        let hub = try Self.hub()
        let rtos = try attach(hub, "rtos")
        let mgmt = try attach(hub, "mgmt")
        #expect(rtos.hubOffersPower)
        try rtos.declarePower(.idle)
        try mgmt.declarePower(.idle)
        try rtos.wakeLock("modem-rx")
        var info = try rtos.powerQuery()
        #expect(info.partition == .idle && info.platform == .on && info.locks == 1)
        try rtos.wakeLock("modem-rx", held: false)
        info = try rtos.powerQuery()
        #expect(info.locks == 0 && info.batteryCentiPercent <= 10000)
        #expect(try mgmt.partitionControl(.suspend, partition: "linux", reason: "call") == .done)
        #expect(try mgmt.partitionControl(.suspend, partition: "linux") == .unchanged)
        #expect(try mgmt.partitionControl(.suspend, partition: "secure") == .notPermitted)
        #expect(try mgmt.partitionControl(.suspend, partition: "mgmt") == .selfTarget)
        #expect(try mgmt.partitionControl(.resume, partition: "nobody") == .noSuchPartition)
        #expect(try mgmt.partitionControl(.resume, partition: "linux") == .done)
        #expect(try mgmt.raise(partition: "rtos", line: 2) == .delivered)
        var events: [GuestEvent] = []
        while let event = try rtos.nextEvent(timeout: 5) {
            if case .wake = event { events.append(event) }
            if case .irq = event {
                events.append(event)
                break
            }
        }
        #expect(events.first == .wake(source: "irq", line: 2, from: .idle))
        #expect(events.count == 2)
    }
}
