import ATWire
import ControlWire
import DeviceKit
import EventLoop
import HubSystem
import JSON
import Modem

/// A `modem.wait` in progress.
final class ModemWait {
    enum Condition {
        case call(state: String?, number: String?)
        case sms(after: Int, to: String?, pattern: Regex<AnyRegexOutput>?)
        case at(after: UInt64, direction: String?, pattern: Regex<AnyRegexOutput>)
    }
    let session: UInt64
    let requestID: JSON
    let condition: Condition
    var timer: Timer?

    init(session: UInt64, requestID: JSON, condition: Condition) {
        self.session = session
        self.requestID = requestID
        self.condition = condition
    }
}

extension ModemInstance {
    func answer(_ wait: ModemWait, _ reply: ControlReply) {
        wait.timer?.close()
        wait.timer = nil
        waits.removeAll { $0 === wait }
        hub.controlSessions[wait.session]?.answerDeferred(id: wait.requestID, with: reply)
    }

    static func matches(_ call: JSONObject, state: String?, number: String?) -> Bool {
        let callState = call["ended"] != nil ? "ended" : call["state"]?.stringValue
        if let state, state != callState { return false }
        if let number, number != call["number"]?.stringValue { return false }
        return true
    }

    func resolveWaits(call: JSONObject) {
        for wait in waits {
            guard case .call(let state, let number) = wait.condition,
                ModemInstance.matches(call, state: state, number: number)
            else { continue }
            answer(wait, .result(["call": .object(call)]))
        }
    }

    /// A sent part matches on its destination, and the pattern on its own text or on the whole
    /// multi-part message it completes.
    static func smsMatches(_ sms: JSONObject, after: Int, to: String?, pattern: Regex<AnyRegexOutput>?) -> Bool {
        guard (sms["index"]?.intValue ?? -1) >= after else { return false }
        if let to, to != sms["to"]?.stringValue { return false }
        if let pattern {
            let texts = [sms["text"]?.stringValue, sms["message"]?["text"]?.stringValue].compactMap { $0 }
            return texts.contains { (try? pattern.firstMatch(in: $0)) != nil }
        }
        return true
    }

    func resolveWaits(sms: JSONObject) {
        for wait in waits {
            guard case .sms(let after, let to, let pattern) = wait.condition,
                ModemInstance.smsMatches(sms, after: after, to: to, pattern: pattern)
            else { continue }
            answer(wait, .result(["sms": .object(sms)]))
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
        return (after..<simulator.sent.count).compactMap { index in
            guard let (_, data) = ModemNetworkControl.event(.smsSent(simulator.sent[index]), simulator: simulator)
            else { return nil }
            return data
        }
    }

    static func lineMatches(
        _ entry: ModemTrace.Entry, after: UInt64, direction: String?, pattern: Regex<AnyRegexOutput>
    )
        -> Bool
    {
        guard entry.seq > after else { return false }
        if let direction, direction != entry.direction { return false }
        return (try? pattern.firstMatch(in: entry.line)) != nil
    }

    func resolveWaits(traceEntries: [ModemTrace.Entry]) {
        guard !waits.isEmpty else { return }
        for wait in waits {
            guard case .at(let after, let direction, let pattern) = wait.condition,
                let entry = traceEntries.first(where: {
                    ModemInstance.lineMatches($0, after: after, direction: direction, pattern: pattern)
                })
            else { continue }
            answer(wait, .result(ModemInstance.json(entry)))
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

extension Hub {
    /// `modem.*` (Protocols/control.md §14): drive the network side of a modem and read it back.
    func registerModemMethods(_ device: ModemDevice) {
        func instance(_ params: ControlParams) throws(ControlError) -> ModemInstance {
            let name = try params.optionalString("modem") ?? device.allInstances.first?.config.name ?? ""
            guard let instance = device.instances[name] else { throw ControlError.notFound("modem", name: name) }
            return instance
        }
        func regex(_ text: String, _ param: String) throws(ControlError) -> Regex<AnyRegexOutput> {
            guard text.utf8.count <= 512, let regex = try? Regex(text) else {
                throw ControlError.invalidParams(param: param, expected: "a regular expression of at most 512 bytes")
            }
            return regex
        }
        router.register("modem.list", summary: "The modems, their backends and openers") { call throws(ControlError) in
            _ = try ControlParams(call.params, allowed: [])
            return .result([
                "modems": .array(
                    device.allInstances.map { modem in
                        var entry: JSONObject = [
                            "name": .string(modem.config.name), "owner": .string(modem.config.owner),
                            "backend": .string(modem.isRemote ? "remote" : "builtin"),
                            "backendEndpoint": .string(modem.backendDescription),
                            "backendUp": .bool(modem.isRemote ? modem.backendUp : true),
                            "openers": .array(
                                modem.openers.values.map { .string($0.kind) }.sorted { "\($0)" < "\($1)" }),
                            "pty": modem.config.pty.map(JSON.string) ?? .null,
                        ]
                        if modem.isRemote { entry["backendLink"] = modem.backendLinkJSON }
                        return JSON.object(entry)
                    })
            ])
        }
        for (name, summary) in ModemNetworkControl.methods {
            router.register("modem.\(name)", summary: summary) { call throws(ControlError) in
                let selector: String?
                switch call.params?["modem"] {
                case nil, .null?: selector = nil
                case .string(let value)?: selector = value
                default: throw ControlError.invalidParams(param: "modem", expected: "a modem name")
                }
                let modemName = selector ?? device.allInstances.first?.config.name ?? ""
                guard let modem = device.instances[modemName] else {
                    throw ControlError.notFound("modem", name: modemName)
                }
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
                guard
                    case .object(let result) = try ModemNetworkControl.perform(name, call.params, simulator: simulator)
                else { return .result([:]) }
                return .result(.object(finish(result)))
            }
        }
        router.register("modem.trace", summary: "The AT conversation, line by line in both directions") {
            call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem", "since", "limit"])
            let modem = try instance(params)
            let since = try params.optionalUInt64("since") ?? 0
            let limit = Int(try params.optionalInt("limit", in: 1...Int64(modem.trace.capacity)) ?? 200)
            let lines = modem.trace.entries.filter { $0.seq > since }.suffix(limit).map(ModemInstance.json)
            return .result(["lines": .array(Array(lines)), "lastSeq": .uint(modem.trace.lastSeq)])
        }
        router.register(
            "modem.wait", summary: "Answer when a call reaches a state, an SMS is sent or an AT line matches"
        ) {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(
                call.params, allowed: ["modem", "call", "sms", "at", "timeoutMs"])
            let modem = try instance(params)
            let timeout = try params.requireInt(
                "timeoutMs", in: 0...Int64(self.configuration.hub.limits.controlMaxWaitMs))
            let condition: ModemWait.Condition
            let kinds = ["call", "sms", "at"].filter { params.contains($0) }
            guard kinds.count == 1 else {
                throw ControlError.invalidParams(param: "call", expected: "exactly one of call, sms, at")
            }
            if let spec = try params.optionalObject("call") {
                let inner = try ControlParams(.object(spec), allowed: ["state", "number"])
                let states = ["active", "held", "dialing", "alerting", "incoming", "waiting", "ended"]
                condition = .call(
                    state: try inner.optionalChoice("state", of: states), number: try inner.optionalString("number"))
            } else if let spec = try params.optionalObject("sms") {
                let inner = try ControlParams(.object(spec), allowed: ["to", "pattern", "since"])
                let after = Int(
                    try inner.optionalInt("since", in: 0...Int64(Int32.max)) ?? Int64(modem.sentCount))
                condition = .sms(
                    after: after, to: try inner.optionalString("to"),
                    pattern: try inner.optionalString("pattern").map { text throws(ControlError) in
                        try regex(text, "sms.pattern")
                    })
            } else {
                let spec = try params.requireObject("at")
                let inner = try ControlParams(.object(spec), allowed: ["pattern", "direction", "since"])
                condition = .at(
                    after: try inner.optionalUInt64("since") ?? modem.trace.lastSeq,
                    direction: try inner.optionalChoice("direction", of: ["to_modem", "from_modem"]),
                    pattern: try regex(try inner.requireString("pattern"), "at.pattern"))
            }
            if let ready = modem.immediateAnswer(condition) { return .result(ready) }
            guard let session = call.session else { return .deferred }
            guard modem.waits.count < ModemInstance.maxWaits else {
                throw ControlError.limitExceeded(
                    "modemWaits", value: Int64(ModemInstance.maxWaits), reason: "too_many_waits")
            }
            let wait = ModemWait(session: session.id, requestID: call.id, condition: condition)
            modem.waits.append(wait)
            wait.timer = try? Timer.once(loop: self.loop, afterMilliseconds: UInt64(timeout)) {
                [weak modem, weak wait] in
                guard let modem, let wait else { return }
                wait.timer = nil
                modem.answer(wait, .error(.timeout(afterMs: timeout)))
            }
            return .deferred
        }
    }

    /// Wall-clock time as an SMS service-centre timestamp (UTC).
    static func smsTimestamp() -> SMSTimestamp {
        let now = WallClock.utc(secondsSinceEpoch: Int(Hub.wallClockNanos() / 1_000_000_000))
        return SMSTimestamp(
            year: now.year, month: now.month, day: now.day, hour: now.hour, minute: now.minute, second: now.second)
    }
}
