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
        out.append(contentsOf: #"{"jsonrpc":"2.0","method":"#.utf8)
        JSON.writeString(method, into: &out)
        if let params {
            out.append(contentsOf: #","params":"#.utf8)
            params.write(into: &out)
        }
        out.append(contentsOf: "}\n".utf8)
        return out
    }
}
