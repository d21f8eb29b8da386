import ATWire
import ControlWire
import DeviceKit
import HubSystem
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

/// The network side of the built-in simulator as control methods, shared by the hub (for a built-in
/// backend, as `modem.<method>`) and `hubd modem-sim` (which serves them over the framed link's control
/// frames, so a hub with a remote backend forwards them unchanged; Protocols/modem.md §6.1).
enum ModemNetworkControl {
    /// Method names without the `modem.` prefix, with their summaries.
    static let methods: [(name: String, summary: String)] = [
        ("status", "Registration, operator, signal, SIM, radio and calls of a modem"),
        ("calls", "The modem's current calls"),
        ("call.incoming", "A call arrives from the network"),
        ("call.answer", "The remote party answers the guest's outgoing call"),
        ("call.busy", "The remote party is busy: the guest's outgoing call ends with BUSY"),
        ("call.reject", "The remote party rejects the guest's outgoing call (NO CARRIER)"),
        ("call.hangup", "The remote party hangs up a call (NO CARRIER)"),
        ("sms.deliver", "Deliver an SMS from the network: text (split as needed) or PDUs"),
        ("sms.sent", "Every SMS the guest sent, decoded; multi-part messages joined"),
        ("signal", "Set the signal strength the modem reports"),
        ("registration", "Set the registration the network grants"),
        ("operator", "Change the serving operator's names"),
        ("network", "Lose or regain the network"),
    ]
    static let names = Set(methods.map(\.name))

    static func mapped(_ error: ModemNetworkError) -> ControlError {
        switch error.kind {
        case .notFound: ControlError.conflict(error.description, reason: "no_such_call")
        case .wrongState: ControlError.conflict(error.description, reason: "wrong_state")
        case .invalid:
            ControlError.invalidParams(
                param: error.parameter?.name ?? "params", expected: error.parameter?.expected ?? "valid values",
                detail: error.description)
        case .unavailable: ControlError.conflict(error.description, reason: "not_registered")
        case .storageFull: ControlError.conflict(error.description, reason: "storage_full")
        }
    }

    static func callsJSON(_ simulator: ModemSimulator) -> JSON {
        .array(simulator.currentCalls.map { .object(callJSON($0)) })
    }

    /// Runs `method` on `simulator`. `params` may carry `modem` (the hub's selector), which is ignored here.
    static func perform(_ method: String, _ raw: JSON?, simulator: ModemSimulator) throws(ControlError) -> JSON {
        switch method {
        case "status": return try status(raw, simulator)
        case "calls": return try calls(raw, simulator)
        case "call.incoming": return try incomingCall(raw, simulator)
        case "call.answer", "call.busy", "call.reject", "call.hangup": return try remoteCallVerb(method, raw, simulator)
        case "sms.deliver": return try deliver(raw, simulator: simulator)
        case "sms.sent": return try sentMessages(raw, simulator)
        case "signal": return try signal(raw, simulator)
        case "registration": return try registration(raw, simulator)
        case "operator": return try setOperator(raw, simulator)
        case "network": return try network(raw, simulator)
        default:
            throw ControlError.methodNotFound("modem.\(method)")
        }
    }

    /// `status`: registration, operator, signal, SIM, radio, calls and message counts.
    private static func status(_ raw: JSON?, _ simulator: ModemSimulator) throws(ControlError) -> JSON {
        _ = try ControlParams(raw, allowed: ["modem"])
        let snapshot = simulator.registrationSnapshot
        return [
            "registration": .string(snapshot.state.name),
            "operator": [
                "name": .string(snapshot.operator.longName), "shortName": .string(snapshot.operator.shortName),
                "numeric": .string(snapshot.operator.numeric),
            ],
            "rssi": .int(Int64(snapshot.rssi)), "ber": .int(Int64(snapshot.ber)),
            "simReady": .bool(simulator.simReady),
            "radioOn": .bool(simulator.radioOn), "calls": callsJSON(simulator),
            "stored": .int(Int64(simulator.storedMessages.count)), "sent": .int(Int64(simulator.sent.count)),
        ]
    }

    /// `calls`: the current calls.
    private static func calls(_ raw: JSON?, _ simulator: ModemSimulator) throws(ControlError) -> JSON {
        _ = try ControlParams(raw, allowed: ["modem"])
        return ["calls": callsJSON(simulator)]
    }

    /// `call.incoming {number?, presentation?}`: a call arrives from the network.
    private static func incomingCall(_ raw: JSON?, _ simulator: ModemSimulator) throws(ControlError) -> JSON {
        let params = try ControlParams(raw, allowed: ["modem", "number", "presentation"])
        let presentation: ModemCall.Presentation =
            switch try params.optionalChoice("presentation", of: ["allowed", "restricted", "unavailable"]) {
            case "restricted": .restricted
            case "unavailable": .unavailable
            default: .allowed
            }
        let number = try params.optionalString("number") ?? ""
        do throws(ModemNetworkError) {
            let placed = try simulator.incomingCall(number: number, presentation: presentation)
            return ["call": .object(callJSON(placed))]
        } catch {
            throw mapped(error)
        }
    }

    /// `call.answer` / `call.busy` / `call.reject` / `call.hangup {id?}`: the remote party acts on a call.
    private static func remoteCallVerb(_ method: String, _ raw: JSON?, _ simulator: ModemSimulator) throws(ControlError)
        -> JSON
    {
        let params = try ControlParams(raw, allowed: ["modem", "id"])
        let id = try params.optionalInt("id", in: 1...Int64(ModemSimulator.maxCalls)).map { Int($0) }
        do throws(ModemNetworkError) {
            switch method {
            case "call.answer": _ = try simulator.remoteAnswer(callID: id)
            case "call.busy": try simulator.remoteBusy(callID: id)
            case "call.reject": try simulator.remoteReject(callID: id)
            default: try simulator.remoteHangup(callID: id)
            }
        } catch {
            throw mapped(error)
        }
        return ["calls": callsJSON(simulator)]
    }

    /// `sms.sent {since?}`: what the guest sent, decoded, multi-part messages joined.
    private static func sentMessages(_ raw: JSON?, _ simulator: ModemSimulator) throws(ControlError) -> JSON {
        let params = try ControlParams(raw, allowed: ["modem", "since"])
        let since = Int(try params.optionalInt("since", in: 0...Int64(Int32.max)) ?? 0)
        let sent = simulator.sent
        let messages = sent.enumerated().filter { $0.offset >= since }.map {
            JSON.object(sentJSON($0.element, index: $0.offset))
        }
        let joined = MultiPartMessages(sent).all.filter { lastPart($0) >= since }
        return [
            "messages": .array(messages), "joined": .array(joined.map(JSON.object)),
            "count": .int(Int64(sent.count)),
        ]
    }

    /// `signal {rssi, ber?}`.
    private static func signal(_ raw: JSON?, _ simulator: ModemSimulator) throws(ControlError) -> JSON {
        let params = try ControlParams(raw, allowed: ["modem", "rssi", "ber"])
        let rssi = Int(try params.requireInt("rssi", in: 0...99))
        let ber = Int(try params.optionalInt("ber", in: 0...99) ?? 0)
        do {
            try simulator.setSignal(rssi: rssi, ber: ber)
        } catch {
            throw ControlError.invalidParams(param: "rssi", expected: "rssi 0-31 or 99, ber 0-7 or 99")
        }
        return ["rssi": .int(Int64(rssi)), "ber": .int(Int64(ber))]
    }

    /// `registration {state}`.
    private static func registration(_ raw: JSON?, _ simulator: ModemSimulator) throws(ControlError) -> JSON {
        let params = try ControlParams(raw, allowed: ["modem", "state"])
        let names = RegistrationState.allCases.map(\.name)
        guard let name = try params.optionalChoice("state", of: names), let state = RegistrationState(name: name)
        else { throw ControlError.invalidParams(param: "state", expected: names.joined(separator: ", ")) }
        simulator.setRegistration(state)
        return ["registration": .string(simulator.effectiveRegistration.name)]
    }

    /// `operator {name, shortName?, numeric?}`.
    private static func setOperator(_ raw: JSON?, _ simulator: ModemSimulator) throws(ControlError) -> JSON {
        let params = try ControlParams(raw, allowed: ["modem", "name", "shortName", "numeric"])
        let name = try params.requireString("name")
        let numeric = try params.optionalString("numeric") ?? simulator.registrationSnapshot.operator.numeric
        guard (1...32).contains(name.count), (5...6).contains(numeric.count), numeric.allSatisfy(\.isNumber) else {
            throw ControlError.invalidParams(param: "name", expected: "name 1-32 characters, numeric 5-6 digits")
        }
        let short = try params.optionalString("shortName") ?? String(name.prefix(10))
        simulator.setOperator(ModemOperator(longName: name, shortName: short, numeric: numeric))
        return ["operator": ["name": .string(name), "shortName": .string(short), "numeric": .string(numeric)]]
    }

    /// `network {available}`.
    private static func network(_ raw: JSON?, _ simulator: ModemSimulator) throws(ControlError) -> JSON {
        let params = try ControlParams(raw, allowed: ["modem", "available"])
        simulator.setNetworkAvailable(try params.requireBool("available"))
        return ["registration": .string(simulator.effectiveRegistration.name)]
    }
    private static func deliver(_ raw: JSON?, simulator: ModemSimulator) throws(ControlError) -> JSON {
        let params = try ControlParams(raw, allowed: ["modem", "from", "text", "pdu", "pdus"])
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
        // TS 23.040 §9.1.2.5: 1-20 digits (a leading + for international), or 1-11 GSM characters.
        let digits = sender.hasPrefix("+") ? sender.dropFirst() : Substring(sender)
        let isNumber = !digits.isEmpty && digits.count <= 20 && digits.allSatisfy { "0123456789*#".contains($0) }
        guard isNumber || (1...11).contains(GSM7.septets(sender)?.count ?? 0) else {
            throw ControlError.invalidParams(
                param: "from", expected: "a number of 1-20 digits (with + for international) or 1-11 GSM characters")
        }
        let indexes: [Int?]
        do throws(ModemNetworkError) {
            if let text {
                indexes = try simulator.deliverSMS(from: sender, text: text, timestamp: smsTimestamp())
            } else {
                indexes = try simulator.deliverSMS(tpdus: tpdus)
            }
        } catch {
            throw mapped(error)
        }
        return [
            "parts": .int(Int64(indexes.count)),
            "stored": .array(indexes.map { $0.map { .int(Int64($0)) } ?? .null }),
        ]
    }

    /// Wall-clock time as an SMS service-centre timestamp (UTC).
    static func smsTimestamp() -> SMSTimestamp {
        let now = WallClock.utc(secondsSinceEpoch: Int(WallClock.nanoseconds() / 1_000_000_000))
        return SMSTimestamp(
            year: now.year, month: now.month, day: now.day, hour: now.hour, minute: now.minute, second: now.second)
    }

    // MARK: JSON

    static func callJSON(_ call: ModemCall) -> JSONObject {
        [
            "id": .int(Int64(call.id)), "direction": .string(call.direction.rawValue),
            "state": .string(call.state.name),
            "number": .string(call.number), "presentation": .string(call.presentation.name),
            "multiparty": .bool(call.multiparty), "dtmf": .string(call.dtmf),
        ]
    }

    static func sentJSON(_ sms: SentSMS, index: Int) -> JSONObject {
        var object: JSONObject = [
            "index": .int(Int64(index)), "reference": .int(Int64(sms.messageReference)),
            "to": .string(sms.destination), "text": sms.text.map(JSON.string) ?? .null,
            "alphabet": .string(sms.alphabet.rawValue), "mode": .string(sms.mode), "pdu": .string(sms.pduHex),
        ]
        if let concat = sms.concatenation {
            object["part"] = [
                "reference": .int(Int64(concat.reference)), "total": .int(Int64(concat.total)),
                "sequence": .int(Int64(concat.sequence)),
            ]
        }
        return object
    }

    /// The newest index among a joined message's parts.
    static func lastPart(_ message: JSONObject) -> Int {
        (message["parts"]?.arrayValue ?? []).compactMap(\.intValue).max() ?? -1
    }

    /// A simulator event as (kind without the `modem.` prefix, data), the same on the hub and over the link;
    /// nil for unsolicited results (the hub sees those in the serial stream).
    static func event(
        _ event: ModemEvent, simulator: ModemSimulator,
        multiPart: MultiPartMessages? = nil, sentIndex: Int? = nil
    ) -> (kind: String, data: JSONObject)? {
        switch event {
        case .unsolicited:
            return nil
        case .call(let call, let ended):
            var data = callJSON(call)
            if let ended { data["ended"] = .string(ended) }
            return ("call", data)
        case .smsSent(let sms):
            let sent = simulator.sent
            // A new message is the log's last; a listing names its index (an identical part may come again).
            let index = sentIndex ?? (sent.lastIndex { $0 == sms }) ?? (sent.count - 1)
            var data = sentJSON(sms, index: index)
            // The part that completes a multi-part message carries the whole message (grouped only for a part:
            // a single SMS costs no pass over the log).
            if sms.concatenation != nil {
                let grouped = multiPart ?? MultiPartMessages(sent)
                if let message = grouped.messageOf[index], grouped.isComplete(message),
                    grouped.parts[message].max() == index
                {
                    data["message"] = .object(grouped.json(message))
                }
            }
            return ("sms.sent", data)
        case .smsReceived(let index, let from, let text):
            return (
                "sms.received",
                [
                    "index": index.map { .int(Int64($0)) } ?? .null, "from": .string(from),
                    "text": text.map(JSON.string) ?? .null,
                ]
            )
        case .registration(let state):
            return ("registration", ["state": .string(state.name)])
        case .dtmf(let id, let digits):
            return ("dtmf", ["call": .int(Int64(id)), "digits": .string(digits)])
        }
    }
}

/// The multi-part messages of a sent-SMS log, in order of their first part, and which message each part is in.
/// Parts are grouped in the order they were sent (`Protocols/control.md` §14.12): a part joins the newest message
/// with its destination, concatenation reference and total that is not complete and lacks its sequence number;
/// otherwise it starts a message of its own (the guest reused a reference, as it must after 256 messages, or sent
/// a part again). Looking for parts anywhere near, by key alone, joined a new message's parts to an old one's
/// and listed the old one twice. A part whose sequence number is outside 1...total joins no message. Grouping is
/// one pass over the log (at most `ModemSimulator.sentLogCapacity`); JSON is built only for what is asked.
struct MultiPartMessages {
    let sent: [SentSMS]
    /// Each message's parts (indexes into `sent`) in sequence order.
    private(set) var parts: [[Int]] = []
    private var keys: [Key] = []
    private(set) var messageOf: [Int: Int] = [:]

    private struct Key: Hashable {
        let destination: String
        let reference: Int
        let total: Int
    }

    init(_ sent: [SentSMS]) {
        self.sent = sent
        var open: [Key: Int] = [:]
        var bySequence: [[Int: Int]] = []
        for (index, sms) in sent.enumerated() {
            guard let concat = sms.concatenation, (1...max(1, concat.total)).contains(concat.sequence) else {
                continue
            }
            let key = Key(destination: sms.destination, reference: Int(concat.reference), total: concat.total)
            if let message = open[key], bySequence[message][concat.sequence] == nil,
                bySequence[message].count < concat.total
            {
                bySequence[message][concat.sequence] = index
                messageOf[index] = message
            } else {
                open[key] = keys.count
                messageOf[index] = keys.count
                keys.append(key)
                bySequence.append([concat.sequence: index])
            }
        }
        parts = bySequence.map { message in message.keys.sorted().compactMap { message[$0] } }
    }

    func isComplete(_ message: Int) -> Bool { parts[message].count == keys[message].total }

    /// `{to, reference, total, complete, text, parts}` for `modem.sms.sent` `joined` and the completing event.
    func json(_ message: Int) -> JSONObject {
        let key = keys[message]
        return [
            "to": .string(key.destination), "reference": .int(Int64(key.reference)), "total": .int(Int64(key.total)),
            "complete": .bool(isComplete(message)),
            "text": .string(parts[message].map { sent[$0].text ?? "" }.joined()),
            "parts": .array(parts[message].map { .int(Int64($0)) }),
        ]
    }

    var all: [JSONObject] { parts.indices.map(json) }
}
