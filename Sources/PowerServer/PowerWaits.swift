import ControlWire
import DeviceKit
import JSON
import Power

/// A pending `power.wait {platform, timeoutMs}` (`Protocols/control.md`, power): answered when the platform
/// state is `platform` — at once when it already is — or `-32005` at `timeoutMs`; at most `controlMaxWaiters`.
package struct PowerWait {
    let platform: PlatformPowerState
}

extension PowerDevice {
    func powerWait(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["platform", "timeoutMs"])
        let timeout = try params.requireInt("timeoutMs", in: 0...Int64(host?.limits.controlMaxWaitMs ?? 0))
        let name = try params.optionalChoice("platform", of: PlatformPowerState.allCases.map(\.rawValue)) ?? "suspend"
        guard let state = PlatformPowerState(rawValue: name) else {
            throw .invalidParams(param: "platform", expected: "on, idle or suspend")
        }
        if current().platformState == state { return .result(statusJSON()) }
        guard let waits else { throw .unavailable("the hub is shutting down") }
        return try waits.register(call, until: PowerWait(platform: state), timeoutMs: timeout)
    }

    /// Answers the waits the platform state now satisfies.
    func resolveWaits() {
        let state = model.platformState
        guard let waits, waits.count > 0 else { return }
        let answer = statusJSON()
        // JSON takes `nil` as its own null: spell the optional out, or every wait would be answered.
        waits.resolve { wait -> JSON? in wait.platform == state ? .some(answer) : .none }
    }
}
