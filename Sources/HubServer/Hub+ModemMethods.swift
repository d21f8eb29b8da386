import ATWire
import ControlWire
import EventLoop
import Glibc
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

    static func matches(_ call: ModemCall, ended: String?, state: String?, number: String?) -> Bool {
        let callState = ended == nil ? call.state.name : "ended"
        if let state, state != callState { return false }
        if let number, number != call.number { return false }
        return true
    }

    func resolveWaits(call: ModemCall, ended: String?) {
        for wait in waits {
            guard case .call(let state, let number) = wait.condition,
                ModemInstance.matches(call, ended: ended, state: state, number: number)
            else { continue }
            var data = ModemInstance.json(call)
            if let ended { data["ended"] = .string(ended) }
            answer(wait, .result(["call": .object(data)]))
        }
    }

    static func smsMatches(_ sms: SentSMS, to: String?, pattern: Regex<AnyRegexOutput>?) -> Bool {
        if let to, to != sms.destination { return false }
        if let pattern, (try? pattern.firstMatch(in: sms.text ?? "")) == nil { return false }
        return true
    }

    func resolveWaits(smsIndex: Int, sms: SentSMS) {
        for wait in waits {
            guard case .sms(let after, let to, let pattern) = wait.condition, smsIndex >= after,
                ModemInstance.smsMatches(sms, to: to, pattern: pattern)
            else { continue }
            answer(wait, .result(["sms": .object(ModemInstance.json(sms, index: smsIndex))]))
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
            guard state != "ended", let simulator else { return nil }
            return simulator.currentCalls.first { ModemInstance.matches($0, ended: nil, state: state, number: number) }
                .map { ["call": .object(ModemInstance.json($0))] }
        case .sms(let after, let to, let pattern):
            guard let simulator, after < simulator.sent.count else { return nil }
            for index in after..<simulator.sent.count
            where ModemInstance.smsMatches(simulator.sent[index], to: to, pattern: pattern) {
                return ["sms": .object(ModemInstance.json(simulator.sent[index], index: index))]
            }
            return nil
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
        func builtin(_ params: ControlParams) throws(ControlError) -> (ModemInstance, ModemSimulator) {
            let modem = try instance(params)
            guard let simulator = modem.simulator else {
                throw ControlError.conflict(
                    "\(modem.config.name) uses a remote simulator; drive its network side there",
                    reason: "remote_backend")
            }
            return (modem, simulator)
        }
        func mapped(_ error: ModemNetworkError) -> ControlError {
            switch error.kind {
            case .notFound: ControlError.conflict(error.description, reason: "no_such_call")
            case .wrongState: ControlError.conflict(error.description, reason: "wrong_state")
            case .invalid:
                ControlError.invalidParams(param: "params", expected: "valid values", detail: error.description)
            case .unavailable: ControlError.conflict(error.description, reason: "not_registered")
            case .storageFull: ControlError.conflict(error.description, reason: "storage_full")
            }
        }
        func regex(_ text: String, _ param: String) throws(ControlError) -> Regex<AnyRegexOutput> {
            guard text.utf8.count <= 512, let regex = try? Regex(text) else {
                throw ControlError.invalidParams(param: param, expected: "a regular expression of at most 512 bytes")
            }
            return regex
        }
        func callsJSON(_ simulator: ModemSimulator) -> JSON {
            .array(simulator.currentCalls.map { .object(ModemInstance.json($0)) })
        }

        router.register("modem.list", summary: "The modems, their backends and openers") { call throws(ControlError) in
            _ = try ControlParams(call.params, allowed: [])
            return .result([
                "modems": .array(
                    device.allInstances.map { modem in
                        [
                            "name": .string(modem.config.name), "owner": .string(modem.config.owner),
                            "backend": .string(modem.isRemote ? "remote" : "builtin"),
                            "backendUp": .bool(modem.isRemote ? modem.backendUp : true),
                            "openers": .array(
                                modem.openers.values.map { .string($0.kind) }.sorted { "\($0)" < "\($1)" }),
                            "pty": modem.config.pty.map(JSON.string) ?? .null,
                        ]
                    })
            ])
        }
        router.register("modem.status", summary: "Registration, operator, signal, SIM, radio and calls of a modem") {
            call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem"])
            let (modem, simulator) = try builtin(params)
            let snapshot = simulator.registrationSnapshot
            return .result([
                "modem": .string(modem.config.name), "registration": .string(snapshot.state.name),
                "operator": [
                    "name": .string(snapshot.operator.longName), "shortName": .string(snapshot.operator.shortName),
                    "numeric": .string(snapshot.operator.numeric),
                ],
                "rssi": .int(Int64(snapshot.rssi)), "ber": .int(Int64(snapshot.ber)),
                "simReady": .bool(simulator.simReady),
                "radioOn": .bool(simulator.radioOn), "calls": callsJSON(simulator),
                "stored": .int(Int64(simulator.storedMessages.count)), "sent": .int(Int64(simulator.sent.count)),
                "urcs": .uint(modem.urcCount),
            ])
        }
        router.register("modem.calls", summary: "The modem's current calls") { call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem"])
            let (_, simulator) = try builtin(params)
            return .result(["calls": callsJSON(simulator)])
        }
        router.register("modem.call.incoming", summary: "A call arrives from the network") {
            call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem", "number", "presentation"])
            let (modem, simulator) = try builtin(params)
            let presentation: ModemCall.Presentation =
                switch try params.optionalChoice("presentation", of: ["allowed", "restricted", "unavailable"]) {
                case "restricted": .restricted
                case "unavailable": .unavailable
                default: .allowed
                }
            let number = try params.optionalString("number") ?? ""
            do throws(ModemNetworkError) {
                let placed = try simulator.incomingCall(number: number, presentation: presentation)
                modem.pump()
                return .result(["call": .object(ModemInstance.json(placed))])
            } catch {
                modem.pump()
                throw mapped(error)
            }
        }
        for (verb, summary) in [
            ("answer", "The remote party answers the guest's outgoing call"),
            ("busy", "The remote party is busy: the guest's outgoing call ends with BUSY"),
            ("reject", "The remote party rejects the guest's outgoing call (NO CARRIER)"),
            ("hangup", "The remote party hangs up a call (NO CARRIER)"),
        ] {
            router.register("modem.call.\(verb)", summary: summary) { call throws(ControlError) in
                let params = try ControlParams(call.params, allowed: ["modem", "id"])
                let (modem, simulator) = try builtin(params)
                let id = try params.optionalInt("id", in: 1...7).map { Int($0) }
                do throws(ModemNetworkError) {
                    switch verb {
                    case "answer": _ = try simulator.remoteAnswer(callID: id)
                    case "busy": try simulator.remoteBusy(callID: id)
                    case "reject": try simulator.remoteReject(callID: id)
                    default: try simulator.remoteHangup(callID: id)
                    }
                } catch {
                    modem.pump()
                    throw mapped(error)
                }
                modem.pump()
                return .result(["calls": callsJSON(simulator)])
            }
        }
        router.register("modem.sms.deliver", summary: "Deliver an SMS from the network: text (split as needed) or PDUs")
        {
            call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem", "from", "text", "pdu", "pdus"])
            let (modem, simulator) = try builtin(params)
            var tpdus: [[UInt8]] = []
            var hexes = try params.optionalStrings("pdus") ?? []
            if let one = try params.optionalString("pdu") { hexes.append(one) }
            guard hexes.count <= 255 else {
                throw ControlError.invalidParams(param: "pdus", expected: "at most 255 PDUs")
            }
            for hex in hexes {
                guard hex.utf8.count <= 2 * 200, let bytes = UCS2.unhex(hex) else {
                    throw ControlError.invalidParams(param: "pdu", expected: "hex of an SMS-DELIVER TPDU (no SMSC)")
                }
                tpdus.append(bytes)
            }
            let text = try params.optionalString("text")
            guard (text == nil) != tpdus.isEmpty else {
                throw ControlError.invalidParams(param: "text", expected: "exactly one of text and pdu/pdus")
            }
            if let text, text.utf8.count > 64 * 1024 {
                throw ControlError.invalidParams(param: "text", expected: "at most 64 KiB")
            }
            let sender = try params.optionalString("from") ?? "+15550009999"
            let indexes: [Int?]
            do throws(ModemNetworkError) {
                if let text {
                    indexes = try simulator.deliverSMS(
                        from: sender, text: text,
                        timestamp: Hub.smsTimestamp())
                } else {
                    indexes = try simulator.deliverSMS(tpdus: tpdus)
                }
            } catch {
                modem.pump()
                throw mapped(error)
            }
            modem.pump()
            return .result([
                "parts": .int(Int64(indexes.count)),
                "stored": .array(indexes.map { $0.map { .int(Int64($0)) } ?? .null }),
            ])
        }
        router.register("modem.sms.sent", summary: "Every SMS the guest sent, decoded") { call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem", "since"])
            let (_, simulator) = try builtin(params)
            let since = Int(try params.optionalInt("since", in: 0...Int64(Int32.max)) ?? 0)
            let messages = simulator.sent.enumerated().filter { $0.offset >= since }.map {
                JSON.object(ModemInstance.json($0.element, index: $0.offset))
            }
            return .result(["messages": .array(messages), "count": .int(Int64(simulator.sent.count))])
        }
        router.register("modem.signal", summary: "Set the signal strength the modem reports") {
            call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem", "rssi", "ber"])
            let (modem, simulator) = try builtin(params)
            let rssi = Int(try params.requireInt("rssi", in: 0...99))
            let ber = Int(try params.optionalInt("ber", in: 0...99) ?? 0)
            do {
                try simulator.setSignal(rssi: rssi, ber: ber)
            } catch {
                throw ControlError.invalidParams(param: "rssi", expected: "rssi 0-31 or 99, ber 0-7 or 99")
            }
            modem.pump()
            return .result(["rssi": .int(Int64(rssi)), "ber": .int(Int64(ber))])
        }
        router.register("modem.registration", summary: "Set the registration the network grants") {
            call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem", "state"])
            let (modem, simulator) = try builtin(params)
            let names = RegistrationState.allCases.map(\.name)
            guard let name = try params.optionalChoice("state", of: names), let state = RegistrationState(name: name)
            else { throw ControlError.invalidParams(param: "state", expected: names.joined(separator: ", ")) }
            simulator.setRegistration(state)
            modem.pump()
            return .result(["registration": .string(simulator.effectiveRegistration.name)])
        }
        router.register("modem.operator", summary: "Change the serving operator's names") { call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem", "name", "shortName", "numeric"])
            let (modem, simulator) = try builtin(params)
            let name = try params.requireString("name")
            let numeric = try params.optionalString("numeric") ?? simulator.registrationSnapshot.operator.numeric
            guard (1...32).contains(name.count), (5...6).contains(numeric.count), numeric.allSatisfy(\.isNumber) else {
                throw ControlError.invalidParams(param: "name", expected: "name 1-32 characters, numeric 5-6 digits")
            }
            let short = try params.optionalString("shortName") ?? String(name.prefix(10))
            simulator.setOperator(ModemOperator(longName: name, shortName: short, numeric: numeric))
            modem.pump()
            return .result([
                "operator": ["name": .string(name), "shortName": .string(short), "numeric": .string(numeric)]
            ])
        }
        router.register("modem.network", summary: "Lose or regain the network") { call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem", "available"])
            let (modem, simulator) = try builtin(params)
            simulator.setNetworkAvailable(try params.requireBool("available"))
            modem.pump()
            return .result(["registration": .string(simulator.effectiveRegistration.name)])
        }
        router.register("modem.trace", summary: "The AT conversation, line by line in both directions") {
            call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["modem", "since", "limit"])
            let modem = try instance(params)
            let since = try params.optionalUInt64("since") ?? 0
            let limit = Int(try params.optionalInt("limit", in: 1...Int64(ModemTrace.capacity)) ?? 200)
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
                    try inner.optionalInt("since", in: 0...Int64(Int32.max)) ?? Int64(modem.simulator?.sent.count ?? 0))
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
            guard modem.waits.count < 256 else {
                throw ControlError.limitExceeded("modemWaits", value: 256, reason: "too_many_waits")
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
        var seconds = time_t(Hub.wallClockNanos() / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return SMSTimestamp(
            year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
            hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }
}
