import Foundation
import GuestWire
import VectorSupport
import Wire

/// A neutral tree both the manifest (JSON) and a decoded frame map into, so one comparison checks
/// every field. Booleans and enums become integers, byte runs become `.bytes`.
indirect enum FieldValue: Equatable, CustomStringConvertible {
    case int(UInt64)
    case string(String)
    case bytes([UInt8])
    case null
    case list([FieldValue])
    case object([String: FieldValue])

    var description: String {
        switch self {
        case .int(let value): return "\(value)"
        case .string(let text): return "\"\(text)\""
        case .bytes(let bytes): return "hex:\(Hex.encode(bytes))"
        case .null: return "null"
        case .list(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { "\($0): \(fields[$0]!)" }.joined(separator: ", ") + "}"
        }
    }

    init(json: Any) throws {
        switch json {
        case is NSNull: self = .null
        case let text as String: self = .string(text)
        case let array as [Any]: self = .list(try array.map(FieldValue.init(json:)))
        case let dict as [String: Any]:
            if dict.count == 1, let hex = dict["hex"] as? String {
                guard let bytes = Hex.decode(hex) else { throw VectorError.badManifest("hex \(hex)") }
                self = .bytes(bytes)
            } else {
                self = .object(try dict.mapValues(FieldValue.init(json:)))
            }
        case let number as NSNumber: self = .int(number.uint64Value)
        default: throw VectorError.badManifest("unsupported JSON \(json)")
        }
    }
}

enum VectorError: Error { case badManifest(String), missing(String) }

/// `Protocols/vectors/guest/frames.vectors`, and one field's JSON as Foundation objects.
enum Vectors {
    static func all() throws -> [TestVector] { try VectorSet("guest/frames.vectors").vectors }

    static func json(_ vector: TestVector, _ key: String) throws -> [String: Any] {
        let text = try vector.text(key)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw VectorError.badManifest("\(vector.name): \(key) is not a JSON object")
        }
        return object
    }
}

/// Spec names of the frame types (§4), as used in the manifest.
let specTypeNames: [GuestFrameType: String] = [
    .hello: "HELLO", .challenge: "CHALLENGE", .proof: "PROOF", .welcome: "WELCOME", .error: "ERROR", .ok: "OK",
    .raise: "RAISE", .raiseResult: "RAISE_RESULT", .irq: "IRQ", .eoi: "EOI", .mask: "MASK", .unmask: "UNMASK",
    .setPriority: "SET_PRIORITY", .timerSet: "TIMER_SET", .timerCancel: "TIMER_CANCEL", .msgSend: "MSG_SEND",
    .msgSent: "MSG_SENT", .msgDeliver: "MSG_DELIVER", .msgAck: "MSG_ACK", .credit: "CREDIT",
    .linkOpen: "LINK_OPEN", .linkOpened: "LINK_OPENED", .linkClose: "LINK_CLOSE", .linkClosed: "LINK_CLOSED",
    .msgSendSequenced: "MSG_SEND_SEQ", .sendSequences: "SEND_SEQUENCES",
    .msgSendAs: "MSG_SEND_AS", .msgDeliverAs: "MSG_DELIVER_AS",
    .regionRead: "REGION_READ", .regionData: "REGION_DATA", .regionWrite: "REGION_WRITE",
    .regionResult: "REGION_RESULT", .regionFD: "REGION_FD", .heartbeat: "HEARTBEAT", .heartbeatAck: "HEARTBEAT_ACK",
    .suspend: "SUSPEND", .resume: "RESUME", .detach: "DETACH", .markGood: "MARK_GOOD", .errorReport: "ERROR_REPORT",
    .powerState: "POWER_STATE",
    .wakeLock: "WAKE_LOCK", .wake: "WAKE", .partitionControl: "PARTITION_CONTROL",
    .partitionControlResult: "PARTITION_CONTROL_RESULT", .powerQuery: "POWER_QUERY", .powerInfo: "POWER_INFO",
    .policyActivate: "POLICY_ACTIVATE", .policyChanged: "POLICY_CHANGED", .channelOpen: "CHANNEL_OPEN",
    .channelOpened: "CHANNEL_OPENED", .channelData: "CHANNEL_DATA", .channelClose: "CHANNEL_CLOSE",
]

/// The spec's error kind names (manifest "error").
func specKind(_ reason: GuestDecodeError.Reason) -> String {
    switch reason {
    case .truncated: return "truncated"
    case .trailingBytes: return "trailing_bytes"
    case .invalidUTF8: return "invalid_utf8"
    case .nameTooLong: return "name_too_long"
    case .tooMany: return "too_many"
    case .tooLarge: return "too_large"
    case .unknownFrameType: return "unknown_frame_type"
    case .wrongChannel: return "wrong_channel"
    case .invalidValue: return "invalid_value"
    }
}

/// Maps a decoded message to the manifest's field names (the names of the spec's field tables).
func fields(of message: GuestMessage) -> FieldValue {
    func int<T: BinaryInteger>(_ value: T) -> FieldValue { .int(UInt64(value)) }
    func names(_ list: [String]) -> FieldValue { .list(list.map(FieldValue.string)) }
    switch message {
    case .hello(let hello):
        return .object([
            "min_version": int(hello.minVersion), "max_version": int(hello.maxVersion),
            "partition": .string(hello.partition), "features": names(hello.features),
            "resume_token": hello.resumeToken.map(FieldValue.bytes) ?? .null,
        ])
    case .challenge(let challenge):
        return .object([
            "version": int(challenge.version), "nonce": .bytes(challenge.nonce), "features": names(challenge.features),
        ])
    case .proof(let mac): return .object(["mac": .bytes(mac)])
    case .welcome(let welcome):
        return .object([
            "session_id": int(welcome.sessionId), "resume_token": .bytes(welcome.resumeToken),
            "resumed": int(welcome.resumed ? 1 : 0), "max_frame": int(welcome.maxFrameLength),
            "heartbeat_ms": int(welcome.heartbeatMillis),
            "lines": .list(welcome.lines.map { .object(["line": int($0.line), "priority": int($0.priority)]) }),
            "links": .list(
                welcome.links.map {
                    .object([
                        "id": int($0.id), "name": .string($0.name), "peer": .string($0.peer),
                        "max_message": int($0.maxMessage), "depth": int($0.depth),
                        "initial_credit": int($0.initialCredit),
                    ])
                }),
            "regions": .list(
                welcome.regions.map {
                    .object([
                        "id": int($0.id), "name": .string($0.name), "size": int($0.size),
                        "access": int($0.access.rawValue), "doorbell_line": int($0.doorbellLine),
                    ])
                }),
            "peers": names(welcome.peers),
        ])
    case .error(let code, let reason): return .object(["code": int(code.rawValue), "reason": .string(reason)])
    case .ok, .resume, .markGood, .powerQuery: return .object([:])
    case .powerState(let state): return .object(["state": int(state.rawValue)])
    case .wakeLock(let held, let name): return .object(["held": int(held ? 1 : 0), "name": .string(name)])
    case .wake(let source, let line, let from):
        return .object(["source": .string(source), "line": int(line), "from": int(from.rawValue)])
    case .partitionControl(let action, let partition, let reason):
        return .object(["action": int(action.rawValue), "partition": .string(partition), "reason": .string(reason)])
    case .partitionControlResult(let partition, let action, let status):
        return .object([
            "partition": .string(partition), "action": int(action.rawValue), "status": int(status.rawValue),
        ])
    case .powerInfo(let info):
        return .object([
            "platform": int(info.platform.rawValue), "partition": int(info.partition.rawValue),
            "battery": int(info.batteryCentiPercent), "charging": int(info.charging ? 1 : 0),
            "draw_mw": int(info.drawMw), "locks": int(info.locks),
        ])
    case .errorReport(let severity, let code, let text):
        return .object(["severity": int(severity.rawValue), "code": .string(code), "text": .string(text)])
    case .raise(let partition, let line): return .object(["partition": .string(partition), "line": int(line)])
    case .raiseResult(let outcome): return .object(["outcome": int(outcome.rawValue)])
    case .irq(let line, let priority, let coalesced):
        return .object(["line": int(line), "priority": int(priority), "coalesced": int(coalesced)])
    case .eoi(let line), .mask(let line), .unmask(let line), .timerCancel(let line):
        return .object(["line": int(line)])
    case .setPriority(let line, let priority): return .object(["line": int(line), "priority": int(priority)])
    case .timerSet(let line, let first, let period):
        return .object(["line": int(line), "first_delay_us": int(first), "period_us": int(period)])
    case .msgSend(let link, let correlation, let payload):
        return .object(["link": int(link), "correlation": int(correlation), "payload": .bytes(Array(payload))])
    case .msgSent(let link, let messageId, let status):
        return .object(["link": int(link), "message_id": int(messageId), "status": int(status.rawValue)])
    case .msgDeliver(let delivery):
        return .object([
            "link": int(delivery.link), "message_id": int(delivery.messageId), "sender": .string(delivery.sender),
            "correlation": int(delivery.correlation), "payload": .bytes(Array(delivery.payload)),
        ])
    case .msgAck(let link, let upTo): return .object(["link": int(link), "up_to": int(upTo)])
    case .credit(let link, let credit): return .object(["link": int(link), "credit": int(credit)])
    case .linkOpen(let name, let peer, let maxMessage, let depth):
        return .object([
            "name": .string(name), "peer": .string(peer), "max_message": int(maxMessage), "depth": int(depth),
        ])
    case .linkOpened(let opened):
        return .object([
            "id": int(opened.link.id), "name": .string(opened.link.name), "peer": .string(opened.link.peer),
            "max_message": int(opened.link.maxMessage), "depth": int(opened.link.depth),
            "initial_credit": int(opened.link.initialCredit), "existing": int(opened.existing ? 1 : 0),
            "opened_by": .string(opened.openedBy),
        ])
    case .linkClose(let link): return .object(["link": int(link)])
    case .linkClosed(let link, let state, let held):
        return .object(["link": int(link), "state": int(state.rawValue), "held": int(held)])
    case .msgSendSequenced(let link, let sequence, let correlation, let payload):
        return .object([
            "link": int(link), "sequence": int(sequence), "correlation": int(correlation),
            "payload": .bytes(Array(payload)),
        ])
    case .sendSequences(let entries):
        return .object([
            "links": .list(entries.map { .object(["link": int($0.link), "last_accepted": int($0.lastAccepted)]) })
        ])
    case .msgSendAs(let link, let correlation, let identity, let payload):
        return .object([
            "link": int(link), "correlation": int(correlation), "identity": .string(identity),
            "payload": .bytes(Array(payload)),
        ])
    case .msgDeliverAs(let delivery, let identity):
        return .object([
            "link": int(delivery.link), "message_id": int(delivery.messageId), "sender": .string(delivery.sender),
            "identity": .string(identity), "correlation": int(delivery.correlation),
            "payload": .bytes(Array(delivery.payload)),
        ])
    case .regionRead(let region, let offset, let length):
        return .object(["region": int(region), "offset": int(offset), "length": int(length)])
    case .regionData(let region, let offset, let bytes), .regionWrite(let region, let offset, let bytes):
        return .object(["region": int(region), "offset": int(offset), "data": .bytes(Array(bytes))])
    case .regionResult(let region, let status):
        return .object(["region": int(region), "status": int(status.rawValue)])
    case .regionFD(let region, let access, let size):
        return .object(["region": int(region), "access": int(access.rawValue), "size": int(size)])
    case .heartbeat(let stamp), .heartbeatAck(let stamp): return .object(["stamp": int(stamp)])
    case .suspend(let reason), .detach(let reason): return .object(["reason": .string(reason)])
    case .policyActivate(let profile): return .object(["profile": .string(profile)])
    case .policyChanged(let generation, let profile, let summary):
        return .object(["generation": int(generation), "profile": .string(profile), "summary": .string(summary)])
    case .channelOpen(let device, let options):
        return .object(["device": .string(device), "options": .bytes(Array(options))])
    case .channelOpened(let maxData, let options):
        return .object(["max_data": int(maxData), "options": .bytes(Array(options))])
    case .channelData(let data): return .object(["data": .bytes(Array(data))])
    case .channelClose(let code, let reason): return .object(["code": int(code), "reason": .string(reason)])
    }
}
