import ATWire
import Foundation
import Testing
import VectorSupport

struct ATLineAssemblerTests {
    static func describe(_ event: ATLineAssembler.Event) -> String {
        switch event {
        case .line(let text): "line:\(text)"
        case .garbage: "garbage"
        case .tooLong: "toolong"
        case .strayCtrlZ: "ctrlz"
        case .promptBody(let body):
            "body:" + String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\r", with: "\\r")
        case .promptAborted: "aborted"
        case .promptTooLong: "prompttoolong"
        }
    }

    /// The events a fresh assembler gives for the pieces, in order.
    static func run(_ pieces: [ArraySlice<UInt8>], prompt: Bool) -> [String] {
        var assembler = ATLineAssembler()
        if prompt { assembler.enterPrompt() }
        var echo: [UInt8] = []
        var events: [String] = []
        for piece in pieces {
            // What a modem does after a command line: nothing changes the mode here.
            events += assembler.feed(piece, echoOut: &echo).map(describe)
        }
        return events
    }

    @Test func vectorsGiveTheirEventsUnderEveryChunking() throws {
        let vectors = try VectorSet("modem/at-lines.vectors").vectors
        #expect(vectors.count >= 10)
        for vector in vectors {
            let expected = try vector.text("events").components(separatedBy: " ; ").filter { !$0.isEmpty }
            let prompt = vector["mode"] == "prompt"
            let bytes = try vector.escapedBytes("input")
            let failures = Chunking.verify(bytes, expected: expected, patterns: [[2], [3], [4], [1, 3, 2, 5]]) {
                Self.run($0, prompt: prompt)
            }
            #expect(failures.isEmpty, "vector \(vector): \(failures.prefix(3))")
        }
    }

    @Test func overlongLineIsReportedOnceAndTheNextLineWorks() {
        var assembler = ATLineAssembler(maxLineBytes: 16)
        var echo: [UInt8] = []
        let long = Array(repeating: UInt8(ascii: "A"), count: 100) + [0x0D] + Array("AT\r".utf8)
        let events = assembler.feed(long, echoOut: &echo)
        #expect(events == [.tooLong(length: 100), .line("AT")])
    }

    @Test func echoFollowsTheSetting() {
        var assembler = ATLineAssembler()
        var echo: [UInt8] = []
        _ = assembler.feed(Array("AT\r".utf8), echoOut: &echo)
        #expect(echo == Array("AT\r".utf8))
        assembler.echo = false
        echo = []
        _ = assembler.feed(Array("AT\r".utf8), echoOut: &echo)
        #expect(echo.isEmpty)
    }

    @Test func promptBodyOverLimitIsRefused() {
        var assembler = ATLineAssembler(maxLineBytes: 8)
        assembler.enterPrompt()
        var echo: [UInt8] = []
        let events = assembler.feed(Array("0123456789".utf8) + [0x1A], echoOut: &echo)
        #expect(events == [.promptTooLong(length: 10)])
        #expect(!assembler.inPrompt)
    }
}
