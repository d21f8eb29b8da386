// JSON-RPC 2.0 requests (`Protocols/control.md` §3). A request without an `id` member is a
// notification: the server runs it and sends no response.
import JSON

/// One request or notification from a client.
package struct ControlRequest: Sendable, Hashable {
    /// The request id (string, integer or null); nil when the member is absent, i.e. a notification.
    package var id: JSON?
    package var method: String
    /// The `params` member (an object or an array), nil when absent.
    package var params: JSON?

    package init(id: JSON?, method: String, params: JSON? = nil) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// True when no response is expected.
    package var isNotification: Bool { id == nil }

    /// The request as a JSON object.
    package var json: JSON {
        var object: JSONObject = ["jsonrpc": "2.0"]
        if let id { object["id"] = id }
        object["method"] = .string(method)
        if let params { object["params"] = params }
        return .object(object)
    }

    /// The request as one line, newline included.
    package func encodedLine() -> [UInt8] { LineFramer.encode(json) }

    /// Decodes one line (without its newline) into a request.
    ///
    /// On failure the thrown ``ControlFailure`` carries the response to send: `-32700` for text
    /// that is not JSON, `-32600` for JSON that is not a request (with the id when one could be read).
    package static func decode(line: some Collection<UInt8>, maxDepth: Int = JSON.defaultMaxDepth)
        throws(ControlFailure) -> ControlRequest
    {
        try decode(line: ArraySlice(line), maxDepth: maxDepth)
    }

    /// ``decode(line:maxDepth:)`` for the framer's lines, without a generic copy of each.
    package static func decode(line: ArraySlice<UInt8>, maxDepth: Int = JSON.defaultMaxDepth)
        throws(ControlFailure) -> ControlRequest
    {
        let value: JSON
        do {
            value = try JSON.parse(line, maxDepth: maxDepth)
        } catch {
            throw ControlFailure(id: .null, error: .parseError(error.description))
        }
        return try decode(value)
    }

    /// Validates a parsed JSON value as a request.
    package static func decode(_ value: JSON) throws(ControlFailure) -> ControlRequest {
        guard case .object(let object) = value else {
            if case .array = value {
                throw ControlFailure(
                    id: .null, error: .invalidRequest("batches are not supported", reason: "batch_not_supported"))
            }
            throw ControlFailure(id: .null, error: .invalidRequest("a request must be a JSON object"))
        }
        // Read the id first so that every later error can be tied to the request that caused it.
        var id: JSON? = nil
        if let rawID = object["id"] {
            switch rawID {
            // An integer as written (no fraction, no exponent, within 64 bits signed): anything else could not be
            // echoed as sent (`1.0` would come back as `1`, 2^63 rounded), and the client could not match its answer.
            case .string, .int, .null: id = rawID
            default:
                throw ControlFailure(
                    id: .null,
                    error: .invalidRequest(
                        "'id' must be a string, an integer (no fraction or exponent, 64-bit) or null"))
            }
        }
        let replyID = id ?? .null
        guard case .string("2.0")? = object["jsonrpc"] else {
            throw ControlFailure(id: replyID, error: .invalidRequest("'jsonrpc' must be \"2.0\""))
        }
        guard let method = object["method"]?.stringValue, !method.isEmpty else {
            throw ControlFailure(id: replyID, error: .invalidRequest("'method' must be a non-empty string"))
        }
        var params: JSON? = nil
        if let rawParams = object["params"] {
            switch rawParams {
            case .object, .array: params = rawParams
            default:
                throw ControlFailure(id: replyID, error: .invalidRequest("'params' must be an object or an array"))
            }
        }
        // Any member but the four a request may have is refused (looked at in place: no array of keys per request).
        for member in object.members {
            switch member.key {
            case "jsonrpc", "id", "method", "params": continue
            default: throw ControlFailure(id: replyID, error: .invalidRequest("unknown member '\(member.key)'"))
            }
        }
        return ControlRequest(id: id, method: method, params: params)
    }
}

/// A request that could not be decoded, with the id to answer (null when none could be read).
package struct ControlFailure: Error, Sendable, Hashable {
    package var id: JSON
    package var error: ControlError

    package init(id: JSON, error: ControlError) {
        self.id = id
        self.error = error
    }

    /// The error response to send back.
    package var response: ControlResponse { ControlResponse(id: id, error: error) }
}
