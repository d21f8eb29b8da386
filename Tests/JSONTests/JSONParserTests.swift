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

    /// The commonest keys are handed out as literals: each, and strings of the same length that differ from one in
    /// their first, a middle or their last byte, read as keys and as values give the string their bytes spell.
    @Test func knownKeysAndTheirNearMissesReadAsWritten() throws {
        let known = [
            "id", "as", "to", "2.0", "line", "name", "port", "text", "kind", "link", "kinds", "modem", "since",
            "method", "params", "device", "filter", "jsonrpc", "partition",
        ]
        var samples = known
        for word in known {
            var bytes = Array(word.utf8)
            for position in Set([0, bytes.count / 2, bytes.count - 1]) {
                let original = bytes[position]
                bytes[position] = original == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
                samples.append(String(decoding: bytes, as: UTF8.self))
                bytes[position] = original
            }
        }
        for word in samples {
            let parsed = try JSON.parse("{\"\(word)\":\"\(word)\"}")
            #expect(parsed.objectValue?.keys == [word], "\(word)")
            #expect(parsed[word] == .string(word), "\(word)")
        }
    }

    /// Integers are summed in place up to 18 digits and read as text past that: both give what `Int64(text)`
    /// gives, at every length and both signs, and what does not fit 64 bits is a double.
    @Test func integersOfEveryLengthAreReadExactly() throws {
        var samples: [Int64] = [0, 1, 9, 10, Int64.max, Int64.min, Int64.min + 1, 999_999_999_999_999_999]
        var power: Int64 = 1
        for _ in 0..<18 {
            power *= 10
            samples += [power - 1, power, power + 7, -(power - 1), -power]
        }
        for value in samples {
            #expect(try JSON.parse("\(value)") == .int(value), "\(value)")
            #expect(try JSON.parse("[\(value)]") == [.int(value)], "\(value)")
        }
        #expect(try JSON.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSON.parse("-9223372036854775809") == .double(-9_223_372_036_854_775_809))
        #expect(try JSON.parse("123456789012345678901234") == .double(123_456_789_012_345_678_901_234))
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

/// Objects with very many members (a hostile control line): the parser's duplicate check and lookups are
/// hashed past a few members, so 200,000 keys parse in one linear pass (the former linear scan per key made
/// this quadratic: 2·10¹⁰ string comparisons). No timing is asserted; the test simply completes.
@Suite struct LargeObjectTests {
    private func object(keys: Int, duplicateAt: Int? = nil) -> [UInt8] {
        var text: [UInt8] = Array("{".utf8)
        for index in 0..<keys {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            let name = index == duplicateAt ? "k3" : "k\(index)"
            text += Array("\"\(name)\":\(index)".utf8)
        }
        text.append(UInt8(ascii: "}"))
        return text
    }

    @Test func twoHundredThousandDistinctKeysParse() throws {
        let parsed = try JSON.parse(object(keys: 200_000))
        let members = try #require(parsed.objectValue)
        #expect(members.count == 200_000)
        #expect(members["k0"] == 0)
        #expect(members["k199999"] == 199_999)
        #expect(members["k200000"] == nil)
        #expect(members.keys.prefix(3) == ["k0", "k1", "k2"])
    }

    @Test func aDuplicateFarIntoALargeObjectIsFoundAtItsOffset() throws {
        let bytes = object(keys: 150_000, duplicateAt: 120_000)
        // The duplicate key's opening quote: just after the comma that ends member 119,999.
        let marker = Array(",\"k3\":120000".utf8)
        let comma = try #require(
            (0...(bytes.count - marker.count)).first {
                bytes[$0] == 0x2c && Array(bytes[$0..<$0 + marker.count]) == marker
            })
        let offset = comma + 1
        #expect(throws: JSONParseError(offset: offset, reason: .duplicateKey("k3"))) { try JSON.parse(bytes) }
        // Small objects keep the same rule.
        #expect(throws: JSONParseError(offset: 7, reason: .duplicateKey("a"))) { try JSON.parse("{\"a\":1,\"a\":2}") }
    }

    @Test func largeObjectsStayConsistentThroughEdits() {
        var object = JSONObject()
        for index in 0..<100 { object["k\(index)"] = .int(Int64(index)) }
        object["k5"] = nil
        object["k50"] = "fifty"
        #expect(object.removeValue(forKey: "k7") == 7)
        #expect(object.count == 98)
        #expect(object["k5"] == nil && object["k7"] == nil && object["k50"] == "fifty" && object["k99"] == 99)
        #expect(
            object.keys.first(where: { $0 != "k0" && $0 != "k1" && $0 != "k2" && $0 != "k3" && $0 != "k4" }) == "k6")
        var reversed = JSONObject()
        for member in object.members.reversed() { reversed[member.key] = member.value }
        #expect(reversed == object)
        reversed["k99"] = 0
        #expect(reversed != object)
        // Shrinking below the index threshold keeps lookups right.
        for index in 10..<100 { object["k\(index)"] = nil }
        #expect(object.count == 8 && object["k9"] == 9 && object["k10"] == nil)
    }
}

/// A slice (a control line inside the framer's buffer) is read where it lies: every text, well-formed or not, gives
/// what the same bytes in an array of their own give, the same value or the same error at the same offset, counted
/// from the slice's start, with bytes before and after the slice that would change the outcome if they were read.
@Suite struct JSONSliceParsingTests {
    private static let texts = [
        #"{"jsonrpc":"2.0","id":7,"method":"irq.raise","params":{"partition":"rtos","line":3,"as":"bench"}}"#,
        #"{"a":1,"a":2}"#, #"{"k":"\u00e9\ud83d\ude00"}"#, #"["\ud800"]"#, #"{"a":[1,2,}"#, "-0", "01", "1e999",
        "123456789012345678901234567890", "\"unterminated", "{\"tab\t\":1}", "", " ", "[[[[[[[[]]]]]]]]", "nul",
        "\"é\"", "[1] x", "{\"a\":tru}",
    ]

    private func outcome(_ parse: () throws(JSONParseError) -> JSON) -> Result<JSON, JSONParseError> {
        do throws(JSONParseError) { return .success(try parse()) } catch { return .failure(error) }
    }

    @Test func aSliceParsesAsTheSameBytesInTheirOwnArray() {
        for text in Self.texts {
            let bytes = Array(text.utf8)
            let alone = outcome { () throws(JSONParseError) -> JSON in try JSON.parse(bytes, maxDepth: 6) }
            for (before, after) in [("", ""), ("{\"x\":", "}"), ("\"", "\""), ("[[[[[[[[", "1")] {
                let buffer = Array(before.utf8) + bytes + Array(after.utf8)
                let slice = buffer[before.utf8.count..<before.utf8.count + bytes.count]
                let sliced = outcome { () throws(JSONParseError) -> JSON in try JSON.parse(slice, maxDepth: 6) }
                #expect(sliced == alone, "\(text) between \(before) and \(after)")
            }
        }
    }
}
