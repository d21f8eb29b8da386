import ControlWire
import DeviceKit
import JSON
import Modem

/// The `modem.*` control methods (`Protocols/control.md` §14): the table the device registers, then one named
/// handler per method. Parameters are read through `ControlParams`, every number range-checked before use.
extension ModemDevice {
    /// Every method of the family, registered by `start(host:)`: `modem.list`, the network side (§14.2 to
    /// §14.12, one handler for the built-in and the remote backend), `modem.trace` and `modem.wait`.
    var methods: [ControlMethod] {
        [
            ControlMethod("modem.list", summary: "The modems, their backends and openers") {
                [unowned self] call throws(ControlError) in try self.modemList(call)
            }
        ]
            + ModemNetworkControl.methods.map { method in
                ControlMethod("modem.\(method.name)", summary: method.summary) {
                    [unowned self] call throws(ControlError) in try self.modemNetwork(method.name, call)
                }
            }
            + [
                ControlMethod("modem.trace", summary: "The AT conversation, line by line in both directions") {
                    [unowned self] call throws(ControlError) in try self.modemTrace(call)
                },
                ControlMethod(
                    "modem.wait", summary: "Answer when a call reaches a state, an SMS is sent or an AT line matches"
                ) { [unowned self] call throws(ControlError) in try self.modemWait(call) },
            ]
    }

    /// `modem.list {}`.
    func modemList(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result(["modems": .array(allInstances.map(\.listJSON))])
    }

    /// `modem.<name> {modem?, …}`: the network side, run on the built-in simulator or forwarded to the remote
    /// one (Protocols/modem.md §6.1).
    func modemNetwork(_ name: String, _ call: ControlCall) throws(ControlError) -> ControlReply {
        let selector: String?
        switch call.params?["modem"] {
        case nil, .null?: selector = nil
        case .string(let value)?: selector = value
        default: throw ControlError.invalidParams(param: "modem", expected: "a modem name")
        }
        let modemName = selector ?? allInstances.first?.config.name ?? ""
        guard let modem = instances[modemName] else { throw ControlError.notFound("modem", name: modemName) }
        // `status` also tells which modem and how many URCs the hub saw (the hub's own count).
        let finish: (JSONObject) -> JSONObject = { result in
            guard name == "status" else { return result }
            var decorated: JSONObject = ["modem": .string(modem.config.name)]
            for key in result.keys { decorated[key] = result[key] }
            decorated["urcs"] = .uint(modem.urcCount)
            return decorated
        }
        guard let simulator = modem.simulator else { return try modem.forward(name, call, finish: finish) }
        defer { modem.pump() }
        guard case .object(let result) = try ModemNetworkControl.perform(name, call.params, simulator: simulator)
        else { return .result([:]) }
        return .result(.object(finish(result)))
    }

    /// `modem.trace {modem?, since?, limit?}`.
    func modemTrace(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["modem", "since", "limit"])
        let modem = try instance(params)
        let since = try params.optionalUInt64("since") ?? 0
        let limit = Int(try params.optionalInt("limit", in: 1...Int64(modem.trace.capacity)) ?? 200)
        let lines = modem.trace.entries.filter { $0.seq > since }.suffix(limit).map(ModemInstance.json)
        return .result(["lines": .array(Array(lines)), "lastSeq": .uint(modem.trace.lastSeq)])
    }

    // MARK: Parameters

    /// The modem `modem` names, or the first one.
    func instance(_ params: ControlParams) throws(ControlError) -> ModemInstance {
        let name = try params.optionalString("modem") ?? allInstances.first?.config.name ?? ""
        guard let instance = instances[name] else { throw ControlError.notFound("modem", name: name) }
        return instance
    }
}
