import JSON
import Modem
import Testing

@testable import ModemServer

/// `hubd modem-sim`'s side of the link's control frames and hello (Protocols/modem.md §6.1), fed what a hostile
/// or confused hub might send: requests are answered with JSON-RPC errors, never converted unchecked.
struct ModemSimServerTests {
    static func answer(_ text: String) throws -> JSON {
        let simulator = ModemSimulator(now: 0)
        return ModemSimServer.answer(Array(text.utf8)[...], simulator)
    }

    @Test func garbageRequestsGetErrorsAndPingIsAnswered() throws {
        #expect(try Self.answer("not json")["error"]?["code"] == -32600)
        #expect(try Self.answer(#"{"id":1}"#)["error"]?["code"] == -32600)
        #expect(try Self.answer(#"[1,2,3]"#)["id"] == .null)
        #expect(try Self.answer(#"{"id":7,"method":"ping","params":{}}"#) == ["id": 7, "result": [:]])
        #expect(try Self.answer(#"{"id":8,"method":"reboot"}"#)["error"]?["code"] == -32601)
        // Out-of-range and wrongly typed numbers are refused before anything is converted.
        let huge = try Self.answer(#"{"id":9,"method":"signal","params":{"rssi":1e300}}"#)
        #expect(huge["error"]?["code"] == -32602 && huge["id"] == 9)
        let text = try Self.answer(#"{"id":10,"method":"call.hangup","params":{"id":"1"}}"#)
        #expect(text["error"]?["code"] == -32602)
        let answered = try Self.answer(#"{"id":11,"method":"signal","params":{"rssi":20}}"#)
        #expect(answered["result"] == ["rssi": 20, "ber": 0])
    }

    /// The modem a hub asks for in its hello: values out of the configuration's ranges keep the defaults.
    @Test func aHellosProfileOutOfRangeKeepsTheDefaults() throws {
        let defaults = ModemProfile()
        let hostile: JSONObject = [
            "pin": "12ab", "number": .string(String(repeating: "9", count: 100)),
            "operator": ["name": "", "shortName": "x", "numeric": "1"],
            "maxLineBytes": .int(1 << 40), "smsCapacity": -1, "maxCalls": 99, "ringIntervalMs": "3000",
        ]
        let profile = ModemSimServer.profile(from: hostile)
        #expect(profile.pin == defaults.pin && profile.ownNumber == defaults.ownNumber)
        #expect(profile.maxLineBytes == defaults.maxLineBytes && profile.smsCapacity == defaults.smsCapacity)
        #expect(profile.maxCalls == defaults.maxCalls && profile.ringIntervalMs == defaults.ringIntervalMs)
        #expect(profile.homeOperator.numeric == defaults.homeOperator.numeric)
        let good = ModemSimServer.profile(from: ["pin": "4321", "maxCalls": 2, "number": "+4912345"])
        #expect(good.pin == "4321" && good.maxCalls == 2 && good.ownNumber == "+4912345")
    }
}
