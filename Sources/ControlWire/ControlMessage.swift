import JSON

/// Any line a peer may send, as seen by a client: a response to one of its requests, or a
/// notification from the server. (Servers decode with ``ControlRequest/decode(line:maxDepth:)``.)
package enum ControlMessage: Sendable, Hashable {
    case response(ControlResponse)
    case notification(ControlNotification)
    case request(ControlRequest)

    /// Decodes a line received from a peer.
    package static func decode(line: some Collection<UInt8>, maxDepth: Int = JSON.defaultMaxDepth)
        throws(ControlFailure) -> ControlMessage
    {
        let value: JSON
        do {
            value = try JSON.parse(line, maxDepth: maxDepth)
        } catch {
            throw ControlFailure(id: .null, error: .parseError(error.description))
        }
        return try decode(value)
    }

    package static func decode(_ value: JSON) throws(ControlFailure) -> ControlMessage {
        guard case .object(let object) = value, object["jsonrpc"] == "2.0" else {
            throw ControlFailure(id: .null, error: .invalidRequest("not a JSON-RPC 2.0 message"))
        }
        if object.contains("result") || object.contains("error") {
            let id = object["id"] ?? .null
            if let result = object["result"], !object.contains("error") {
                return .response(ControlResponse(id: id, result: result))
            }
            if let raw = object["error"], !object.contains("result"), let error = ControlError(json: raw) {
                return .response(ControlResponse(id: id, error: error))
            }
            throw ControlFailure(id: id, error: .invalidRequest("a response needs exactly one of result or error"))
        }
        let request = try ControlRequest.decode(value)
        if request.isNotification {
            return .notification(ControlNotification(method: request.method, params: request.params))
        }
        return .request(request)
    }

    package var json: JSON {
        switch self {
        case .response(let response): return response.json
        case .notification(let notification): return notification.json
        case .request(let request): return request.json
        }
    }
}
