import ControlWire
import DeviceKit
import JSON

/// The `http.*` control methods (`Protocols/control.md`, http.status).
extension HTTPDevice {
    var methods: [ControlMethod] {
        [
            ControlMethod(
                "http.status", summary: "The HTTP listener: bound endpoints, answers by status, refusals",
                handler: { [unowned self] call throws(ControlError) in try self.status(call) })
        ]
    }

    private func status(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        var object = counters.json.objectValue ?? [:]
        object["endpoints"] = .array(boundEndpoints.map { .string($0.description) })
        object["open"] = .int(Int64(connections.count))
        object["ready"] = .bool(host.isReady)
        return .result(.object(object))
    }
}
