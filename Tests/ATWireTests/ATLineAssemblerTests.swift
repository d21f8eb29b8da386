import ATWire
import Testing

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

    static func run(_ input: [UInt8], prompt: Bool, chunks: [Int]) -> [String] {
        var assembler = ATLineAssembler()
        if prompt { assembler.enterPrompt() }
        var echo: [UInt8] = []
        var events: [String] = []
        var start = 0
        var chunkIndex = 0
        while start < input.count {
            let size = max(1, chunks.isEmpty ? input.count : chunks[chunkIndex % chunks.count])
            chunkIndex += 1
            let end = min(input.count, start + size)
            for event in assembler.feed(input[start..<end], echoOut: &echo) {
                events.append(describe(event))
                // What a modem does after a command line: nothing changes the mode here.
            }
            start = end
        }
        return events
    }

    @Test func vectorsGiveTheirEventsUnderEveryChunking() throws {
        let lines = try vectorLines("at-lines.txt")
        #expect(lines.count >= 10)
        for line in lines {
            let parts = line.components(separatedBy: "=>")
            var input = parts[0].trimmingCharacters(in: .whitespaces)
            let expected = parts[1].trimmingCharacters(in: .whitespaces).components(separatedBy: " ; ").filter {
                !$0.isEmpty
            }
            let prompt = input.hasPrefix("prompt ")
            if prompt { input = String(input.dropFirst(7)) }
            let bytes = unescape(input)
            let whole = Self.run(bytes, prompt: prompt, chunks: [])
            #expect(whole == expected, "vector \(line)")
            for size in 1...4 {
                #expect(Self.run(bytes, prompt: prompt, chunks: [size]) == expected, "chunk \(size): \(line)")
            }
            #expect(Self.run(bytes, prompt: prompt, chunks: [1, 3, 2, 5]) == expected)
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
