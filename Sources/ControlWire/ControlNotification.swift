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

    /// The notification as one line, newline included: the bytes `LineFramer.encode(json)` gives, written
    /// straight into one buffer (every event goes through here).
    package func encodedLine() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSON.writeRaw(#"{"jsonrpc":"2.0","method":"#, into: &out)
        JSON.writeString(method, into: &out)
        if let params {
            JSON.writeRaw(#","params":"#, into: &out)
            params.write(into: &out)
        }
        JSON.writeRaw("}\n", into: &out)
        return out
    }
}
