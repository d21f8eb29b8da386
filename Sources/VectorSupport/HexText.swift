/// Hex and C-escape text as the vector files write bytes (`Protocols/vectors/README.md`).
package enum HexText {
    /// Hex digits with any whitespace between byte pairs, `#` comments to the end of a line, and `-` for
    /// "no bytes". Nil on an odd digit count or a character that is neither.
    package static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var high: UInt8?
        var inComment = false
        for unit in text.utf8 {
            if inComment {
                if unit == UInt8(ascii: "\n") { inComment = false }
                continue
            }
            switch unit {
            case UInt8(ascii: "#"): inComment = true
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "-"):
                continue
            default:
                guard let nibble = nibble(unit) else { return nil }
                if let first = high {
                    bytes.append(first << 4 | nibble)
                    high = nil
                } else {
                    high = nibble
                }
            }
        }
        return high == nil ? bytes : nil
    }

    /// Lowercase hex, no separators.
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Expands `\r`, `\n`, `\t`, `\\` and `\xHH`; any other character stands for its UTF-8 bytes.
    package static func unescape(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        var out: [UInt8] = []
        var index = 0
        while index < input.count {
            guard input[index] == UInt8(ascii: "\\") else {
                out.append(input[index])
                index += 1
                continue
            }
            guard index + 1 < input.count else { return nil }
            switch input[index + 1] {
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "x"):
                guard index + 3 < input.count, let high = nibble(input[index + 2]), let low = nibble(input[index + 3])
                else { return nil }
                out.append(high << 4 | low)
                index += 4
                continue
            default: return nil
            }
            index += 2
        }
        return out
    }

    private static func nibble(_ unit: UInt8) -> UInt8? {
        switch unit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): unit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): unit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): unit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
