import Testing

@testable import ModemServer

/// Where one pass's slice of a raw AT client's (or the PTY's) input ends (`Protocols/modem.md` §1): whole lines,
/// each counting one command plus one per `;`, up to the line that reaches the bound.
struct RawATInputTests {
    static func end(_ text: String, _ count: Int) -> Int {
        RawATInput.endOfCommands(Array(text.utf8)[...], count: count)
    }

    @Test func aLineCountsOncePerChainedCommand() {
        let chained = "AT+CLAC" + String(repeating: ";+CLAC", count: 63) + "\r"  // 64 commands in one line
        let input = chained + "AT\r"
        // The chained line alone reaches a bound of 16: the slice ends after it, not after 16 lines.
        #expect(Self.end(input, 16) == chained.utf8.count)
        #expect(Self.end(input, 64) == chained.utf8.count)
        #expect(Self.end(input, 65) == input.utf8.count)
        // Lines of one command each: one line per command, as before.
        #expect(Self.end(String(repeating: "AT\r", count: 20), 16) == 48)
    }

    @Test func aLineIsNeverSplitAndEveryLineEndCounts() {
        // Ctrl-Z ends an SMS body and ESC aborts one: both end a line.
        #expect(Self.end("AT;+A;+B\rhello\u{1A}AT\u{1B}", 3) == 9)
        #expect(Self.end("AT;+A;+B\rhello\u{1A}AT\u{1B}", 4) == 15)
        #expect(Self.end("AT;+A;+B\rhello\u{1A}AT\u{1B}", 5) == 18)
        // An unfinished line is taken whole: the modem's line assembler keeps it until its end comes.
        #expect(Self.end("AT;;;;;;;;;;;;;;;;;;;", 1) == 21)
        #expect(Self.end("", 1) == 0)
    }
}
