import JSON

/// A JSON-RPC 2.0 response: exactly one of `result` or `error`, tied to its request by `id`.
package struct ControlResponse: Sendable, Hashable {
    package enum Outcome: Sendable, Hashable {
        case result(JSON)
        /// A result already serialised as compact JSON text (the hub's side only: a client reads `result`).
        case encodedResult([UInt8])
        case error(ControlError)
    }

    /// The id of the request answered; `null` when the request's id could not be read.
    package var id: JSON
    package var outcome: Outcome

    package init(id: JSON, outcome: Outcome) {
        self.id = id
        self.outcome = outcome
    }

    package init(id: JSON, result: JSON) { self.init(id: id, outcome: .result(result)) }
    package init(id: JSON, error: ControlError) { self.init(id: id, outcome: .error(error)) }

    /// The result, or nil for an error response.
    package var result: JSON? {
        switch outcome {
        case .result(let value): return value
        case .encodedResult(let text): return try? JSON.parse(text)
        case .error: return nil
        }
    }

    /// The error, or nil for a successful response.
    package var error: ControlError? {
        if case .error(let value) = outcome { return value }
        return nil
    }

    package var json: JSON {
        var object: JSONObject = ["jsonrpc": "2.0", "id": id]
        switch outcome {
        case .result(let value): object["result"] = value
        case .encodedResult: object["result"] = result ?? .null
        case .error(let error): object["error"] = error.json
        }
        return .object(object)
    }

    /// The response as one line, newline included: the bytes `LineFramer.encode(json)` gives, written straight
    /// into one buffer without building the enclosing object (every answer goes through here).
    package func encodedLine() -> [UInt8] {
        var out: [UInt8] = []
        if case .encodedResult(let text) = outcome {
            out.reserveCapacity(text.count + 64)
        } else {
            out.reserveCapacity(256)
        }
        writeLine(into: &out)
        return out
    }

    /// Appends ``encodedLine()``'s bytes to `out`: a session writes its answers into the buffer of its pass's
    /// write, with no line of their own allocated and copied in (every request is answered).
    package func writeLine(into out: inout [UInt8]) {
        JSON.writeRaw(#"{"jsonrpc":"2.0","id":"#, into: &out)
        id.write(into: &out)
        switch outcome {
        case .result(let value):
            JSON.writeRaw(#","result":"#, into: &out)
            value.write(into: &out)
        case .encodedResult(let text):
            JSON.writeRaw(#","result":"#, into: &out)
            out.append(contentsOf: text)
        case .error(let error):
            JSON.writeRaw(#","error":"#, into: &out)
            error.json.write(into: &out)
        }
        JSON.writeRaw("}\n", into: &out)
    }
}
