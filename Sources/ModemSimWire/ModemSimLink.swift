import JSON
import Wire

/// The framed link between a hub and a remote modem simulator (Protocols/modem.md §6.1): the serial bytes
/// and a small JSON control protocol multiplexed on one connection.
///
/// Every frame is a 4-byte big-endian length (of what follows), a kind byte and the payload. The first
/// byte of a framed connection is therefore 0x00, which a raw AT client never sends first, so
/// `hubd modem-sim --listen` tells framed hubs from raw serial clients by that byte alone.
package enum ModemSimFrame {
    package enum Kind: UInt8, Sendable {
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

    package static let protocolName = "handsethub-modem-sim"
    package static let version: Int64 = 1
    /// Largest payload; serial bytes are cut into frames of at most this much.
    package static let maxPayload = 65536

    package static func encode(_ kind: Kind, _ payload: some Collection<UInt8>) -> [UInt8] {
        var body: [UInt8] = [kind.rawValue]
        body.reserveCapacity(payload.count + 1)
        body += payload
        return LengthPrefixedFramer.encode(body, prefixWidth: .four)
    }

    package static func encode(_ kind: Kind, json: JSON) -> [UInt8] { encode(kind, json.serializedBytes()) }

    /// Serial bytes as one or more AT frames.
    package static func encodeAT(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + maxPayload, bytes.count)
            out += encode(.at, bytes[start..<end])
            start = end
        }
        return out
    }

    package static func hello(token: String?, error: String? = nil) -> [UInt8] {
        var object: JSONObject = ["protocol": .string(protocolName), "version": .int(version)]
        if let token { object["token"] = .string(token) }
        if let error { object["error"] = .string(error) }
        return encode(.hello, json: .object(object))
    }
}

/// Splits a framed link's byte stream into frames; chunking-safe.
package struct ModemSimFrameDecoder {
    package struct Frame {
        package let kind: ModemSimFrame.Kind
        package let payload: ArraySlice<UInt8>

        package init(kind: ModemSimFrame.Kind, payload: ArraySlice<UInt8>) {
            self.kind = kind
            self.payload = payload
        }
    }

    package init() {}

    private var framer = LengthPrefixedFramer(prefixWidth: .four, maxFrameLength: ModemSimFrame.maxPayload + 1)

    /// Whole frames in `bytes` plus what was buffered; unknown kinds are skipped (newer peers).
    package mutating func feed(_ bytes: some Collection<UInt8>) throws(DecodeError) -> [Frame] {
        var frames: [Frame] = []
        for body in try framer.feed(bytes) {
            guard let first = body.first, let kind = ModemSimFrame.Kind(rawValue: first) else { continue }
            frames.append(Frame(kind: kind, payload: body.dropFirst()))
        }
        return frames
    }

    /// A hello frame's JSON, checked: nil and a reason when it is not ours.
    package static func parseHello(_ payload: ArraySlice<UInt8>) -> (JSONObject?, String?) {
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
