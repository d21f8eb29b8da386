import ControlWire
import JSON
import Testing
import VectorSupport

@Suite struct ControlCodecTests {
    @Test func requestVectors() throws {
        let cases = try VectorSet("control/requests.vectors").vectors
        #expect(cases.count >= 15)
        for vector in cases {
            let name = vector.name
            let line = try #require(vector["line"], "\(name)")
            let expect = try JSON.parse(try #require(vector["expect"], "\(name)"))
            do {
                let request = try ControlRequest.decode(line: Array(line.utf8))
                var got: JSONObject = [:]
                if let id = request.id { got["id"] = id }
                got["method"] = .string(request.method)
                if let params = request.params { got["params"] = params }
                #expect(JSON.object(["request": .object(got)]) == expect, "\(name)")
                // What decodes must re-encode to something that decodes to the same request.
                #expect(try ControlRequest.decode(line: request.encodedLine().dropLast()) == request, "\(name)")
            } catch {
                var got: JSONObject = [
                    "id": error.id, "code": .int(Int64(error.error.code.rawValue)),
                    "reason": .string(error.error.reason ?? ""),
                ]
                if let param = error.error.data?["param"] { got["param"] = param }
                #expect(JSON.object(["error": .object(got)]) == expect, "\(name)")
            }
        }
    }

    @Test func invalidUTF8IsAParseError() {
        let line: [UInt8] = Array(#"{"jsonrpc":"2.0","id":1,"method":""#.utf8) + [0xff] + Array(#""}"#.utf8)
        #expect(throws: ControlFailure(id: .null, error: .parseError("invalid UTF-8 at byte 34"))) {
            try ControlRequest.decode(line: line)
        }
    }

    /// The hub's own constructors produce exactly the bytes the spec shows.
    @Test func messageVectors() throws {
        let cases = try VectorSet("control/messages.vectors").vectors
        var built: [String: [UInt8]] = [:]
        built["result"] = ControlResponse(id: 1, result: ["partitions": ["rtos", "linux"]]).encodedLine()
        built["null id result"] = ControlResponse(id: nil, result: true).encodedLine()
        built["method not found"] = ControlResponse(id: 7, error: .methodNotFound("no.such")).encodedLine()
        built["invalid params names the parameter"] =
            try failure(id: "p") { () throws(ControlError) in _ = try ControlParams([:]).requireString("partition") }
        built["wrong parameter type"] =
            try failure(id: 3) { () throws(ControlError) in _ = try ControlParams(["line": "3"]).requireInt("line") }
        built["not found"] = ControlResponse(id: 4, error: .notFound("partition", name: "modem")).encodedLine()
        built["timeout"] = ControlResponse(id: 5, error: .timeout(afterMs: 250)).encodedLine()
        built["bad token"] =
            ControlResponse(id: 1, error: .unauthorized("wrong token", reason: "bad_token")).encodedLine()
        built["line too long"] =
            ControlResponse(
                id: nil, error: .limitExceeded("maxLineBytes", value: 1_048_576, reason: "line_too_long")
            ).encodedLine()
        built["greeting"] =
            HubHello(version: "0.1.0", capabilities: ["events", "events.wait", "irq", "msg"], auth: .none)
            .notification.encodedLine()
        built["event"] =
            ControlNotification(
                method: ControlProtocol.eventMethod,
                params: [
                    "seq": 42, "time": ["unixNs": 1_700_000_000_000_000_000, "monoNs": 5_000_000], "kind": "irq.raised",
                    "partition": "linux", "device": nil, "data": ["line": 3, "from": "tester"],
                ]
            ).encodedLine()
        built["missed marker"] =
            ControlNotification(
                method: ControlProtocol.missedMethod,
                params: ["count": 3, "firstSeq": 10, "lastSeq": 12, "reason": "outbox_full"]
            ).encodedLine()

        #expect(cases.count == built.count)
        for vector in cases {
            let name = vector.name
            let line = try #require(vector["line"])
            let bytes = try #require(built[name], "no builder for vector '\(name)'")
            #expect(String(decoding: bytes, as: UTF8.self) == line + "\n", "\(name)")
            // And the client side decodes it back to the same message.
            let message = try ControlMessage.decode(line: Array(line.utf8))
            #expect(message.json.serialized() == line, "\(name)")
        }
    }

    private func failure(id: JSON, _ body: () throws(ControlError) -> Void) throws -> [UInt8] {
        do {
            try body()
        } catch {
            return ControlResponse(id: id, error: error).encodedLine()
        }
        Issue.record("expected an error")
        return []
    }

    @Test func clientDecodesResponsesAndNotifications() throws {
        let ok = try ControlMessage.decode(line: Array(#"{"jsonrpc":"2.0","id":1,"result":null}"#.utf8))
        #expect(ok == .response(ControlResponse(id: 1, result: nil)))
        let hello = try ControlMessage.decode(
            line: HubHello(version: "1", capabilities: [], auth: .token)
                .notification.encodedLine().dropLast())
        guard case .notification(let notification) = hello else {
            Issue.record("not a notification: \(hello)")
            return
        }
        #expect(HubHello(notification)?.auth == .token)
        #expect(throws: ControlFailure.self) {
            try ControlMessage.decode(line: Array(#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#.utf8))
        }
        #expect(throws: ControlFailure.self) { try ControlMessage.decode(line: Array(#"{"id":1,"result":1}"#.utf8)) }
    }

    @Test func errorCarriesItsReason() {
        let error = ControlError.notFound("link", name: "rtos-linux")
        #expect(error.reason == "no_such_link")
        #expect(error.code == .notFound)
        #expect(ControlError(json: error.json) == error)
        #expect(error.description == "No such link: rtos-linux (no_such_link, code -32002)")
    }
    /// A result serialised beforehand (`hub.info`'s) goes into the answer as it is: the same line as the result
    /// given as a value, and read back as that value.
    @Test func anEncodedResultIsWrittenAsTheSameLine() {
        let results: [JSON] = [[:], ["server": "hubd", "loop": ["passes": 3], "s": "a\"b\n"], [1, nil, "é"], true]
        for id: JSON in [.null, 7, "x\"y"] {
            for result in results {
                let encoded = ControlResponse(id: id, outcome: .encodedResult(result.serializedBytes()))
                let plain = ControlResponse(id: id, result: result)
                #expect(encoded.encodedLine() == plain.encodedLine(), "\(id) \(result)")
                #expect(encoded.result == result)
                #expect(encoded.error == nil)
                #expect(encoded.json == plain.json)
            }
        }
    }

    /// The envelope checks read the members in place: any order is fine, an unknown member or a `jsonrpc` that is
    /// not exactly the string "2.0" is refused with the request's id.
    @Test func requestEnvelopeChecks() throws {
        let reordered = try ControlRequest.decode(
            line: Array(#"{"params":{},"method":"m","id":3,"jsonrpc":"2.0"}"#.utf8))
        #expect(reordered == ControlRequest(id: 3, method: "m", params: [:]))
        let refused = [
            #"{"jsonrpc":"2.0","id":4,"method":"m","extra":1}"#, #"{"jsonrpc":2.0,"id":4,"method":"m"}"#,
            #"{"jsonrpc":"2.0 ","id":4,"method":"m"}"#, #"{"jsonrpc":["2.0"],"id":4,"method":"m"}"#,
            #"{"id":4,"method":"m"}"#, #"{"jsonrpc":"2.0","id":4,"method":"m","Params":{}}"#,
        ]
        for text in refused {
            #expect(throws: ControlFailure.self, "\(text)") { try ControlRequest.decode(line: Array(text.utf8)) }
            do {
                _ = try ControlRequest.decode(line: Array(text.utf8)[...])
            } catch {
                #expect(error.id == 4, "\(text)")
                #expect(error.error.code == .invalidRequest, "\(text)")
            }
        }
    }

    /// Answers and notifications are written straight into one buffer; the bytes are those of their JSON form
    /// framed as a line, for results, errors, every kind of id, and notifications with and without params.
    @Test func encodedLinesAreTheirJSONFramed() {
        let ids: [JSON] = [.null, 0, -7, .int(Int64.max), "a\"b\\c\n", "é😀", 1.5]
        let results: [JSON] = [
            [:], [], nil, true, ["server": "hubd", "pid": 42, "loop": ["passes": 3, "p99PassUs": 0]], "\u{1}",
        ]
        for id in ids {
            for result in results {
                let response = ControlResponse(id: id, result: result)
                #expect(response.encodedLine() == LineFramer.encode(response.json), "\(id) \(result)")
            }
            let errors: [ControlError] = [
                .invalidParams(param: "as", expected: "test peer name", detail: "'rtos' is a partition name"),
                .limitExceeded("controlMaxLineBytes", value: 1_048_576, reason: "line_too_long"),
            ]
            for error in errors {
                let response = ControlResponse(id: id, error: error)
                #expect(response.encodedLine() == LineFramer.encode(response.json), "\(id) \(error)")
            }
        }
        let notifications = [
            ControlNotification(method: "event", params: ["seq": 9, "kind": "irq.raised", "partition": nil]),
            ControlNotification(method: "events.missed", params: ["count": 3]),
            ControlNotification(method: "hub.hello"), ControlNotification(method: "odd\"name", params: []),
        ]
        for notification in notifications {
            #expect(notification.encodedLine() == LineFramer.encode(notification.json), "\(notification.method)")
        }
    }
}
