/// Why a byte sequence is not the JSON text the strict parser accepts, and where it went wrong.
package struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Reason: Sendable, Equatable {
        /// The input ended inside a value (or was empty).
        case unexpectedEnd
        /// A byte that cannot start or continue the value being read.
        case unexpectedByte(UInt8)
        /// A backslash followed by something other than `"\/bfnrtu`.
        case invalidEscape
        /// `\u` not followed by four hexadecimal digits.
        case invalidUnicodeEscape
        /// A `\uD800`–`\uDFFF` escape that is not half of a proper surrogate pair.
        case loneSurrogate
        /// An unescaped byte below 0x20 inside a string.
        case controlCharacterInString
        /// A string holding bytes that are not well-formed UTF-8.
        case invalidUTF8
        /// A number that does not follow the JSON grammar (leading zeros, missing digits, …).
        case invalidNumber
        /// A number too large for a finite double.
        case numberOutOfRange
        /// Arrays and objects nested deeper than the limit.
        case tooDeep(limit: Int)
        /// Non-whitespace bytes after the value.
        case trailingData
        /// An object naming the same member twice; refused so that no two readers can disagree on its value.
        case duplicateKey(String)
    }

    /// Offset of the offending byte from the start of the input.
    package var offset: Int
    package var reason: Reason

    package init(offset: Int, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    package var description: String {
        let what: String
        switch reason {
        case .unexpectedEnd: what = "unexpected end of input"
        case .unexpectedByte(let byte):
            what =
                byte >= 0x20 && byte < 0x7f
                ? "unexpected character '\(Character(Unicode.Scalar(byte)))'" : "unexpected byte 0x\(hex2(byte))"
        case .invalidEscape: what = "invalid escape sequence"
        case .invalidUnicodeEscape: what = "\\u must be followed by four hex digits"
        case .loneSurrogate: what = "unpaired UTF-16 surrogate in \\u escape"
        case .controlCharacterInString: what = "unescaped control character in string"
        case .invalidUTF8: what = "invalid UTF-8"
        case .invalidNumber: what = "invalid number"
        case .numberOutOfRange: what = "number out of range"
        case .tooDeep(let limit): what = "nesting deeper than \(limit)"
        case .trailingData: what = "unexpected data after the JSON value"
        case .duplicateKey(let key): what = "duplicate key \"\(key)\""
        }
        return "\(what) at byte \(offset)"
    }
}

func hex2(_ byte: UInt8) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
}
