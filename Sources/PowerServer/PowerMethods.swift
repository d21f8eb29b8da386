import ControlWire
import DeviceKit
import JSON
import PlatformConfig
import Power

/// The `power.*` control methods (`Protocols/control.md`, power): the table the device registers, then one
/// named handler per method. Every number is range-checked by `ControlParams` before it reaches the model.
extension PowerDevice {
    var methods: [ControlMethod] {
        [
            .bound(
                "power.status", "Platform power state, battery, partitions' states and wake locks, counters", to: self,
                PowerDevice.powerStatus),
            .bound(
                "power.set", "Set the battery level, the charger, its power or the model's time scale", to: self,
                PowerDevice.powerSet),
            .bound(
                "power.wait", "Answer when the platform power state is the one named", to: self,
                PowerDevice.powerWait),
        ]
    }

    /// `power.status {}`.
    func powerStatus(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result(statusJSON())
    }

    /// `power.set {levelPercent?, charging?, chargeMw?, timeScale?}`: the battery integrates up to now with the
    /// old values first, so a change applies from the moment it is made.
    func powerSet(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["levelPercent", "charging", "chargeMw", "timeScale"])
        let level = try params.optionalNumber("levelPercent", in: 0...100)
        let charging = try params.optionalBool("charging")
        let chargeMw = try params.optionalNumber("chargeMw", in: 0...PowerConfig.maxPowerMw)
        let scale = try params.optionalNumber("timeScale", in: PowerConfig.timeScaleRange)
        var changed = JSONObject()
        mutate { model, now in
            if let level {
                model.setLevel(percent: level, now: now)
                changed["levelPercent"] = .double(level)
            }
            if let charging {
                model.setCharging(charging, now: now)
                changed["charging"] = .bool(charging)
            }
            if let chargeMw {
                model.setChargeMw(chargeMw, now: now)
                changed["chargeMw"] = .double(chargeMw)
            }
            if let scale {
                model.setTimeScale(scale, now: now)
                changed["timeScale"] = .double(scale)
            }
        }
        host?.publish("power.set", data: .object(changed))
        return .result(statusJSON())
    }

    /// The answer of `power.status` (and of `power.set`, `power.wait`).
    func statusJSON() -> JSON {
        let model = current()
        var partitions = JSONObject()
        for name in model.partitionNames {
            let draw = model.config.draw(of: name)
            let state = model.state(of: name)
            let drawMw: Double =
                switch state {
                case .active: draw.active
                case .idle: draw.idle
                case .suspended: draw.suspended
                case .off: draw.off
                }
            partitions[name] = [
                "state": .string(state.rawValue), "declared": .string(model.declaredState(of: name).rawValue),
                "locks": .array((model.locks[name] ?? []).sorted().map { .string($0) }), "drawMw": .double(drawMw),
            ]
        }
        return [
            "platform": .string(model.platformState.rawValue),
            "battery": [
                "levelPercent": .double(model.batteryPercent), "chargeMwh": .double(model.chargeMwh),
                "capacityMwh": .double(model.config.capacityMwh), "charging": .bool(model.charging),
                "chargeMw": .double(model.chargeMw),
            ],
            "drawMw": .double(model.drawMw), "netMw": .double(model.netMw), "timeScale": .double(model.timeScale),
            "modelSeconds": .double(model.modelSeconds), "suspendAfterMs": .int(Int64(model.config.suspendAfterMs)),
            "partitions": .object(partitions),
            "hubLocks": .array((model.locks[PowerModel.hubHolder] ?? []).sorted().map { .string($0) }),
            "counters": counters.json(model: model),
        ]
    }
}
