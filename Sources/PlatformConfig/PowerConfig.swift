/// The virtualised power model (`power` in the configuration, `Deploy/config-reference.md` §power;
/// `Protocols/power.md`): what each partition draws in each declared state, what the platform itself draws in
/// each aggregate state, the battery, and how long the platform stays `idle` before it counts as `suspend`.
///
/// Powers are milliwatts, energy milliwatt-hours; they are `Double` because a model integrates them over time,
/// and every value is checked here (finite, not negative, within a bound) so the model never sees NaN.
package struct PowerConfig: Sendable, Equatable {
    /// Draw of one partition in each state it may declare (`Protocols/power.md` §2).
    package struct StateDraw: Sendable, Equatable {
        package var active: Double
        package var idle: Double
        package var suspended: Double
        package var off: Double

        package init(active: Double, idle: Double, suspended: Double, off: Double) {
            self.active = active
            self.idle = idle
            self.suspended = suspended
            self.off = off
        }

        /// The fields as (key, value), in the order the configuration writes them.
        package var fields: [(key: String, value: Double)] {
            [("active", active), ("idle", idle), ("suspended", suspended), ("off", off)]
        }
    }

    /// What the platform itself (CPU, memory, radio idle) draws in each aggregate state.
    package struct PlatformDraw: Sendable, Equatable {
        package var on: Double
        package var idle: Double
        package var suspend: Double

        package init(on: Double, idle: Double, suspend: Double) {
            self.on = on
            self.idle = idle
            self.suspend = suspend
        }

        package var fields: [(key: String, value: Double)] { [("on", on), ("idle", idle), ("suspend", suspend)] }
    }

    /// One partition's own draw, replacing `defaultDraw` for it.
    package struct PartitionDraw: Sendable, Equatable {
        package var partition: String
        package var draw: StateDraw

        package init(partition: String, draw: StateDraw) {
            self.partition = partition
            self.draw = draw
        }
    }

    /// Battery capacity, mWh (> 0).
    package var capacityMwh: Double = 15_000
    /// Battery level at start, percent of capacity.
    package var levelPercent: Double = 100
    /// What the charger supplies while `charging`, mW.
    package var chargeMw: Double = 5_000
    /// Whether the charger is connected at start.
    package var charging = false
    /// The platform is `idle` for this long (no partition active, no wake lock) before it counts as `suspend`.
    package var suspendAfterMs = 1_000
    /// Model seconds per real second: 1 is real time; tests and demonstrations speed the battery up.
    package var timeScale: Double = 1
    package var platformDraw = PlatformDraw(on: 200, idle: 40, suspend: 4)
    package var defaultDraw = StateDraw(active: 300, idle: 30, suspended: 3, off: 0)
    package var partitions: [PartitionDraw] = []

    /// Bounds the configuration (and `power.set`) must respect; past them a value is a typo, not a handset.
    package static let maxPowerMw: Double = 1_000_000
    package static let maxCapacityMwh: Double = 10_000_000
    package static let minCapacityMwh: Double = 1
    package static let timeScaleRange: ClosedRange<Double> = 0.001...1_000_000
    package static let suspendAfterRange = 0...3_600_000

    package init() {}

    /// The draw of `partition` (its own entry, or `defaultDraw`).
    package func draw(of partition: String) -> StateDraw {
        partitions.first { $0.partition == partition }?.draw ?? defaultDraw
    }

    /// Checks every value; each issue names the path of the offending key.
    package func validationIssues(partitionNames: Set<String>) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        func add(_ path: String, _ reason: String) { issues.append(ConfigIssue(path: path, reason: reason)) }
        if let reason = Self.check(capacityMwh, in: Self.minCapacityMwh...Self.maxCapacityMwh) {
            add("power.battery.capacityMwh", reason)
        }
        if let reason = Self.check(levelPercent, in: 0...100) { add("power.battery.levelPercent", reason) }
        if let reason = Self.check(chargeMw, in: 0...Self.maxPowerMw) { add("power.battery.chargeMw", reason) }
        if let reason = Self.check(timeScale, in: Self.timeScaleRange) { add("power.timeScale", reason) }
        if !Self.suspendAfterRange.contains(suspendAfterMs) {
            add(
                "power.suspendAfterMs",
                "\(suspendAfterMs) is outside \(Self.suspendAfterRange.lowerBound)...\(Self.suspendAfterRange.upperBound)"
            )
        }
        for (key, value) in platformDraw.fields {
            if let reason = Self.check(value, in: 0...Self.maxPowerMw) { add("power.platformDrawMw.\(key)", reason) }
        }
        for (key, value) in defaultDraw.fields {
            if let reason = Self.check(value, in: 0...Self.maxPowerMw) {
                add("power.partitionDrawMw.default.\(key)", reason)
            }
        }
        var seen: Set<String> = []
        for entry in partitions {
            let path = "power.partitionDrawMw.\(entry.partition)"
            if !partitionNames.contains(entry.partition) { add(path, "no partition named '\(entry.partition)'") }
            if !seen.insert(entry.partition).inserted { add(path, "listed twice") }
            for (key, value) in entry.draw.fields {
                if let reason = Self.check(value, in: 0...Self.maxPowerMw) { add("\(path).\(key)", reason) }
            }
        }
        return issues
    }

    /// Why `value` is refused, or nil: NaN and infinities first (they compare false with everything), then the
    /// range, quoting the value as given.
    package static func check(_ value: Double, in range: ClosedRange<Double>) -> String? {
        if value.isNaN { return "is not a number (NaN)" }
        if value.isInfinite { return "is infinite" }
        if value < range.lowerBound { return "\(value) is below \(range.lowerBound)" }
        if value > range.upperBound { return "\(value) is above \(range.upperBound)" }
        return nil
    }
}
