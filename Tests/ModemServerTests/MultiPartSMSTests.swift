import ATWire
import JSON
import Modem
import Testing

@testable import ModemServer

/// How `modem.sms.sent` joins the parts of multi-part messages (`Protocols/control.md` §14.12): in the order
/// they were sent, a part joining the newest open message with its key that lacks its sequence number.
struct MultiPartSMSTests {
    static func part(_ text: String, to: String = "+15550001", reference: UInt16, total: Int, sequence: Int)
        -> SentSMS
    {
        SentSMS(
            messageReference: 0, destination: to, text: text, alphabet: .gsm7, mode: "pdu", pduHex: "",
            concatenation: SMSConcatenation(reference: reference, total: total, sequence: sequence))
    }

    static func single(_ text: String) -> SentSMS {
        SentSMS(
            messageReference: 0, destination: "+15550001", text: text, alphabet: .gsm7, mode: "text", pduHex: "",
            concatenation: nil)
    }

    static func summary(_ message: JSONObject) -> String {
        let parts = (message["parts"]?.arrayValue ?? []).compactMap(\.intValue).map(String.init).joined(separator: ",")
        return "\(message["text"]?.stringValue ?? "?") [\(parts)] \(message["complete"]?.boolValue == true)"
    }

    /// A reference comes round again after 256 messages. The search by key alone joined the second message's
    /// parts to the first's (the first of each sequence won) and listed the first message twice.
    @Test func aReusedReferenceStartsANewMessage() {
        let sent = [
            Self.part("old-", reference: 5, total: 2, sequence: 1),
            Self.part("one", reference: 5, total: 2, sequence: 2),
            Self.single("between"),
            Self.part("new-", reference: 5, total: 2, sequence: 1),
            Self.part("two", reference: 5, total: 2, sequence: 2),
        ]
        let grouped = MultiPartMessages(sent)
        #expect(grouped.all.map(Self.summary) == ["old-one [0,1] true", "new-two [3,4] true"])
        #expect(grouped.messageOf == [0: 0, 1: 0, 3: 1, 4: 1])
        // The part that completes the second message carries it, not the first.
        let simulatorFree = MultiPartMessages(Array(sent.prefix(5)))
        #expect(simulatorFree.json(grouped.messageOf[4]!)["text"] == "new-two")
    }

    @Test func gapsOutOfOrderPartsAndRepeatsAreJoinedByWhenTheyCame() {
        let sent = [
            Self.part("c", reference: 9, total: 3, sequence: 3),  // out of order: joined by sequence
            Self.part("a", reference: 9, total: 3, sequence: 1),  // sequence 2 never comes: incomplete
            Self.part("x", to: "+15550002", reference: 9, total: 3, sequence: 1),  // another destination
            Self.part("A", reference: 7, total: 2, sequence: 1),
            Self.part("A again", reference: 7, total: 2, sequence: 1),  // sent again: a message of its own
            Self.part("B", reference: 7, total: 2, sequence: 2),  // joins the newest open one
        ]
        let grouped = MultiPartMessages(sent)
        #expect(
            grouped.all.map(Self.summary) == [
                "ac [1,0] false", "x [2] false", "A [3] false", "A againB [4,5] true",
            ])
    }

    /// A guest's PDU may carry any sequence number: parts 1 and 3 of a two-part message were `complete`.
    @Test func aPartNumberedOutsideItsTotalJoinsNoMessage() {
        let sent = [
            Self.part("one", reference: 5, total: 2, sequence: 1),
            Self.part("three", reference: 5, total: 2, sequence: 3),
            Self.part("zero", reference: 5, total: 2, sequence: 0),
        ]
        #expect(MultiPartMessages(sent).all.map(Self.summary) == ["one [0] false"])
    }

    @Test func aCompleteMessageTakesNoMoreParts() {
        let sent = [
            Self.part("1", reference: 3, total: 1, sequence: 1), Self.part("2", reference: 3, total: 1, sequence: 1),
        ]
        #expect(MultiPartMessages(sent).all.map(Self.summary) == ["1 [0] true", "2 [1] true"])
    }
}
