// Strict RFC 8259 parser. Accepts exactly the grammar of RFC 8259 §2–§8: no comments, no trailing
// commas, no NaN/Infinity, no leading zeros, no byte-order mark, only the four JSON whitespace bytes,
// strings in well-formed UTF-8 without unpaired surrogate escapes, and no duplicate object keys.

extension JSON {
    /// The default nesting limit for arrays and objects.
    package static let defaultMaxDepth = 64

    /// Parses one JSON text (a single value with optional surrounding whitespace).
    ///
    /// Numbers without fraction or exponent that fit in `Int64` become ``JSON/int(_:)``; every other
    /// number becomes a finite ``JSON/double(_:)``. `-0` is kept as `.double(-0.0)` so its sign survives.
    /// - Parameter maxDepth: arrays and objects nested deeper than this are refused (stack safety).
    package static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONParseError)
        -> JSON
    {
        try parse(Array(bytes), maxDepth: maxDepth)
    }

    /// ``parse(_:maxDepth:)`` for a slice (a control line), read where it is: no copy.
    package static func parse(_ bytes: ArraySlice<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONParseError)
        -> JSON
    {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> JSON in
            var parser = JSONParser(bytes: buffer, maxDepth: maxDepth)
            return try parser.parseDocument()
        }
    }

    /// ``parse(_:maxDepth:)`` for bytes already in an array: no copy.
    package static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSON {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> JSON in
            var parser = JSONParser(bytes: buffer, maxDepth: maxDepth)
            return try parser.parseDocument()
        }
    }

    /// Parses a JSON text held in a string.
    package static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }
}

/// Reads the text through a buffer pointer lent by `JSON.parse` for the parse alone, and what it returns copies out
/// what it keeps (strings, numbers), so nothing outlives the loan. Reading an array instead counted a reference to
/// its storage on every string taken from it. A buffer pointer's subscript is not bounds-checked in release builds:
/// every read below is of an index first compared with `bytes.count` (the JSON fuzzer runs with AddressSanitizer).
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var index = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSON {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if index < bytes.count { throw JSONParseError(offset: index, reason: .trailingData) }
        return value
    }

    private func fail(_ reason: JSONParseError.Reason, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? index, reason: reason)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0a, 0x0d: index += 1
            default: return
            }
        }
    }

    private func peek() throws(JSONParseError) -> UInt8 {
        guard index < bytes.count else { throw fail(.unexpectedEnd) }
        return bytes[index]
    }

    private mutating func parseValue() throws(JSONParseError) -> JSON {
        switch try peek() {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case let byte: throw fail(.unexpectedByte(byte))
        }
    }

    private mutating func expectLiteral(_ word: String) throws(JSONParseError) {
        for expected in word.utf8 {
            let byte = try peek()
            guard byte == expected else { throw fail(.unexpectedByte(byte)) }
            index += 1
        }
    }

    private mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > maxDepth { throw fail(.tooDeep(limit: maxDepth)) }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSON {
        try enter()
        index += 1  // [
        var elements: [JSON] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            let byte = try peek()
            index += 1
            if byte == UInt8(ascii: ",") { continue }
            if byte == UInt8(ascii: "]") { break }
            throw fail(.unexpectedByte(byte), at: index - 1)
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func parseObject() throws(JSONParseError) -> JSON {
        try enter()
        index += 1  // {
        // Most objects on the wire have a few members: room for four at once, not three regrowths.
        var object = JSONObject(minimumCapacity: 4)
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            let keyStart = index
            let byte = try peek()
            guard byte == UInt8(ascii: "\"") else { throw fail(.unexpectedByte(byte)) }
            let key = try parseString()
            if object.contains(key) { throw fail(.duplicateKey(key), at: keyStart) }
            skipWhitespace()
            let colon = try peek()
            guard colon == UInt8(ascii: ":") else { throw fail(.unexpectedByte(colon)) }
            index += 1
            skipWhitespace()
            object.appendUnchecked(key, try parseValue())
            skipWhitespace()
            let separator = try peek()
            index += 1
            if separator == UInt8(ascii: ",") { continue }
            if separator == UInt8(ascii: "}") { break }
            throw fail(.unexpectedByte(separator), at: index - 1)
        }
        depth -= 1
        return .object(object)
    }

    // MARK: Strings

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1  // opening quote
        // Fast path: printable ASCII up to the closing quote (keys, names, base64) becomes a String straight from
        // the input, without a buffer per string; short ones are stored inline, so no allocation at all.
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                if let known = knownString(from: start, count: index - 1 - start) { return known }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { break }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while true {
            let byte = try peek()
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                // The bytes were validated as UTF-8 below, so decoding cannot substitute anything.
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &out)
            case 0x00..<0x20:
                throw fail(.controlCharacterInString)
            case 0x20..<0x80:
                out.append(byte)
                index += 1
            default:
                try copyUTF8Sequence(into: &out)
            }
        }
    }

    /// The control protocol's commonest keys (and its version), when the `count` plain ASCII bytes at `start` spell
    /// one: a literal costs nothing to hand out, where making a string of the bytes is a call that checks them
    /// again, and a request holds a dozen strings, most of them these.
    private func knownString(from start: Int, count: Int) -> String? {
        func spells(_ literal: StaticString) -> Bool {
            // SAFETY: the caller's `count` bytes from `start` are inside `bytes`; `literal` has `count` bytes (the
            // cases below are by length).
            let text = literal.utf8Start
            var offset = 0
            while offset < count {
                if bytes[start &+ offset] != text[offset] { return false }
                offset &+= 1
            }
            return true
        }
        switch count {
        case 2:
            if spells("id") { return "id" }
            if spells("as") { return "as" }
            if spells("to") { return "to" }
        case 3:
            if spells("2.0") { return "2.0" }
        case 4:
            if spells("line") { return "line" }
            if spells("name") { return "name" }
            if spells("port") { return "port" }
            if spells("text") { return "text" }
            if spells("kind") { return "kind" }
            if spells("link") { return "link" }
        case 5:
            if spells("kinds") { return "kinds" }
            if spells("modem") { return "modem" }
            if spells("since") { return "since" }
        case 6:
            if spells("method") { return "method" }
            if spells("params") { return "params" }
            if spells("device") { return "device" }
            if spells("filter") { return "filter" }
        case 7:
            if spells("jsonrpc") { return "jsonrpc" }
        case 9:
            if spells("partition") { return "partition" }
        default:
            break
        }
        return nil
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(JSONParseError) {
        let start = index
        index += 1  // backslash
        let byte = try peek()
        index += 1
        switch byte {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5c)
        case UInt8(ascii: "/"): out.append(0x2f)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0c)
        case UInt8(ascii: "n"): out.append(0x0a)
        case UInt8(ascii: "r"): out.append(0x0d)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try parseHex4()
            var scalarValue = UInt32(unit)
            if (0xD800...0xDBFF).contains(unit) {
                // A high surrogate must be followed immediately by an escaped low surrogate.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { throw fail(.loneSurrogate, at: start) }
                index += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw fail(.loneSurrogate, at: start) }
                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(unit) {
                throw fail(.loneSurrogate, at: start)
            }
            // Non-surrogate values below 0x110000 are always valid scalars.
            let scalar = Unicode.Scalar(scalarValue)!
            out.append(contentsOf: UTF8.encode(scalar)!)
        default:
            throw fail(.invalidEscape, at: start)
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail(.invalidUnicodeEscape)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    /// Copies one multi-byte UTF-8 sequence, refusing overlong forms, encoded surrogates and values past U+10FFFF.
    private mutating func copyUTF8Sequence(into out: inout [UInt8]) throws(JSONParseError) {
        let lead = bytes[index]
        let length: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            upperBound = 0x9F
        case 0xF0:
            length = 4
            lowerBound = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            upperBound = 0x8F
        default: throw fail(.invalidUTF8)
        }
        guard index + length <= bytes.count else { throw fail(.invalidUTF8) }
        let second = bytes[index + 1]
        guard second >= lowerBound && second <= upperBound else { throw fail(.invalidUTF8) }
        for offset in 2..<max(2, length) where bytes[index + offset] & 0xC0 != 0x80 {
            throw fail(.invalidUTF8)
        }
        out.append(contentsOf: bytes[index..<index + length])
        index += length
    }

    // MARK: Numbers

    private mutating func parseNumber() throws(JSONParseError) -> JSON {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        // int = zero / ( digit1-9 *DIGIT )
        guard index < bytes.count, isDigit(bytes[index]) else { throw fail(.invalidNumber, at: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw fail(.invalidNumber, at: start) }
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail(.invalidNumber, at: start) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail(.invalidNumber, at: start) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if isInteger {
            if negative && index - start == 2 && bytes[start + 1] == UInt8(ascii: "0") { return .double(-0.0) }
            // Up to 18 digits cannot overflow Int64: summed in place (ids, lines, sequence numbers), no text made.
            let first = negative ? start + 1 : start
            if index - first <= 18 {
                var value: Int64 = 0
                for position in first..<index { value = value * 10 + Int64(bytes[position] &- UInt8(ascii: "0")) }
                return .int(negative ? -value : value)
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger {
            if let value = Int64(text) { return .int(value) }
            // Integers past 64 bits fall back to a double, like every other JSON reader.
        }
        guard let value = Double(text), value.isFinite else { throw fail(.numberOutOfRange, at: start) }
        return .double(value)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
