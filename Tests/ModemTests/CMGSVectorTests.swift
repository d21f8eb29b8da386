import Foundation
import Modem
import Testing
import VectorSupport

/// `Protocols/vectors/modem/cmgs.vectors`: `+CMGS` in PDU mode with honest and lying lengths.
struct CMGSVectorTests {
    @Test func everyLengthCaseGetsItsFinalResultAndTheModemStaysUsable() throws {
        let vectors = try VectorSet("modem/cmgs.vectors").vectors
        #expect(vectors.count >= 8)
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMGF=0")
        for vector in vectors {
            let line = vector.name
            let fields = try ["length", "pdu", "result"].map { try vector.text($0) }
            let answer = host.send("AT+CMGS=\(fields[0])")
            var final = answer
            if answer == "\r\n> " {
                final = host.bytes(Array(fields[1].utf8) + [0x1A])
            } else {
                #expect(fields[1] == "-", "\(line): no prompt but a PDU is given")
            }
            #expect(final.contains("\r\n\(fields[2])"), "\(line): got \(final.debugDescription)")
            #expect(host.send("AT") == "\r\nOK\r\n", "usable after \(line)")
        }
        #expect(host.modem.sent.count == vectors.filter { $0["result"] == "+CMGS" }.count)
        #expect(host.modem.sent.first?.text == "hello" && host.modem.sent.first?.destination == "1234657")
    }

    @Test func longTextModeMessageGoesOutConcatenated() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMGF=1")
        let text = String(repeating: "0123456789", count: 31) + "{end}"  // 310 + 5 chars, braces escape
        #expect(host.send("AT+CMGS=\"+15550001\"") == "\r\n> ")
        let final = host.bytes(Array(text.utf8) + [0x1A])
        #expect(final == "\r\n+CMGS: 2\r\n\r\nOK\r\n")
        let sent = host.modem.sent
        #expect(sent.count == 3)
        #expect(sent.map { $0.concatenation?.sequence } == [1, 2, 3])
        #expect(Set(sent.map { $0.concatenation?.reference }).count == 1)
        #expect(sent.compactMap(\.text).joined() == text)
        // UCS2 text splits at 67 UTF-16 units.
        #expect(host.send("AT+CMGS=\"+15550001\"") == "\r\n> ")
        _ = host.bytes(Array(String(repeating: "Ж", count: 100).utf8) + [0x1A])
        #expect(host.modem.sent.count == 5 && host.modem.sent.last?.alphabet == .ucs2)
    }
}
