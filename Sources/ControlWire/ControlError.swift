import JSON

/// A JSON-RPC 2.0 error code (`Protocols/control.md` §7). Any integer may arrive from a peer;
/// the named constants are the ones the hub sends.
package struct ControlErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    package var rawValue: Int
    package init(rawValue: Int) { self.rawValue = rawValue }

    /// The line is not JSON.
    package static let parseError = ControlErrorCode(rawValue: -32700)
    /// The JSON is not a valid request object.
    package static let invalidRequest = ControlErrorCode(rawValue: -32600)
    package static let methodNotFound = ControlErrorCode(rawValue: -32601)
    package static let invalidParams = ControlErrorCode(rawValue: -32602)
    package static let internalError = ControlErrorCode(rawValue: -32603)
    /// Authentication is required or failed.
    package static let unauthorized = ControlErrorCode(rawValue: -32000)
    /// The platform policy does not allow this (e.g. a test peer the link does not admit).
    package static let forbidden = ControlErrorCode(rawValue: -32001)
    /// A named thing (partition, link, subscription, …) does not exist.
    package static let notFound = ControlErrorCode(rawValue: -32002)
    /// The target is in a state that does not allow the request.
    package static let conflict = ControlErrorCode(rawValue: -32003)
    /// A configured limit would be exceeded.
    package static let limitExceeded = ControlErrorCode(rawValue: -32004)
    /// A server-side wait ended without a match.
    package static let timeout = ControlErrorCode(rawValue: -32005)
    /// The hub is shutting down or the service is not available.
    package static let unavailable = ControlErrorCode(rawValue: -32006)

    package var description: String { String(rawValue) }
}

/// A JSON-RPC error object: `{"code":…,"message":…,"data":{"reason":…,…}}`.
///
/// Every error the hub sends carries `data.reason`, a stable snake_case string that scripts match on
/// (messages are for humans and may change). Handlers throw it; the session turns it into a response.
package struct ControlError: Error, Sendable, Hashable, CustomStringConvertible {
    package var code: ControlErrorCode
    package var message: String
    /// The `data` member: an object holding at least `reason` when the hub built it.
    package var data: JSON?

    package init(code: ControlErrorCode, message: String, data: JSON? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// An error with `data = {"reason": reason, …details}`.
    package init(code: ControlErrorCode, reason: String, message: String, details: JSONObject = [:]) {
        var object: JSONObject = ["reason": .string(reason)]
        for (key, value) in details { object[key] = value }
        self.init(code: code, message: message, data: .object(object))
    }

    /// `data.reason`, when present.
    package var reason: String? { data?["reason"]?.stringValue }

    package var description: String {
        if let reason { return "\(message) (\(reason), code \(code.rawValue))" }
        return "\(message) (code \(code.rawValue))"
    }

    /// The error object as JSON.
    package var json: JSON {
        var object: JSONObject = ["code": .int(Int64(code.rawValue)), "message": .string(message)]
        if let data { object["data"] = data }
        return .object(object)
    }

    /// Reads an error object; nil if `json` does not have the JSON-RPC error shape.
    package init?(json: JSON) {
        guard let code = json["code"]?.intValue, let message = json["message"]?.stringValue else { return nil }
        self.init(code: ControlErrorCode(rawValue: code), message: message, data: json["data"])
    }
}

// MARK: - The errors the hub sends

extension ControlError {
    package static func parseError(_ detail: String) -> ControlError {
        ControlError(code: .parseError, reason: "parse_error", message: "Parse error: \(detail)")
    }

    package static func invalidRequest(_ detail: String, reason: String = "invalid_request") -> ControlError {
        ControlError(code: .invalidRequest, reason: reason, message: "Invalid request: \(detail)")
    }

    package static func methodNotFound(_ method: String) -> ControlError {
        ControlError(
            code: .methodNotFound, reason: "method_not_found", message: "Method not found: \(method)",
            details: ["method": .string(method)])
    }

    /// A parameter is missing, has the wrong type or an unacceptable value. The message names it.
    package static func invalidParams(param: String, expected: String, detail: String? = nil) -> ControlError {
        ControlError(
            code: .invalidParams, reason: "invalid_params",
            message: "Invalid params: '\(param)' \(detail ?? "must be \(expected)")",
            details: ["param": .string(param), "expected": .string(expected)])
    }

    package static func internalError(_ detail: String) -> ControlError {
        ControlError(code: .internalError, reason: "internal_error", message: "Internal error: \(detail)")
    }

    package static func unauthorized(_ detail: String, reason: String = "auth_required") -> ControlError {
        ControlError(code: .unauthorized, reason: reason, message: "Unauthorized: \(detail)")
    }

    package static func forbidden(_ detail: String, reason: String = "policy_denied") -> ControlError {
        ControlError(code: .forbidden, reason: reason, message: "Forbidden: \(detail)")
    }

    /// `kind` names what is missing ("partition", "link", …); the reason is `no_such_<kind>`.
    package static func notFound(_ kind: String, name: String) -> ControlError {
        ControlError(
            code: .notFound, reason: "no_such_\(kind)", message: "No such \(kind): \(name)",
            details: ["name": .string(name)])
    }

    package static func conflict(_ detail: String, reason: String = "wrong_state") -> ControlError {
        ControlError(code: .conflict, reason: reason, message: "Conflict: \(detail)")
    }

    /// `limit` names the limit as it appears in `hub.limits`.
    package static func limitExceeded(_ limit: String, value: Int64, reason: String = "limit_exceeded")
        -> ControlError
    {
        ControlError(
            code: .limitExceeded, reason: reason, message: "Limit exceeded: \(limit) is \(value)",
            details: ["limit": .string(limit), "value": .int(value)])
    }

    package static func timeout(afterMs milliseconds: Int64) -> ControlError {
        ControlError(
            code: .timeout, reason: "timeout", message: "Timed out after \(milliseconds) ms",
            details: ["timeoutMs": .int(milliseconds)])
    }

    package static func unavailable(_ detail: String, reason: String = "shutting_down") -> ControlError {
        ControlError(code: .unavailable, reason: reason, message: "Unavailable: \(detail)")
    }
}
