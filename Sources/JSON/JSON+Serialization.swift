// Compact serializer: no whitespace, members in stored order, strings escaped per RFC 8259 §7
// (quote, backslash and control characters; everything else, including non-ASCII, written as UTF-8).

extension JSON {
    /// The compact JSON text of this value.
    package func serialized() -> String {
        String(decoding: serializedBytes(), as: UTF8.self)
    }

    /// The compact JSON text of this value as UTF-8 bytes.
    package func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        // Control answers and events are mostly a few hundred bytes: one allocation instead of several regrowths.
        out.reserveCapacity(256)
        write(into: &out, indent: nil, level: 0)
        return out
    }

    /// A human-readable rendering with two-space indentation (for CLIs and logs, never the wire).
    package func prettySerialized() -> String {
        var out: [UInt8] = []
        write(into: &out, indent: 2, level: 0)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the compact JSON text of this value to `out`.
    package func write(into out: inout [UInt8]) {
        write(into: &out, indent: nil, level: 0)
    }

    private func write(into out: inout [UInt8], indent: Int?, level: Int) {
        switch self {
        case .null: JSON.writeRaw("null", into: &out)
        case .bool(let value):
            if value { JSON.writeRaw("true", into: &out) } else { JSON.writeRaw("false", into: &out) }
        case .int(let value): JSON.writeInteger(value, into: &out)
        case .double(let value):
            // JSON has no NaN or infinity; the parser never produces them, and writing null beats invalid output.
            if value.isFinite {
                out.append(contentsOf: value.description.utf8)
            } else {
                JSON.writeRaw("null", into: &out)
            }
        case .string(let value): JSON.writeString(value, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent, level + 1)
                element.write(into: &out, indent: indent, level: level + 1)
            }
            if !elements.isEmpty { newline(&out, indent, level) }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent, level + 1)
                JSON.writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                member.value.write(into: &out, indent: indent, level: level + 1)
            }
            if !object.isEmpty { newline(&out, indent, level) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private func newline(_ out: inout [UInt8], _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out.append(0x0a)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    /// Appends the decimal digits of `value` (as `String(value)` spells it), without making a string.
    package static func writeInteger(_ value: Int64, into out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        // At most 20 digits (UInt64.max), written from the end of a buffer on the stack, then appended at once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var position = digits.count
            repeat {
                position -= 1
                digits[position] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            // SAFETY: `position..<count` was just written; the buffer lives until the closure returns.
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[position...]))
        }
    }

    /// Appends `value` as a quoted, escaped JSON string.
    package static func writeString(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Fast path: most strings (names, kinds) need no escaping and go out in one copy.
        var utf8 = value.utf8
        let plain: Bool? = utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where byte < 0x20 || byte == 0x22 || byte == 0x5c || byte == 0x7f { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        if plain == nil {
            var copy = value
            copy.makeContiguousUTF8()
            utf8 = copy.utf8
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5c, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5c, 0x5c])
            case 0x0a: out.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0x0d: out.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5c, UInt8(ascii: "b")])
            case 0x0c: out.append(contentsOf: [0x5c, UInt8(ascii: "f")])
            case 0x00..<0x20, 0x7f:
                JSON.writeRaw("\\u00", into: &out)
                out.append(contentsOf: hex2(byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSON: CustomStringConvertible {
    package var description: String { serialized() }
}

extension JSON {
    /// Appends fixed text (a literal: member names, punctuation) as it is. A literal's bytes go in with one copy;
    /// appending a string's UTF-8 view walks it and cost a few hundred instructions per literal on the event path.
    package static func writeRaw(_ text: StaticString, into out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }
}
