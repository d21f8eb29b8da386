import ControlWire
import DeviceKit
import JSON
import Modem

/// What a `modem.wait` waits for (`Protocols/control.md` §14.14) on modem `modem`: a call reaching a state, an
/// SMS the guest sent, or an AT line in the trace. Held in the family's `DeferredWaits` (`ModemDevice.waits`).
struct ModemWait {
    enum Condition {
        case call(state: String?, number: String?)
        case sms(after: Int, to: String?, pattern: LinePattern?)
        case at(after: UInt64, direction: String?, pattern: LinePattern)
    }
    let modem: String
    let condition: Condition
}

extension ModemInstance {
    static func matches(_ call: JSONObject, state: String?, number: String?) -> Bool {
        let callState = call["ended"] != nil ? "ended" : call["state"]?.stringValue
        if let state, state != callState { return false }
        if let number, number != call["number"]?.stringValue { return false }
        return true
    }

    func resolveWaits(call: JSONObject) {
        guard let waits = device.waits, !waits.isEmpty else { return }
        waits.resolve { wait in
            guard wait.modem == config.name, case .call(let state, let number) = wait.condition,
                ModemInstance.matches(call, state: state, number: number)
            else { return nil }
            return ["call": .object(call)]
        }
    }

    /// A sent part matches on its destination, and the pattern on its own text or on the whole
    /// multi-part message it completes.
    static func smsMatches(_ sms: JSONObject, after: Int, to: String?, pattern: LinePattern?) -> Bool {
        guard (sms["index"]?.intValue ?? -1) >= after else { return false }
        if let to, to != sms["to"]?.stringValue { return false }
        if let pattern {
            let texts = [sms["text"]?.stringValue, sms["message"]?["text"]?.stringValue].compactMap { $0 }
            return texts.contains { pattern.matches($0) }
        }
        return true
    }

    func resolveWaits(sms: JSONObject) {
        guard let waits = device.waits, !waits.isEmpty else { return }
        waits.resolve { wait in
            guard wait.modem == config.name, case .sms(let after, let to, let pattern) = wait.condition,
                ModemInstance.smsMatches(sms, after: after, to: to, pattern: pattern)
            else { return nil }
            return ["sms": .object(sms)]
        }
    }

    /// Current calls, from the built-in simulator or as the remote one last reported them.
    var callsJSON: [JSONObject] {
        if let simulator { return simulator.currentCalls.map(ModemNetworkControl.callJSON) }
        return remoteCalls.keys.sorted().compactMap { remoteCalls[$0] }
    }

    /// How many SMS the guest has sent (the index the next one gets).
    var sentCount: Int { simulator?.sent.count ?? remoteSentCount }

    /// Sent messages with index ≥ `after`, as JSON (with `message` on a part completing a multi-part one).
    func sentJSON(after: Int) -> [JSONObject] {
        guard let simulator else { return remoteSent.filter { ($0["index"]?.intValue ?? -1) >= after } }
        guard after < simulator.sent.count else { return [] }
        // Grouped once for every message listed (the log holds up to `ModemSimulator.sentLogCapacity`).
        let multiPart = MultiPartMessages(simulator.sent)
        return (after..<simulator.sent.count).compactMap { index in
            guard
                let (_, data) = ModemNetworkControl.event(
                    .smsSent(simulator.sent[index]), simulator: simulator, multiPart: multiPart, sentIndex: index)
            else { return nil }
            return data
        }
    }

    static func lineMatches(
        _ entry: ModemTrace.Entry, after: UInt64, direction: String?, pattern: LinePattern
    )
        -> Bool
    {
        guard entry.seq > after else { return false }
        if let direction, direction != entry.direction { return false }
        return pattern.matches(entry.line)
    }

    func resolveWaits(traceEntries: [ModemTrace.Entry]) {
        guard let waits = device.waits, !waits.isEmpty else { return }
        waits.resolve { wait in
            guard wait.modem == config.name, case .at(let after, let direction, let pattern) = wait.condition,
                let entry = traceEntries.first(where: {
                    ModemInstance.lineMatches($0, after: after, direction: direction, pattern: pattern)
                })
            else { return nil }
            return ModemInstance.json(entry)
        }
    }

    static func json(_ entry: ModemTrace.Entry) -> JSON {
        ["seq": .uint(entry.seq), "direction": .string(entry.direction), "line": .string(entry.line)]
    }

    /// The answer available right now, if the condition already holds.
    func immediateAnswer(_ condition: ModemWait.Condition) -> JSON? {
        switch condition {
        case .call(let state, let number):
            guard state != "ended" else { return nil }
            return callsJSON.first { ModemInstance.matches($0, state: state, number: number) }
                .map { ["call": .object($0)] }
        case .sms(let after, let to, let pattern):
            return sentJSON(after: after).first { ModemInstance.smsMatches($0, after: after, to: to, pattern: pattern) }
                .map { ["sms": .object($0)] }
        case .at(let after, let direction, let pattern):
            return trace.entries.first {
                ModemInstance.lineMatches($0, after: after, direction: direction, pattern: pattern)
            }
            .map(ModemInstance.json)
        }
    }
}

extension ModemDevice {
    /// `modem.wait {modem?, call | sms | at, timeoutMs}`: answered at once when the condition already holds,
    /// else held until it does or `timeoutMs` passes (`-32005`); at most `controlMaxWaiters` held (`-32004`).
    func modemWait(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["modem", "call", "sms", "at", "timeoutMs"])
        let modem = try instance(params)
        let timeout = try params.requireInt("timeoutMs", in: 0...Int64(host.limits.controlMaxWaitMs))
        let kinds = ["call", "sms", "at"].filter { params.contains($0) }
        guard kinds.count == 1 else {
            throw ControlError.invalidParams(param: "call", expected: "exactly one of call, sms, at")
        }
        let condition = try waitCondition(params, modem: modem)
        if let ready = modem.immediateAnswer(condition) { return .result(ready) }
        return try waits.register(
            call, until: ModemWait(modem: modem.config.name, condition: condition), timeoutMs: timeout)
    }

    private func waitCondition(_ params: ControlParams, modem: ModemInstance) throws(ControlError)
        -> ModemWait.Condition
    {
        if let spec = try params.optionalObject("call") {
            let inner = try ControlParams(.object(spec), allowed: ["state", "number"])
            let states = ["active", "held", "dialing", "alerting", "incoming", "waiting", "ended"]
            return .call(
                state: try inner.optionalChoice("state", of: states), number: try inner.optionalString("number"))
        }
        if let spec = try params.optionalObject("sms") {
            let inner = try ControlParams(.object(spec), allowed: ["to", "pattern", "since"])
            let after = Int(try inner.optionalInt("since", in: 0...Int64(Int32.max)) ?? Int64(modem.sentCount))
            return .sms(
                after: after, to: try inner.optionalString("to"),
                pattern: try inner.optionalString("pattern").map { text throws(ControlError) in
                    try ModemDevice.linePattern(text, "sms.pattern")
                })
        }
        let spec = try params.requireObject("at")
        let inner = try ControlParams(.object(spec), allowed: ["pattern", "direction", "since"])
        return .at(
            after: try inner.optionalUInt64("since") ?? modem.trace.lastSeq,
            direction: try inner.optionalChoice("direction", of: ["to_modem", "from_modem"]),
            pattern: try ModemDevice.linePattern(try inner.requireString("pattern"), "at.pattern"))
    }

    /// A client's pattern (`Protocols/control.md` §14.15), compiled to the linear-time matcher; a refusal names
    /// what was wrong and where.
    static func linePattern(_ text: String, _ param: String) throws(ControlError) -> LinePattern {
        do {
            return try LinePattern(text)
        } catch {
            throw ControlError.invalidParams(
                param: param, expected: "a pattern of at most \(LinePattern.maxPatternBytes) bytes (control.md 14.15)",
                detail: "is not a supported pattern: \(error)")
        }
    }
}
