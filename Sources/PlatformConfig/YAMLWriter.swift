/// A tiny block-style YAML emitter for the configuration: deterministic output in the documented key order,
/// strings quoted only when a plain scalar could be misread.
struct YAMLWriter {
    private(set) var text = ""
    private var indent = 0

    mutating func comment(_ line: String) {
        text += "# \(line)\n"
    }

    mutating func blank() {
        text += "\n"
    }

    /// `key:` opening a nested block; `body` writes it one level deeper.
    mutating func block(_ key: String, _ body: (inout YAMLWriter) -> Void) {
        line("\(key):")
        indent += 2
        body(&self)
        indent -= 2
    }

    /// A sequence of mappings under `key`; `[]` when empty.
    mutating func list<T>(_ key: String, _ items: [T], _ body: (inout YAMLWriter, T) -> Void) {
        guard !items.isEmpty else {
            line("\(key): []")
            return
        }
        line("\(key):")
        for item in items {
            var element = YAMLWriter()
            body(&element, item)
            // Turn the element's first line into a "- " item and indent the rest under it.
            for (index, elementLine) in element.text.split(separator: "\n", omittingEmptySubsequences: false)
                .dropLast().enumerated()
            {
                line((index == 0 ? "  - " : "    ") + elementLine)
            }
        }
    }

    /// A sequence of scalars under `key`, in flow style: `[a, b]`.
    mutating func scalars(_ key: String, _ values: [String]) {
        line("\(key): [\(values.map(Self.quote).joined(separator: ", "))]")
    }

    /// A sequence of integers under `key`, in flow style: `[1, 2]`.
    mutating func ints(_ key: String, _ values: [Int]) {
        line("\(key): [\(values.map(String.init).joined(separator: ", "))]")
    }

    mutating func string(_ key: String, _ value: String) {
        line("\(key): \(Self.quote(value))")
    }

    mutating func int(_ key: String, _ value: Int) {
        line("\(key): \(value)")
    }

    /// A number: integral values without a fraction (`300`), others as Swift prints them (shortest round trip).
    mutating func number(_ key: String, _ value: Double) {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            line("\(key): \(Int64(value))")
        } else {
            line("\(key): \(value)")
        }
    }

    mutating func bool(_ key: String, _ value: Bool) {
        line("\(key): \(value)")
    }

    mutating func size(_ key: String, _ value: UInt64) {
        line("\(key): \(ByteSize.format(value))")
    }

    mutating func size(_ key: String, _ value: Int) {
        line("\(key): \(value < 0 ? String(value) : ByteSize.format(UInt64(value)))")
    }

    private mutating func line(_ content: String) {
        text += String(repeating: " ", count: indent) + content + "\n"
    }

    private static let reserved: Set<String> = [
        "y", "n", "yes", "no", "true", "false", "on", "off", "null", "~",
    ]

    /// `value` as a plain scalar when that reads back as the same string in any YAML 1.1 or 1.2 reader,
    /// otherwise double-quoted.
    static func quote(_ value: String) -> String {
        if isPlainSafe(value) { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            case "\r": quoted += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    quoted += "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        return quoted + "\""
    }

    private static func isPlainSafe(_ value: String) -> Bool {
        guard let first = value.first, let last = value.last else { return false }
        guard first.isASCII && first.isLetter || first == "/" || first == "_" else { return false }
        guard last != " ", last != ":" else { return false }
        guard !reserved.contains(value.lowercased()) else { return false }
        guard !value.contains(": "), !value.contains(" #") else { return false }
        return value.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "/", "-", "+", "@", ":", " ", "(", ")", ";", "=":
                return true
            default:
                return false
            }
        }
    }
}
