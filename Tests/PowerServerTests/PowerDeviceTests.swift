import ControlWire
import DeviceKit
import DeviceKitTesting
import GuestWire
import JSON
import PlatformConfig
import Power
import PowerServer
import Testing

/// The power device on a `FakeDeviceHost` (`Protocols/power.md`): guest frames, the wake before an
/// interrupt, suspend for priority through `partition.suspend`, calls holding the platform on.
@Suite struct PowerDeviceTests {
    final class Clock: @unchecked Sendable {
        var nanos: UInt64 = 0
    }

    struct Rig {
        let host: FakeDeviceHost
        let device: PowerDevice
        let clock: Clock
        /// `partition.suspend` / `partition.resume` calls the device made: (method, params).
        let managed: Box
    }

    final class Box: @unchecked Sendable {
        var calls: [(String, JSON?)] = []
        var changed = true
    }

    static func rig(_ edit: (inout PlatformConfiguration) -> Void = { _ in }) throws -> Rig {
        var configuration = PlatformConfiguration.reference
        configuration.partitions[3].maySuspend = ["linux"]
        configuration.power.suspendAfterMs = 100
        edit(&configuration)
        let host = try FakeDeviceHost(configuration: configuration)
        let clock = Clock()
        let device = PowerDevice(configuration: configuration) { clock.nanos }
        let box = Box()
        host.otherMethods = { name, params in
            guard name == "partition.suspend" || name == "partition.resume" else { return nil }
            box.calls.append((name, params))
            return ["changed": .bool(box.changed)]
        }
        try device.start(host: host)
        return Rig(host: host, device: device, clock: clock, managed: box)
    }

    func status(_ rig: Rig) -> JSON {
        guard case .result(let value) = FakeControlCaller().call(rig.host.methods, "power.status") else { return .null }
        return value
    }

    /// A reason that fills its text field is still a permitted request: "SENDER: REASON" is shortened to 1024
    /// bytes at a character boundary for `partition.suspend`, which refuses longer text.
    @Test func aFullLengthReasonIsShortenedNotRefused() throws {
        let rig = try Self.rig()
        defer { rig.device.stop(); _ = rig.host.shutdown() }
        let reason = String(repeating: "é", count: 512)  // 1024 bytes, two per character
        let done = rig.device.guestFrame(
            .partitionControl(action: .suspend, partition: "linux", reason: reason), from: "mgmt")
        #expect(
            done == .frame(.partitionControlResult(partition: "linux", action: .suspend, status: .done), always: true))
        let told = try #require(rig.managed.calls.first?.1?["reason"]?.stringValue)
        #expect(told.utf8.count <= 1024 && told.utf8.count >= 1022, "\(told.utf8.count) bytes")
        #expect(("mgmt: " + reason).hasPrefix(told))
    }

    @Test func mgmtSuspendsOnlyWhatItsPolicyNames() throws {
        let rig = try Self.rig()
        defer { rig.device.stop(); _ = rig.host.shutdown() }
        let done = rig.device.guestFrame(
            .partitionControl(action: .suspend, partition: "linux", reason: "call"), from: "mgmt")
        #expect(
            done == .frame(.partitionControlResult(partition: "linux", action: .suspend, status: .done), always: true))
        #expect(rig.managed.calls.count == 1)
        #expect(rig.managed.calls.first?.0 == "partition.suspend")
        #expect(rig.managed.calls.first?.1?["name"] == "linux")
        #expect(rig.managed.calls.first?.1?["reason"] == "mgmt: call")
        rig.managed.changed = false
        let again = rig.device.guestFrame(
            .partitionControl(action: .suspend, partition: "linux", reason: "x"), from: "mgmt")
        #expect(
            again
                == .frame(
                    .partitionControlResult(partition: "linux", action: .suspend, status: .unchanged), always: true))
        for (target, from, status) in [
            ("secure", "mgmt", GuestPartitionControlStatus.notPermitted), ("mgmt", "mgmt", .selfTarget),
            ("ghost", "mgmt", .noSuchPartition), ("linux", "rtos", .notPermitted),
        ] {
            let answer = rig.device.guestFrame(
                .partitionControl(action: .resume, partition: target, reason: "r"), from: from)
            #expect(
                answer
                    == .frame(.partitionControlResult(partition: target, action: .resume, status: status), always: true)
            )
        }
        // Refusals never reach partition.suspend / resume.
        #expect(rig.managed.calls.count == 2)
        let events = rig.host.events.filter { $0.kind == "power.partitionControl" }
        #expect(events.count == 6)
        #expect(events.first?.data["reason"] == "call")
        #expect(events.last?.data["status"] == "not_permitted")
        let counters = status(rig)["counters"]?["partitionControl"]
        #expect(counters?["not_permitted"] == .uint(2))
        #expect(counters?["done"] == .uint(1))
    }

    /// Every kind the device follows reaches the model, and others of the same lengths do not (`observe` looks at
    /// a kind's length before its text): attached, detached, suspended, resumed, as `power.status` shows them.
    @Test func followsEachPartitionEventKind() throws {
        let rig = try Self.rig()
        defer { rig.device.stop(); _ = rig.host.shutdown() }
        func state() -> JSON? { status(rig)["partitions"]?["rtos"]?["state"] }
        #expect(state() == "off")
        rig.device.observe("partition.attachex", partition: "rtos", device: nil, data: [:])
        #expect(state() == "off")
        rig.device.observe("partition.attached", partition: "rtos", device: nil, data: [:])
        #expect(state() == "active")
        rig.device.observe("partition.suspendex", partition: "rtos", device: nil, data: [:])
        #expect(state() == "active")
        rig.device.observe("partition.suspended", partition: "rtos", device: nil, data: [:])
        #expect(state() == "suspended")
        rig.device.observe("partition.resumex", partition: "rtos", device: nil, data: [:])
        #expect(state() == "suspended")
        rig.device.observe("partition.resumed", partition: "rtos", device: nil, data: [:])
        #expect(state() == "active")
        rig.device.observe("irq.raised", partition: "rtos", device: nil, data: [:])
        #expect(state() == "active")
        rig.device.observe("partition.detached", partition: "rtos", device: nil, data: [:])
        #expect(state() == "off")
    }

    @Test func anInterruptWakesADeclaredIdlePartitionFirst() throws {
        let rig = try Self.rig()
        defer { rig.device.stop(); _ = rig.host.shutdown() }
        rig.device.observe("partition.attached", partition: "rtos", device: nil, data: [:])
        #expect(rig.device.wakeBeforeInterrupt(partition: "rtos", line: 3) == nil, "active: nothing to wake")
        #expect(rig.device.guestFrame(.powerState(.idle), from: "rtos") == .ok)
        rig.clock.nanos = 200_000_000
        rig.device.update { model, now in model.tick(now: now) }
        #expect(status(rig)["platform"] == "suspend")
        #expect(
            rig.device.wakeBeforeInterrupt(partition: "rtos", line: 3) == .wake(source: "irq", line: 3, from: .idle))
        #expect(status(rig)["platform"] == "on")
        #expect(status(rig)["counters"]?["wakeups"]?["irq"] == .uint(1))
        #expect(rig.device.wakeBeforeInterrupt(partition: "rtos", line: 3) == nil)
        // A partition management suspended is not woken by its interrupts (they stay latched).
        #expect(rig.device.guestFrame(.powerState(.suspended), from: "rtos") == .ok)
        rig.device.observe("partition.suspended", partition: "rtos", device: nil, data: [:])
        #expect(rig.device.wakeBeforeInterrupt(partition: "rtos", line: 3) == nil)
        #expect(rig.host.events.contains { $0.kind == "power.wake" })
    }

    @Test func aCallHoldsThePlatformOnUntilItEnds() throws {
        let rig = try Self.rig()
        defer { rig.device.stop(); _ = rig.host.shutdown() }
        #expect(status(rig)["platform"] == "suspend")
        rig.device.observe("modem.call", partition: "rtos", device: "modem0", data: ["id": 1, "state": "incoming"])
        #expect(status(rig)["platform"] == "on")
        #expect(status(rig)["hubLocks"] == ["call:modem0"])
        rig.device.observe("modem.call", partition: "rtos", device: "modem0", data: ["id": 1, "state": "active"])
        rig.device.observe("modem.call", partition: "rtos", device: "modem0", data: ["id": 1, "ended": "local"])
        #expect(status(rig)["platform"] == "suspend")
        #expect(status(rig)["counters"]?["wakeups"]?["call"] == .uint(1))
    }

    /// A wait for one state is answered only when the platform reaches that state, not at every change.
    @Test func powerWaitAnswersOnlyItsState() throws {
        let rig = try Self.rig()
        defer { rig.device.stop(); _ = rig.host.shutdown() }
        rig.device.observe("partition.attached", partition: "rtos", device: nil, data: [:])
        let caller = FakeControlCaller()
        guard
            case .deferred = caller.call(rig.host.methods, "power.wait", ["platform": "suspend", "timeoutMs": 10_000])
        else {
            Issue.record("answered at once while on")
            return
        }
        #expect(rig.device.guestFrame(.powerState(.idle), from: "rtos") == .ok)
        #expect(status(rig)["platform"] == "idle")
        #expect(caller.answers.isEmpty, "answered on the change to idle: \(caller.answers)")
        rig.clock.nanos = 200_000_000
        rig.device.update { model, now in model.tick(now: now) }
        #expect(caller.answers.count == 1)
        guard case .result(let answer)? = caller.answers.first?.outcome else {
            Issue.record("no result: \(caller.answers)")
            return
        }
        #expect(answer["platform"] == "suspend")
    }

    @Test func wakeLocksPastTheLimitAreRefusedAndCounted() throws {
        let rig = try Self.rig { $0.hub.limits.powerMaxWakeLocks = 1 }
        defer { rig.device.stop(); _ = rig.host.shutdown() }
        rig.device.observe("partition.attached", partition: "rtos", device: nil, data: [:])
        #expect(rig.device.guestFrame(.wakeLock(held: true, name: "a"), from: "rtos") == .ok)
        guard case .error(let code, _) = rig.device.guestFrame(.wakeLock(held: true, name: "b"), from: "rtos") else {
            Issue.record("second lock accepted")
            return
        }
        #expect(code == .limitReached)
        #expect(status(rig)["counters"]?["lockRefusals"] == .uint(1))
        rig.device.partitionDetached("rtos")
        #expect(status(rig)["partitions"]?["rtos"]?["locks"] == [])
    }

    @Test func powerSetRefusesValuesOutsideTheirRanges() throws {
        let rig = try Self.rig()
        defer { rig.device.stop(); _ = rig.host.shutdown() }
        let caller = FakeControlCaller()
        for params: JSON in [
            ["levelPercent": 101], ["levelPercent": -1], ["timeScale": 0], ["chargeMw": 1e12], ["x": 1],
        ] {
            guard case .error = caller.call(rig.host.methods, "power.set", params) else {
                Issue.record("power.set accepted \(params.serialized())")
                continue
            }
        }
        guard
            case .result(let answer) = caller.call(
                rig.host.methods, "power.set", ["levelPercent": 25, "charging": true])
        else {
            Issue.record("power.set refused")
            return
        }
        #expect(answer["battery"]?["levelPercent"] == .double(25))
        #expect(answer["battery"]?["charging"] == true)
    }
}
