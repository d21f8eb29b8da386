import ATWire
import Foundation
import Testing
import VectorSupport

struct SMSPDUTests {
    @Test func specificationVectorsDecodeAndReencode() throws {
        let vectors = try VectorSet("modem/pdus.vectors").vectors
        #expect(vectors.count >= 7)
        var parts: [Int: [Int: String]] = [:]
        var joinedChecked = 0
        var roundTripsChecked = 0
        for vector in vectors {
            let fields = try ["kind", "hex", "address", "text", "extra"].map { try vector.text($0) }
            if fields[0] == "joined" {
                // The parts seen so far with this reference, in sequence order, give the whole text.
                let reference = try #require(Int(fields[2]))
                let byReference = try #require(parts[reference])
                #expect(byReference.keys.sorted().map { byReference[$0]! }.joined() == fields[3])
                joinedChecked += 1
                continue
            }
            let bytes = try vector.bytes()
            if fields[0] == "roundtrip" {
                let submit = try SMSSubmit.decode(bytes)
                #expect(submit.destination.number == fields[2])
                let again = try SMSSubmit.decode(try submit.encoded())
                #expect(again == submit, "\(fields[1]) re-encodes to \(again.destination.number)")
                roundTripsChecked += 1
                continue
            }
            if fields[0] == "part" {
                let pdu = try SMSPDU.decode(bytes)
                let deliver = try SMSDeliver.decode(pdu.tpdu)
                let expected = fields[4].split(separator: "/").compactMap { Int($0) }
                let concat = try #require(deliver.userData.concatenation)
                #expect([Int(concat.reference), concat.total, concat.sequence] == expected)
                #expect(deliver.originator.number == fields[2])
                // The vector's text field is trimmed, so compare without the trailing space.
                let text = try #require(deliver.userData.text)
                #expect(text.trimmingCharacters(in: .whitespaces) == fields[3])
                parts[Int(concat.reference), default: [:]][concat.sequence] = text
                #expect(try deliver.encoded() == pdu.tpdu)
                #expect(try pdu.encoded() == bytes)
                continue
            }
            let pdu = try SMSPDU.decode(bytes)
            if fields[0] == "deliver" {
                let deliver = try SMSDeliver.decode(pdu.tpdu)
                #expect(deliver.originator.number == fields[2])
                #expect(deliver.userData.text == fields[3])
                #expect(deliver.timestamp.text == fields[4])
                #expect(try deliver.encoded() == pdu.tpdu, "re-encoding \(fields[1])")
            } else {
                let submit = try SMSSubmit.decode(pdu.tpdu)
                #expect(submit.destination.number == fields[2])
                #expect(submit.userData.text == fields[3])
                #expect(Int(submit.messageReference) == Int(fields[4]))
                #expect(try submit.encoded() == pdu.tpdu)
            }
            #expect(try pdu.encoded() == bytes)
        }
        #expect(joinedChecked >= 1)
        #expect(roundTripsChecked >= 1)
    }

    @Test func gsmAlphabetRoundTripsIncludingExtension() throws {
        let text = "@£$ Ä{€}[~]^|\\ ok"
        let septets = try #require(GSM7.septets(text))
        for fill in 0..<7 {
            let packed = GSM7.pack(septets, fillBits: fill)
            #expect(GSM7.text(try #require(GSM7.unpack(packed, count: septets.count, fillBits: fill))) == text)
        }
        #expect(GSM7.septets("日本") == nil)
        #expect(
            GSM7.pack(Array("hellohello".unicodeScalars.map { UInt8($0.value) })) == UCS2.unhex("E8329BFD4697D9EC37"))
    }

    @Test func longTextSplitsIntoConcatenatedPartsThatReassemble() throws {
        let text = String(repeating: "0123456789", count: 40) + "€"
        let parts = try SMSUserData.split(text, reference: 0x42)
        #expect(parts.count == 3)
        var rebuilt = ""
        for (index, part) in parts.enumerated() {
            let deliver = SMSDeliver(
                originator: SMSAddress("+4930123"),
                timestamp: SMSTimestamp(year: 2024, month: 1, day: 2, hour: 3, minute: 4, second: 5), userData: part)
            let decoded = try SMSDeliver.decode(try deliver.encoded())
            let concat = try #require(decoded.userData.concatenation)
            #expect(concat.reference == 0x42 && concat.total == 3 && concat.sequence == index + 1)
            rebuilt += decoded.userData.text ?? ""
        }
        #expect(rebuilt == text)
        let ucs = try SMSUserData.split(String(repeating: "Ж", count: 150), reference: 7)
        #expect(ucs.count == 3 && ucs.allSatisfy { $0.alphabet == .ucs2 })
    }

    @Test func sixteenBitReferenceIsRead() throws {
        let data = SMSUserData(
            alphabet: .gsm7, header: [0x08, 4, 0x12, 0x34, 2, 1], text: "hi", payload: GSM7.septets("hi")!)
        let submit = SMSSubmit(messageReference: 1, destination: SMSAddress("123"), userData: data)
        let decoded = try SMSSubmit.decode(try submit.encoded())
        #expect(
            decoded.userData.concatenation
                == SMSConcatenation(reference: 0x1234, total: 2, sequence: 1, sixteenBitReference: true))
        #expect(decoded.userData.text == "hi")
    }

    @Test func lyingLengthsAreRefused() throws {
        let good = try #require(UCS2.unhex("0001000B915121551532F400000CC8F79D9C07E54F61363B04"))
        #expect(throws: SMSPDUError.self) { try SMSPDU.decode(good, tpduLength: 30) }
        let pdu = try SMSPDU.decode(good, tpduLength: good.count - 1)
        #expect(try SMSSubmit.decode(pdu.tpdu).userData.text == "Howdy y'all!")
        var truncated = pdu.tpdu
        truncated.removeLast()
        #expect(throws: SMSPDUError.self) { try SMSSubmit.decode(truncated) }
        var longer = pdu.tpdu
        longer[12] = 0x7F  // TP-UDL claims far more than the PDU holds
        #expect(throws: SMSPDUError.self) { try SMSSubmit.decode(longer) }
    }

    /// Found by Tools/fuzz/run-at-fuzz.sh: hex-digit semi-octets in TP-SCTS decoded to an hour of 147,
    /// which re-encoded as 47. They are refused instead.
    @Test func nonDecimalTimestampIsRefused() throws {
        let input: [UInt8] = [20, 20, 20, 20, 20, 186, 20, 20, 20, 20, 20, 20, 65, 1, 1, 0, 0, 0, 126, 0, 180, 0, 0]
        #expect(throws: SMSPDUError("TP-SCTS octet 4 is not two decimal semi-octets")) {
            try SMSDeliver.decode(input)
        }
    }

    /// Found by the fuzzer: an alphanumeric SMSC address decoded to text that re-encoded differently.
    @Test func alphanumericServiceCentreIsRefused() throws {
        let input: [UInt8] = [8, 213, 215, 40, 40, 0, 0, 255, 255] + Array(repeating: 255, count: 24)
        #expect(throws: SMSPDUError("the SMSC address cannot be alphanumeric")) { try SMSPDU.decode(input) }
    }

    @Test func truncatedPrefixesNeverCrash() throws {
        let bytes = try #require(UCS2.unhex("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"))
        for count in 0..<bytes.count {
            _ = try? SMSPDU.decode(Array(bytes.prefix(count))).tpdu
            _ = try? SMSDeliver.decode(Array(bytes.dropFirst(8).prefix(count)))
        }
    }
}
