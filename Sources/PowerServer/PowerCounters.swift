import JSON
import Power

/// What the power device counts (`power.status` `counters`): platform state changes, the frames guests sent,
/// wake-lock and suspend-for-priority refusals by reason. Time per state and wake-ups by source are the
/// model's (`PowerModel.nanosInState`, `PowerModel.wakeups`).
final class PowerCounters {
    var stateChanges: UInt64 = 0
    var declarations: UInt64 = 0
    var lockRequests: UInt64 = 0
    var lockRefusals: UInt64 = 0
    var wakeFramesSent: UInt64 = 0
    /// `PARTITION_CONTROL` answers by status name (`done`, `unchanged`, `not_permitted`, ...).
    private(set) var partitionControl: [String: UInt64] = [:]

    func countControl(_ status: String) { partitionControl[status, default: 0] += 1 }

    func json(model: PowerModel) -> JSON {
        var timeMs = JSONObject()
        for state in PlatformPowerState.allCases {
            timeMs[state.rawValue] = .uint((model.nanosInState[state] ?? 0) / 1_000_000)
        }
        var wakeups = JSONObject()
        for source in model.wakeups.keys.sorted() { wakeups[source] = .uint(model.wakeups[source] ?? 0) }
        var control = JSONObject()
        for status in partitionControl.keys.sorted() { control[status] = .uint(partitionControl[status] ?? 0) }
        return [
            "timeInStateMs": .object(timeMs), "wakeups": .object(wakeups), "stateChanges": .uint(stateChanges),
            "declarations": .uint(declarations), "lockRequests": .uint(lockRequests),
            "lockRefusals": .uint(lockRefusals), "wakeFramesSent": .uint(wakeFramesSent),
            "partitionControl": .object(control),
        ]
    }
}
