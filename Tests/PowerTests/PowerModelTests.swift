import PlatformConfig
import Power
import Testing

/// The power model driven by a manual clock (`Protocols/power.md` §3): the aggregation rule, wake-ups, wake
/// locks and the battery integrated over time.
@Suite struct PowerModelTests {
    static let ms: UInt64 = 1_000_000
    static let second: UInt64 = 1_000_000_000

    static func config(suspendAfterMs: Int = 1000) -> PowerConfig {
        var config = PowerConfig()
        config.suspendAfterMs = suspendAfterMs
        config.capacityMwh = 1000
        config.levelPercent = 50
        config.platformDraw = .init(on: 100, idle: 20, suspend: 2)
        config.defaultDraw = .init(active: 300, idle: 30, suspended: 3, off: 0)
        config.partitions = [.init(partition: "rtos", draw: .init(active: 50, idle: 5, suspended: 1, off: 0))]
        return config
    }

    static func model(_ config: PowerConfig = config()) -> PowerModel {
        PowerModel(config: config, partitions: ["rtos", "linux", "secure"], now: 0)
    }

    @Test func nothingAttachedIsSuspend() {
        #expect(Self.model().platformState == .suspend)
    }

    @Test func idlePartitionsReachSuspendAfterTheQuietTime() {
        var model = Self.model()
        _ = model.setAttached("rtos", true, now: 0)
        _ = model.setAttached("linux", true, now: 0)
        #expect(model.platformState == .on)
        _ = model.declare("rtos", .idle, now: 10 * Self.ms)
        #expect(model.platformState == .on, "linux is still active")
        let changes = model.declare("linux", .idle, now: 20 * Self.ms)
        #expect(changes == [.platform(from: .on, to: .idle)])
        #expect(model.suspendDeadline == 1020 * Self.ms)
        #expect(model.tick(now: 1019 * Self.ms).isEmpty)
        #expect(model.tick(now: 1020 * Self.ms) == [.platform(from: .idle, to: .suspend)])
        #expect(model.suspendDeadline == nil)
    }

    @Test func suspendedOrOffPartitionsSuspendAtOnce() {
        var model = Self.model()
        _ = model.setAttached("rtos", true, now: 0)
        #expect(model.declare("rtos", .suspended, now: 5) == [.platform(from: .on, to: .suspend)])
        _ = model.declare("rtos", .active, now: 6)
        #expect(model.setManagementSuspended("rtos", true, now: 7) == [.platform(from: .on, to: .suspend)])
        #expect(model.state(of: "rtos") == .suspended)
        #expect(model.declaredState(of: "rtos") == .active)
    }

    @Test func aWakeLockKeepsThePlatformOn() {
        var model = Self.model()
        _ = model.setAttached("rtos", true, now: 0)
        let (outcome, _) = model.setLock(holder: "rtos", name: "gps", held: true, maxLocks: 4, now: 0)
        #expect(outcome == .changed)
        _ = model.declare("rtos", .suspended, now: 1)
        #expect(model.platformState == .on)
        #expect(model.tick(now: 10 * Self.second).isEmpty)
        let (released, changes) = model.setLock(
            holder: "rtos", name: "gps", held: false, maxLocks: 4, now: 11 * Self.second)
        #expect(released == .changed)
        #expect(changes == [.platform(from: .on, to: .suspend)])
        // Releasing again, or taking one held already, changes nothing.
        #expect(
            model.setLock(holder: "rtos", name: "gps", held: false, maxLocks: 4, now: 12 * Self.second).0 == .unchanged)
    }

    @Test func aManagementSuspendedPartitionsLocksWaitWithIt() {
        var model = Self.model()
        _ = model.setAttached("linux", true, now: 0)
        _ = model.setLock(holder: "linux", name: "download", held: true, maxLocks: 4, now: 0)
        _ = model.declare("linux", .idle, now: 0)
        #expect(model.platformState == .on)
        #expect(model.setManagementSuspended("linux", true, now: 1) == [.platform(from: .on, to: .suspend)])
        #expect(model.lockCount == 1, "kept, not released")
        #expect(model.setManagementSuspended("linux", false, now: 2) == [.platform(from: .suspend, to: .on)])
    }

    @Test func wakeLocksAreBoundedPerPartitionAndGoWithTheSession() {
        var model = Self.model()
        _ = model.setAttached("linux", true, now: 0)
        #expect(model.setLock(holder: "linux", name: "a", held: true, maxLocks: 2, now: 0).0 == .changed)
        #expect(model.setLock(holder: "linux", name: "b", held: true, maxLocks: 2, now: 0).0 == .changed)
        #expect(model.setLock(holder: "linux", name: "c", held: true, maxLocks: 2, now: 0).0 == .limitReached)
        #expect(model.lockCount == 2)
        _ = model.setAttached("linux", false, now: 1)
        #expect(model.lockCount == 0)
        #expect(model.platformState == .suspend)
    }

    @Test func anInterruptWakesADeclaredIdlePartitionButNotAManagementSuspendedOne() {
        var model = Self.model()
        _ = model.setAttached("rtos", true, now: 0)
        _ = model.setAttached("linux", true, now: 0)
        _ = model.declare("rtos", .idle, now: 0)
        _ = model.declare("linux", .idle, now: 0)
        _ = model.tick(now: 2 * Self.second)
        #expect(model.platformState == .suspend)
        var changes: [PowerChange] = []
        #expect(model.wake("rtos", source: "irq", now: 3 * Self.second, changes: &changes))
        #expect(
            changes == [.woken(partition: "rtos", source: "irq", from: .idle), .platform(from: .suspend, to: .on)])
        #expect(model.state(of: "rtos") == .active)
        #expect(model.wakeups["irq"] == 1)
        // Already active: no wake.
        #expect(!model.wake("rtos", source: "irq", now: 3 * Self.second, changes: &changes))
        // Management suspension holds deliveries; an interrupt does not lift it.
        _ = model.setManagementSuspended("linux", true, now: 4 * Self.second)
        #expect(!model.wake("linux", source: "irq", now: 4 * Self.second, changes: &changes))
        #expect(model.state(of: "linux") == .suspended)
        #expect(model.wakeups["irq"] == 1)
    }

    /// The battery against the closed form: piecewise-constant draw integrated over model time, with a time
    /// scale, a charger and the clamp at empty.
    @Test func batteryFollowsTheModelWithinOnePercent() {
        var config = Self.config()
        config.timeScale = 60
        var model = Self.model(config)
        var expectedMwh = 500.0
        _ = model.setAttached("rtos", true, now: 0)
        _ = model.setAttached("linux", true, now: 0)
        // on: platform 100 + rtos 50 + linux 300 + secure off 0 = 450 mW, for 10 s real = 600 s model.
        _ = model.tick(now: 10 * Self.second)
        expectedMwh -= 450 * 600 / 3600
        #expect(abs(model.chargeMwh - expectedMwh) <= 0.01 * expectedMwh)
        #expect(abs(model.drawMw - 450) < 1e-9)
        // linux idle: platform idle... rtos is still active, so on: 100 + 50 + 30 = 180 mW for 5 s = 300 s.
        _ = model.declare("linux", .idle, now: 10 * Self.second)
        _ = model.tick(now: 15 * Self.second)
        expectedMwh -= 180 * 300 / 3600
        #expect(abs(model.chargeMwh - expectedMwh) <= 0.01 * expectedMwh)
        // Charging at 1000 mW: net +820 mW for 2 s = 120 s.
        model.setChargeMw(1000, now: 15 * Self.second)
        model.setCharging(true, now: 15 * Self.second)
        _ = model.tick(now: 17 * Self.second)
        expectedMwh += 820 * 120 / 3600
        #expect(abs(model.chargeMwh - expectedMwh) <= 0.01 * expectedMwh)
        #expect(abs(model.batteryPercent - expectedMwh / 10) <= 0.01 * expectedMwh / 10)
        #expect(abs(model.modelSeconds - 1020) < 1e-6)
        // Never below empty nor above full.
        model.setCharging(false, now: 17 * Self.second)
        _ = model.tick(now: 100_000 * Self.second)
        #expect(model.chargeMwh == 0)
        model.setCharging(true, now: 100_000 * Self.second)
        _ = model.tick(now: 200_000 * Self.second)
        #expect(model.chargeMwh == 1000)
    }

    @Test func timeInStateIsCountedAndTimeNeverRunsBackwards() {
        var model = Self.model()
        _ = model.setAttached("rtos", true, now: 0)
        _ = model.tick(now: 3 * Self.second)
        _ = model.declare("rtos", .off, now: 3 * Self.second)
        _ = model.tick(now: 5 * Self.second)
        let before = model.chargeMwh
        _ = model.tick(now: 4 * Self.second)
        #expect(model.chargeMwh == before)
        #expect(model.nanosInState[.on] == 3 * Self.second)
        #expect(model.nanosInState[.suspend] == 2 * Self.second)
    }
}
