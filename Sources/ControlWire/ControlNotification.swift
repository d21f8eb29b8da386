import JSON

/// A server-to-client notification (no id, no response): the `hub.hello` greeting and `event`s.
package struct ControlNotification: Sendable, Hashable {
    package var method: String
    package var params: JSON?

    package init(method: String, params: JSON? = nil) {
        self.method = method
        self.params = params
    }

    package var json: JSON {
        var object: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { object["params"] = params }
        return .object(object)
    }

    /// The notification as one line, newline included.
    package func encodedLine() -> [UInt8] { LineFramer.encode(json) }
}
