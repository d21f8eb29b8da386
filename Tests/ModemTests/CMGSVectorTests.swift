import Foundation
import Modem
import Testing

/// `Protocols/vectors/modem/cmgs.txt`: `+CMGS` in PDU mode with honest and lying lengths.
struct CMGSVectorTests {
    static func vectorLines(_ name: String) throws -> [String] {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url = url.deletingLastPathComponent()
        }
        let text = try String(
            contentsOf: url.appendingPathComponent("Protocols/vectors/modem/\(name)"), encoding: .utf8)
        return text.split(separator: "\n").map(String.init).filter {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#")
        }
    }

    @Test func everyLengthCaseGetsItsFinalResultAndTheModemStaysUsable() throws {
        let lines = try CMGSVectorTests.vectorLines("cmgs.txt")
        #expect(lines.count >= 8)
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMGF=0")
        for line in lines {
            let fields = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
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
        #expect(host.modem.sent.count == lines.filter { $0.hasSuffix("+CMGS") }.count)
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
