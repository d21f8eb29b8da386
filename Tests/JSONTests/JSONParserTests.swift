import JSON
import Testing

@Suite struct JSONParserTests {
    @Test func scalarsKeepTheirTypes() throws {
        #expect(try JSON.parse("null") == .null)
        #expect(try JSON.parse(" true ") == .bool(true))
        #expect(try JSON.parse("false") == .bool(false))
        #expect(try JSON.parse("0") == .int(0))
        #expect(try JSON.parse("-12") == .int(-12))
        #expect(try JSON.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSON.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSON.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSON.parse("1.5") == .double(1.5))
        #expect(try JSON.parse("1E2") == .double(100))
        #expect(try JSON.parse("1e-2") == .double(0.01))
        #expect(try JSON.parse("2.0") == .double(2))
        #expect(try JSON.parse("\"a\"") == .string("a"))
    }

    @Test func negativeZeroKeepsItsSign() throws {
        let value = try JSON.parse("-0")
        guard case .double(let d) = value else {
            Issue.record("expected a double, got \(value)")
            return
        }
        #expect(d == 0 && d.sign == .minus)
    }

    @Test func objectsKeepOrderAndLookUpByKey() throws {
        let value = try JSON.parse(#"{"b":1,"a":[true,null],"c":{"d":"e"}}"#)
        #expect(value.objectValue?.keys == ["b", "a", "c"])
        #expect(value["b"] == .int(1))
        #expect(value["a"]?[1] == .null)
        #expect(value["c"]?["d"]?.stringValue == "e")
        #expect(value["missing"] == nil)
        #expect(value.serialized() == #"{"b":1,"a":[true,null],"c":{"d":"e"}}"#)
    }

    @Test func escapesAndSurrogatePairs() throws {
        #expect(try JSON.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{c}\n\r\t"))
        #expect(try JSON.parse(#""\u0041\u00e9\u20AC""#) == .string("Aé€"))
        #expect(try JSON.parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try JSON.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSON.parse("\"é😀\"") == .string("é😀"))
    }

    /// Inputs a strict RFC 8259 parser must refuse, with the reason and offset it must report
    /// (in the spirit of JSONTestSuite's n_ cases).
    @Test(arguments: [
        ("", JSONParseError(offset: 0, reason: .unexpectedEnd)),
        ("   ", JSONParseError(offset: 3, reason: .unexpectedEnd)),
        ("[1,]", JSONParseError(offset: 3, reason: .unexpectedByte(UInt8(ascii: "]")))),
        ("[1 2]", JSONParseError(offset: 3, reason: .unexpectedByte(UInt8(ascii: "2")))),
        ("{\"a\":1,}", JSONParseError(offset: 7, reason: .unexpectedByte(UInt8(ascii: "}")))),
        ("{'a':1}", JSONParseError(offset: 1, reason: .unexpectedByte(UInt8(ascii: "'")))),
        ("{\"a\" 1}", JSONParseError(offset: 5, reason: .unexpectedByte(UInt8(ascii: "1")))),
        ("{\"a\":1,\"a\":2}", JSONParseError(offset: 7, reason: .duplicateKey("a"))),
        ("01", JSONParseError(offset: 0, reason: .invalidNumber)),
        ("-", JSONParseError(offset: 0, reason: .invalidNumber)),
        ("1.", JSONParseError(offset: 0, reason: .invalidNumber)),
        (".5", JSONParseError(offset: 0, reason: .unexpectedByte(UInt8(ascii: ".")))),
        ("1e", JSONParseError(offset: 0, reason: .invalidNumber)),
        ("+1", JSONParseError(offset: 0, reason: .unexpectedByte(UInt8(ascii: "+")))),
        ("1e400", JSONParseError(offset: 0, reason: .numberOutOfRange)),
        ("NaN", JSONParseError(offset: 0, reason: .unexpectedByte(UInt8(ascii: "N")))),
        ("tru", JSONParseError(offset: 3, reason: .unexpectedEnd)),
        ("nul1", JSONParseError(offset: 3, reason: .unexpectedByte(UInt8(ascii: "1")))),
        ("1 2", JSONParseError(offset: 2, reason: .trailingData)),
        ("{}x", JSONParseError(offset: 2, reason: .trailingData)),
        ("\"abc", JSONParseError(offset: 4, reason: .unexpectedEnd)),
        ("\"a\tb\"", JSONParseError(offset: 2, reason: .controlCharacterInString)),
        ("\"\\x\"", JSONParseError(offset: 1, reason: .invalidEscape)),
        ("\"\\u12G4\"", JSONParseError(offset: 5, reason: .invalidUnicodeEscape)),
        ("\"\\uD800\"", JSONParseError(offset: 1, reason: .loneSurrogate)),
        ("\"\\uDC00\\uD800\"", JSONParseError(offset: 1, reason: .loneSurrogate)),
        ("\"\\uD800\\u0041\"", JSONParseError(offset: 1, reason: .loneSurrogate)),
        ("\u{FEFF}1", JSONParseError(offset: 0, reason: .unexpectedByte(0xEF))),
        ("[1]\u{0}", JSONParseError(offset: 3, reason: .trailingData)),
        ("\u{0C}1", JSONParseError(offset: 0, reason: .unexpectedByte(0x0C))),
    ])
    func refusesMalformedText(input: String, expected: JSONParseError) {
        #expect(throws: expected) { try JSON.parse(input) }
    }

    @Test(
        arguments: [
            [0x22, 0xC0, 0xAF, 0x22],  // overlong "/"
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate U+D800
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // past U+10FFFF
            [0x22, 0xE2, 0x82, 0x22],  // truncated sequence
            [0x22, 0xFF, 0x22],  // never valid
            [0x22, 0x80, 0x22],  // lone continuation byte
        ] as [[UInt8]])
    func refusesInvalidUTF8(bytes: [UInt8]) {
        #expect(throws: JSONParseError(offset: 1, reason: .invalidUTF8)) { try JSON.parse(bytes) }
    }

    @Test func nestingLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSON.parse(ok) }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError(offset: 64, reason: .tooDeep(limit: 64))) { try JSON.parse(deep) }
        let deepObjects = String(repeating: "{\"a\":", count: 5) + "1" + String(repeating: "}", count: 5)
        #expect(throws: JSONParseError(offset: 20, reason: .tooDeep(limit: 4))) {
            try JSON.parse(deepObjects, maxDepth: 4)
        }
        // A huge unclosed nest fails on depth, not on the stack.
        let hostile = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError(offset: 64, reason: .tooDeep(limit: 64))) { try JSON.parse(hostile) }
    }

    @Test func parsesSlicesOfLargerBuffers() throws {
        let buffer: [UInt8] = Array("xx{\"k\":[1,2]}yy".utf8)
        #expect(try JSON.parse(buffer[2..<13]) == ["k": [1, 2]])
    }

    @Test func errorDescriptionsNameTheOffset() {
        let error = JSONParseError(offset: 7, reason: .unexpectedByte(UInt8(ascii: "}")))
        #expect(error.description == "unexpected character '}' at byte 7")
        #expect(
            JSONParseError(offset: 0, reason: .unexpectedByte(0xEF)).description == "unexpected byte 0xef at byte 0")
    }
}
