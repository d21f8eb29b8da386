/// The Prometheus text exposition format, version 0.0.4 (`Protocols/http.md` §4): one `# HELP` and one
/// `# TYPE` line per family, then its samples, each family written once. Label values and help texts are
/// escaped as the format says; names are checked against its grammar, so a partition or port called
/// anything at all becomes a label value, never part of a name.
package struct MetricsText {
    package enum Kind: String, Sendable {
        case counter, gauge
    }

    /// One sample: its label pairs (names from the hub, values from anywhere) and its value.
    package struct Sample: Sendable {
        package var labels: [(String, String)]
        package var value: Double

        package init(_ labels: [(String, String)] = [], _ value: Double) {
            self.labels = labels
            self.value = value
        }
    }

    /// Where a family's samples go; written out by `encode`.
    package struct Family: Sendable {
        package var name: String
        package var kind: Kind
        package var help: String
        package var samples: [Sample] = []
    }

    package static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private var families: [Family] = []
    private var index: [String: Int] = [:]
    /// About the bytes `encode` writes (`add`).
    private var estimatedBytes = 0

    package init() {}

    /// Adds a sample to the family `name`, declaring the family on first use. A counter's name ends in
    /// `_total`. Invalid names are a programming error of the hub, not of a peer.
    package mutating func add(
        _ name: String, _ kind: Kind, _ help: String, labels: [(String, String)] = [], _ value: Double
    ) {
        let position: Int
        if let existing = index[name] {
            position = existing
        } else {
            // Checked once per family: a name found in `index` was checked when it was declared.
            precondition(MetricsText.isValidName(name), "metric name \(name)")
            precondition(kind != .counter || name.hasSuffix("_total"), "counter \(name) must end in _total")
            position = families.count
            index[name] = position
            families.append(Family(name: name, kind: kind, help: help))
        }
        families[position].samples.append(Sample(labels, value))
        // The sample line's size before escaping, and room for its number: `encode` then allocates its text once.
        estimatedBytes += name.utf8.count + 32
        for (label, value) in labels { estimatedBytes += label.utf8.count + value.utf8.count + 4 }
    }

    package var familyNames: [String] { families.map(\.name) }

    /// The exposition text, families in the order they were first added.
    ///
    /// Written as bytes: the text grows with the platform (about 1.7 KB per Ethernet port) and is built in one
    /// loop pass, where appending Swift strings piece by piece cost several times as much. Escaping works on
    /// UTF-8 bytes, which gives the same text as escaping scalars: the three escaped characters are ASCII, and no
    /// byte of a multi-byte UTF-8 sequence is ASCII.
    package func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedBytes)
        for family in families {
            let name = Array(family.name.utf8)
            out.append(contentsOf: "# HELP ".utf8)
            out.append(contentsOf: name)
            out.append(UInt8(ascii: " "))
            MetricsText.appendEscaped(family.help, quotes: false, to: &out)
            out.append(contentsOf: "\n# TYPE ".utf8)
            out.append(contentsOf: name)
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: family.kind.rawValue.utf8)
            out.append(UInt8(ascii: "\n"))
            for sample in family.samples {
                out.append(contentsOf: name)
                if !sample.labels.isEmpty {
                    out.append(UInt8(ascii: "{"))
                    for (position, (label, value)) in sample.labels.enumerated() {
                        precondition(MetricsText.isValidLabelName(label), "label name \(label)")
                        if position > 0 { out.append(UInt8(ascii: ",")) }
                        out.append(contentsOf: label.utf8)
                        out.append(contentsOf: "=\"".utf8)
                        MetricsText.appendEscaped(value, quotes: true, to: &out)
                        out.append(UInt8(ascii: "\""))
                    }
                    out.append(UInt8(ascii: "}"))
                }
                out.append(UInt8(ascii: " "))
                out.append(contentsOf: MetricsText.format(sample.value).utf8)
                out.append(UInt8(ascii: "\n"))
            }
        }
        return out
    }

    /// `text`'s UTF-8 with `\` → `\\` and line feed → `\n`, and with `quotes` (a label value) `"` → `\"`.
    private static func appendEscaped(_ text: String, quotes: Bool, to out: inout [UInt8]) {
        let backslash = UInt8(ascii: "\\")
        let lineFeed = UInt8(ascii: "\n")
        let needsEscaping = { (byte: UInt8) in
            byte == backslash || byte == lineFeed || (quotes && byte == UInt8(ascii: "\""))
        }
        // Most values (port and partition names, help texts) have nothing to escape: appended whole.
        if !text.utf8.contains(where: needsEscaping) { return out.append(contentsOf: text.utf8) }
        for byte in text.utf8 {
            if needsEscaping(byte) {
                out.append(backslash)
                out.append(byte == lineFeed ? UInt8(ascii: "n") : byte)
            } else {
                out.append(byte)
            }
        }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    package static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !isDigit(first) else { return false }
        return name.utf8.allSatisfy {
            isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":")
        }
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved).
    package static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !isDigit(first), !name.hasPrefix("__") else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// A label value: `\` → `\\`, `"` → `\"`, line feed → `\n`.
    package static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A help text: `\` → `\\`, line feed → `\n`.
    package static func escapeHelp(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Integers without a fraction, other values as Swift prints them; `NaN`, `+Inf`, `-Inf` as the format
    /// spells them.
    package static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 9.0e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }
}
