import PlatformConfig

/// A partition's power state as the hub counts it (`Protocols/power.md` §3): what its guest declared with
/// `POWER_STATE`, overridden by what the hub knows better (a partition with no guest attached is `off`, one
/// that management suspended is `suspended`).
package enum PartitionPowerState: String, Sendable, CaseIterable {
    case active, idle, suspended, off
}

/// The one platform state the hub derives from every partition (`Protocols/power.md` §3.2).
package enum PlatformPowerState: String, Sendable, CaseIterable {
    case on, idle, suspend
}

/// The virtualised power model: partitions' declared states and wake locks, the aggregate platform state,
/// the battery integrated over time, the time spent in each state and the wake-ups by source.
///
/// Pure: every operation takes the time (`now`, nanoseconds of a monotonic clock the caller owns), so tests
/// drive it with a manual clock. The battery is integrated exactly between calls: the draw is constant
/// between two changes of state, so each call first integrates up to `now` with the draw in force, then
/// applies its change.
package struct PowerModel: Sendable {
    package private(set) var config: PowerConfig
    /// What each attached partition's guest declared; absent = never declared (counts as `active`).
    package private(set) var declared: [String: PartitionPowerState] = [:]
    private var attached: Set<String> = []
    private var managementSuspended: Set<String> = []
    /// Wake locks by holder: a partition's name, or `hub` for the hub's own (a call in progress).
    package private(set) var locks: [String: Set<String>] = [:]
    /// Battery charge, mWh.
    package private(set) var chargeMwh: Double
    package private(set) var charging: Bool
    package private(set) var chargeMw: Double
    package private(set) var timeScale: Double
    package private(set) var platformState: PlatformPowerState = .on
    /// When the platform last became `idle` (the `suspendAfterMs` clock starts there).
    private var idleSince: UInt64?
    private var lastNanos: UInt64
    /// Model (scaled) seconds integrated so far: what the battery has lived through.
    package private(set) var modelSeconds: Double = 0
    /// Real nanoseconds spent in each platform state.
    package private(set) var nanosInState: [PlatformPowerState: UInt64] = [:]
    /// Wake-ups by source (`irq`, `call`, `control`...), counted when a wake changed a partition's state or the
    /// platform's.
    package private(set) var wakeups: [String: UInt64] = [:]
    package private(set) var stateChanges: UInt64 = 0

    /// The hub's own wake-lock holder name.
    package static let hubHolder = "hub"

    /// `partitions`: every configured partition (each draws in the state it counts as, `off` included).
    package init(config: PowerConfig, partitions: [String], now: UInt64) {
        self.config = config
        self.partitionNames = partitions
        self.chargeMwh = config.capacityMwh * config.levelPercent / 100
        self.charging = config.charging
        self.chargeMw = config.chargeMw
        self.timeScale = config.timeScale
        self.lastNanos = now
        self.platformState = .suspend
    }

    // MARK: Partition states

    /// The state the hub counts for `partition` (§3.1).
    package func state(of partition: String) -> PartitionPowerState {
        guard attached.contains(partition) else { return .off }
        if managementSuspended.contains(partition) { return .suspended }
        return declared[partition] ?? .active
    }

    /// What the guest declared, `active` when it never did.
    package func declaredState(of partition: String) -> PartitionPowerState { declared[partition] ?? .active }

    package var batteryPercent: Double { config.capacityMwh > 0 ? chargeMwh / config.capacityMwh * 100 : 0 }

    /// A guest attached (`active` until it declares otherwise) or detached (`off`; its declaration and wake locks
    /// go with its session).
    package mutating func setAttached(_ partition: String, _ isAttached: Bool, now: UInt64) -> [PowerChange] {
        advance(to: now)
        if isAttached {
            attached.insert(partition)
        } else {
            attached.remove(partition)
            declared[partition] = nil
            locks[partition] = nil
        }
        return settle(now: now)
    }

    /// Management suspended or resumed the partition (`partition.suspend`, `PARTITION_CONTROL`).
    package mutating func setManagementSuspended(_ partition: String, _ suspended: Bool, now: UInt64) -> [PowerChange] {
        advance(to: now)
        if suspended { managementSuspended.insert(partition) } else { managementSuspended.remove(partition) }
        return settle(now: now)
    }

    /// `POWER_STATE` from the partition's guest.
    package mutating func declare(_ partition: String, _ state: PartitionPowerState, now: UInt64) -> [PowerChange] {
        advance(to: now)
        declared[partition] = state
        return settle(now: now)
    }

    /// An interrupt (or another wake source) is about to reach `partition`: when its guest declared `idle` or
    /// `suspended`, it is `active` from now on and the caller tells the guest (`WAKE`) before delivering
    /// (§3.3). A partition management suspended is not woken: its interrupts stay latched until it is resumed.
    /// Returns whether the partition was woken.
    package mutating func wake(_ partition: String, source: String, now: UInt64, changes: inout [PowerChange]) -> Bool {
        guard attached.contains(partition), !managementSuspended.contains(partition) else { return false }
        let current = declared[partition] ?? .active
        guard current == .idle || current == .suspended else { return false }
        advance(to: now)
        declared[partition] = .active
        wakeups[source, default: 0] += 1
        changes.append(.woken(partition: partition, source: source, from: current))
        changes += settle(now: now)
        return true
    }

    // MARK: Wake locks

    /// Takes or releases the wake lock `name` of `holder`. Taking one held already, or releasing one not held,
    /// changes nothing and is not an error (`Protocols/power.md` §4).
    package mutating func setLock(
        holder: String, name: String, held: Bool, maxLocks: Int, now: UInt64
    ) -> (LockOutcome, [PowerChange]) {
        advance(to: now)
        var set = locks[holder] ?? []
        if held {
            guard !set.contains(name) else { return (.unchanged, []) }
            guard set.count < maxLocks || holder == Self.hubHolder else { return (.limitReached, []) }
            set.insert(name)
        } else {
            guard set.remove(name) != nil else { return (.unchanged, []) }
        }
        locks[holder] = set.isEmpty ? nil : set
        return (.changed, settle(now: now))
    }

    /// A wake-up of the platform from outside the partitions (an incoming call): counted, and the caller holds
    /// a hub wake lock for as long as the cause lasts.
    package mutating func countPlatformWake(source: String) { wakeups[source, default: 0] += 1 }

    package var lockCount: Int { locks.values.reduce(0) { $0 + $1.count } }

    /// Locks that keep the platform on: those of partitions management has not suspended (a suspended
    /// partition cannot run, so its claims wait with it, `Protocols/power.md` §4.2), and the hub's own.
    package var effectiveLockCount: Int {
        locks.reduce(0) { total, entry in managementSuspended.contains(entry.key) ? total : total + entry.value.count }
    }

    // MARK: Battery and settings

    /// The battery level now, percent (`power.set`).
    package mutating func setLevel(percent: Double, now: UInt64) {
        advance(to: now)
        chargeMwh = config.capacityMwh * percent / 100
    }

    package mutating func setCharging(_ on: Bool, now: UInt64) {
        advance(to: now)
        charging = on
    }

    package mutating func setChargeMw(_ value: Double, now: UInt64) {
        advance(to: now)
        chargeMw = value
    }

    package mutating func setTimeScale(_ value: Double, now: UInt64) {
        advance(to: now)
        timeScale = value
    }

    /// What the platform draws now, mW: every partition in the state it counts as, plus the platform itself.
    package var drawMw: Double {
        var total = platformDraw(platformState)
        for name in partitionNames {
            let draw = config.draw(of: name)
            switch state(of: name) {
            case .active: total += draw.active
            case .idle: total += draw.idle
            case .suspended: total += draw.suspended
            case .off: total += draw.off
            }
        }
        return total
    }

    /// The net flow into the battery now, mW (negative while discharging).
    package var netMw: Double { (charging ? chargeMw : 0) - drawMw }

    private func platformDraw(_ state: PlatformPowerState) -> Double {
        switch state {
        case .on: return config.platformDraw.on
        case .idle: return config.platformDraw.idle
        case .suspend: return config.platformDraw.suspend
        }
    }

    /// The partitions whose draw counts: every configured one.
    package let partitionNames: [String]

    /// Integrates the battery from the last call to `now` with the draw in force, and counts the time in the
    /// platform state. Time never runs backwards: an earlier `now` integrates nothing.
    package mutating func advance(to now: UInt64) {
        guard now > lastNanos else { return }
        let elapsed = now - lastNanos
        lastNanos = now
        nanosInState[platformState, default: 0] += elapsed
        let seconds = Double(elapsed) / 1e9 * timeScale
        modelSeconds += seconds
        let energy = netMw * seconds / 3600
        chargeMwh = min(max(chargeMwh + energy, 0), config.capacityMwh)
    }

    // MARK: Aggregation

    /// When the platform, `idle` now, becomes `suspend` unless something changes first (`suspendAfterMs`);
    /// nil when no such change is due. The caller arms a timer and calls `tick`.
    package var suspendDeadline: UInt64? {
        guard platformState == .idle, let idleSince else { return nil }
        // Overflow-safe: suspendAfterMs is at most an hour.
        return idleSince + UInt64(config.suspendAfterMs) * 1_000_000
    }

    /// Re-evaluates the platform state at `now` (the `suspendAfterMs` timer).
    package mutating func tick(now: UInt64) -> [PowerChange] {
        advance(to: now)
        return settle(now: now)
    }

    /// The aggregation rule (`Protocols/power.md` §3.2): `on` while any partition counts as `active` or any wake
    /// lock is held; otherwise `suspend` at once when every partition is `suspended` or `off`; otherwise (some
    /// are `idle`) `idle`, and `suspend` once the platform has been quiet (nothing active, no lock) for
    /// `suspendAfterMs`.
    package func aggregate(now: UInt64) -> PlatformPowerState {
        if effectiveLockCount > 0 { return .on }
        var anyIdle = false
        for name in attached {
            switch state(of: name) {
            case .active: return .on
            case .idle: anyIdle = true
            case .suspended, .off: break
            }
        }
        guard anyIdle else { return .suspend }
        let quietFor = now &- (idleSince ?? now)
        return quietFor >= UInt64(config.suspendAfterMs) * 1_000_000 ? .suspend : .idle
    }

    private mutating func settle(now: UInt64) -> [PowerChange] {
        // The quiet clock starts when the platform stops being `on` and runs until it is `on` again.
        if effectiveLockCount == 0, !attached.contains(where: { state(of: $0) == .active }) {
            if idleSince == nil { idleSince = now }
        } else {
            idleSince = nil
        }
        let next = aggregate(now: now)
        guard next != platformState else { return [] }
        let previous = platformState
        platformState = next
        stateChanges += 1
        return [.platform(from: previous, to: next)]
    }
}

/// What changed, for events (`power.stateChanged`, `power.wake`).
package enum PowerChange: Sendable, Equatable {
    case platform(from: PlatformPowerState, to: PlatformPowerState)
    case woken(partition: String, source: String, from: PartitionPowerState)
}

/// The result of taking or releasing a wake lock.
package enum LockOutcome: Sendable, Equatable {
    case changed, unchanged, limitReached
}
