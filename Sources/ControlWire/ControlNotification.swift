import JSON

/// A server-to-client notification (no id, no response): the `hub.hello` greeting and `event`s.
public struct ControlNotification: Sendable, Hashable {
    public var method: String
    public var params: JSON?

    public init(method: String, params: JSON? = nil) {
        self.method = method
        self.params = params
    }

    public var json: JSON {
        var object: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { object["params"] = params }
        return .object(object)
    }

    /// The notification as one line, newline included.
    public func encodedLine() -> [UInt8] { LineFramer.encode(json) }
}
