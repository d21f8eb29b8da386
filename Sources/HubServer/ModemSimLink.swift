import JSON
import Modem
import Wire

/// The framed link between a hub and a remote modem simulator (Protocols/modem.md §6.1): the serial bytes
/// and a small JSON control protocol multiplexed on one connection.
///
/// Every frame is a 4-byte big-endian length (of what follows), a kind byte and the payload. The first
/// byte of a framed connection is therefore 0x00, which a raw AT client never sends first, so
/// `hubd modem-sim --listen` tells framed hubs from raw serial clients by that byte alone.
enum ModemSimFrame {
    enum Kind: UInt8 {
        /// JSON `{"protocol":"handsethub-modem-sim","version":1[,"token":…]}`; the first frame each way.
        case hello = 1
        /// Raw serial bytes: host → modem from the hub, modem → host from the simulator.
        case at = 2
        /// JSON request `{"id":n,"method":…,"params":{…}}` (hub → simulator) or its response
        /// `{"id":n,"result":…}` / `{"id":n,"error":{code,message,data}}` (simulator → hub).
        case control = 3
        /// JSON `{"kind":"call"|"sms.sent"|"sms.received"|"registration"|"dtmf","data":{…}}`, simulator → hub.
        case event = 4
    }

    static let protocolName = "handsethub-modem-sim"
    static let version: Int64 = 1
    /// Largest payload; serial bytes are cut into frames of at most this much.
    static let maxPayload = 65536

    static func encode(_ kind: Kind, _ payload: some Collection<UInt8>) -> [UInt8] {
        var body: [UInt8] = [kind.rawValue]
        body.reserveCapacity(payload.count + 1)
        body += payload
        return LengthPrefixedFramer.encode(body, prefixWidth: .four)
    }

    static func encode(_ kind: Kind, json: JSON) -> [UInt8] { encode(kind, json.serializedBytes()) }

    /// Serial bytes as one or more AT frames.
    static func encodeAT(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + maxPayload, bytes.count)
            out += encode(.at, bytes[start..<end])
            start = end
        }
        return out
    }

    static func hello(token: String?, error: String? = nil) -> [UInt8] {
        var object: JSONObject = ["protocol": .string(protocolName), "version": .int(version)]
        if let token { object["token"] = .string(token) }
        if let error { object["error"] = .string(error) }
        return encode(.hello, json: .object(object))
    }
}

/// Splits a framed link's byte stream into frames; chunking-safe.
struct ModemSimFrameDecoder {
    struct Frame {
        let kind: ModemSimFrame.Kind
        let payload: ArraySlice<UInt8>
    }

    private var framer = LengthPrefixedFramer(prefixWidth: .four, maxFrameLength: ModemSimFrame.maxPayload + 1)

    /// Whole frames in `bytes` plus what was buffered; unknown kinds are skipped (newer peers).
    mutating func feed(_ bytes: some Collection<UInt8>) throws(DecodeError) -> [Frame] {
        var frames: [Frame] = []
        for body in try framer.feed(bytes) {
            guard let first = body.first, let kind = ModemSimFrame.Kind(rawValue: first) else { continue }
            frames.append(Frame(kind: kind, payload: body.dropFirst()))
        }
        return frames
    }

    /// A hello frame's JSON, checked: nil and a reason when it is not ours.
    static func parseHello(_ payload: ArraySlice<UInt8>) -> (JSONObject?, String?) {
        guard let json = try? JSON.parse(payload), case .object(let object) = json else {
            return (nil, "hello is not a JSON object")
        }
        guard object["protocol"]?.stringValue == ModemSimFrame.protocolName else {
            return (nil, "hello names another protocol")
        }
        guard object["version"]?.int64Value == ModemSimFrame.version else {
            return (nil, "unsupported version (this side speaks \(ModemSimFrame.version))")
        }
        return (object, nil)
    }
}

/// The host-set state of a modem as the link carries it (Protocols/modem.md §6.2): the simulator reports
/// it in `settings` events, the hub sends the last report back in its hello to a new simulator.
extension ModemHostSettings {
    var json: JSON {
        var object: JSONObject = [
            "echo": .bool(echo), "verbose": .bool(verbose), "quiet": .bool(quiet), "cmee": .int(Int64(cmee)),
            "crc": .int(Int64(crc)), "clip": .int(Int64(clip)), "ccwa": .int(Int64(ccwa)),
            "colp": .int(Int64(colp)), "cvhu": .int(Int64(cvhu)), "creg": .int(Int64(cregMode)),
            "cgreg": .int(Int64(cgregMode)), "cereg": .int(Int64(ceregMode)), "cmgf": .int(Int64(cmgf)),
            "csms": .int(Int64(csms)), "cscs": .string(cscs), "cnmi": .array(cnmi.map { .int(Int64($0)) }),
            "csmp": .array(csmp.map { .int(Int64($0)) }), "csdh": .int(Int64(csdh)), "cfun": .int(Int64(cfun)),
            "copsMode": .int(Int64(copsMode)), "copsFormat": .int(Int64(copsFormat)),
            "cgatt": .bool(gprsAttached), "simUnlocked": .bool(simUnlocked),
            "nextReference": .int(Int64(nextReference)), "nextConcatReference": .int(Int64(nextConcatReference)),
        ]
        if let reportedStat { object["reportedStat"] = .int(Int64(reportedStat)) }
        if let serviceCentre { object["csca"] = .string(serviceCentre) }
        if let copsOperator { object["copsOperator"] = .string(copsOperator) }
        if let changedPIN { object["pin"] = .string(changedPIN) }
        var contexts: JSONObject = [:]
        for (cid, apn) in pdpContexts { contexts["\(cid)"] = .string(apn) }
        object["cgdcont"] = .object(contexts)
        var registers: JSONObject = [:]
        for (number, value) in sRegisters { registers["\(number)"] = .int(Int64(value)) }
        object["s"] = .object(registers)
        return .object(object)
    }

    /// Reads what a peer sent; a field of the wrong type keeps its default, ranges are checked by
    /// `ModemSimulator.restore`. Keys of the maps are looked up among the few valid ones, never converted.
    init(json object: JSONObject) {
        self.init()
        func int(_ key: String) -> Int? { object[key]?.intValue }
        // Strings are kept short so the next hello stays far below the frame limit whatever a peer sent.
        func string(_ key: String, max: Int = 32) -> String? {
            guard let value = object[key]?.stringValue, value.utf8.count <= max else { return nil }
            return value
        }
        echo = object["echo"]?.boolValue ?? echo
        verbose = object["verbose"]?.boolValue ?? verbose
        quiet = object["quiet"]?.boolValue ?? quiet
        cmee = int("cmee") ?? cmee
        crc = int("crc") ?? crc
        clip = int("clip") ?? clip
        ccwa = int("ccwa") ?? ccwa
        colp = int("colp") ?? colp
        cvhu = int("cvhu") ?? cvhu
        cregMode = int("creg") ?? cregMode
        cgregMode = int("cgreg") ?? cgregMode
        ceregMode = int("cereg") ?? ceregMode
        reportedStat = int("reportedStat")
        cmgf = int("cmgf") ?? cmgf
        csms = int("csms") ?? csms
        cscs = string("cscs") ?? cscs
        serviceCentre = string("csca")
        if let values = object["cnmi"]?.arrayValue, values.count == 5 {
            let ints = values.compactMap(\.intValue)
            if ints.count == 5 { cnmi = ints }
        }
        if let values = object["csmp"]?.arrayValue, values.count == 4 {
            let ints = values.compactMap(\.intValue)
            if ints.count == 4 { csmp = ints }
        }
        csdh = int("csdh") ?? csdh
        cfun = int("cfun") ?? cfun
        copsMode = int("copsMode") ?? copsMode
        copsFormat = int("copsFormat") ?? copsFormat
        copsOperator = string("copsOperator")
        gprsAttached = object["cgatt"]?.boolValue ?? gprsAttached
        simUnlocked = object["simUnlocked"]?.boolValue ?? false
        changedPIN = string("pin")
        nextReference = int("nextReference") ?? nextReference
        nextConcatReference = int("nextConcatReference") ?? nextConcatReference
        if let contexts = object["cgdcont"]?.objectValue {
            for cid in 1...8 {
                if let apn = contexts["\(cid)"]?.stringValue, apn.utf8.count <= 256 { pdpContexts[cid] = apn }
            }
        }
        if let registers = object["s"]?.objectValue {
            for number in 0...12 { if let value = registers["\(number)"]?.intValue { sRegisters[number] = value } }
        }
    }
}
