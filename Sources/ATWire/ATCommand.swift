/// One parameter of an extended command: a quoted string, a bare value (number or token), or omitted.
package enum ATParameter: Sendable, Equatable {
    case omitted
    case quoted(String)
    case bare(String)

    /// The integer for a bare decimal value.
    package var int: Int? {
        if case .bare(let text) = self, !text.isEmpty, text.count <= 10, text.allSatisfy(\.isASCII),
            text.allSatisfy(\.isNumber)
        {
            return Int(text)
        }
        return nil
    }

    /// The text of a quoted or bare value.
    package var string: String? {
        switch self {
        case .quoted(let text), .bare(let text): text
        case .omitted: nil
        }
    }

    package var isOmitted: Bool { self == .omitted }
}

/// One command of a command line.
package struct ATCommand: Sendable, Equatable {
    package enum Form: Sendable, Equatable {
        /// `AT+CSQ`, `ATA`, `ATE1` (the digit is the argument).
        case execute
        /// `AT+CMGF=1`.
        case set
        /// `AT+CMGF?`.
        case read
        /// `AT+CMGF=?`.
        case test
    }

    /// Uppercased: `+CMGF`, `E`, `&F`, `D`, `S0`.
    package var name: String
    package var form: Form
    package var parameters: [ATParameter]
    /// For basic commands, the text after the letter (`1` in `E1`, the dial string in `D`).
    package var argument: String

    package init(name: String, form: Form, parameters: [ATParameter] = [], argument: String = "") {
        self.name = name
        self.form = form
        self.parameters = parameters
        self.argument = argument
    }

    package func parameter(_ index: Int) -> ATParameter { index < parameters.count ? parameters[index] : .omitted }
}

/// Why a command line did not parse; the modem answers `ERROR`.
package struct ATParseError: Error, Equatable, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Parses a command line (`AT` prefix included) into its commands (V.250 §5.3-5.4): basic commands
/// (`E0`, `&F`, `S7=30`, `D…`), extended ones (`+NAME`, `+NAME=…`, `+NAME?`, `+NAME=?`), separated by `;`.
package enum ATCommandParser {
    package static let maxCommandsPerLine = 64
    package static let maxParameters = 32

    package static func parse(_ line: String) throws(ATParseError) -> [ATCommand] {
        let chars = Array(line.unicodeScalars)
        guard chars.count >= 2, chars[0] == "A" || chars[0] == "a", chars[1] == "T" || chars[1] == "t" else {
            throw ATParseError("a command line starts with AT")
        }
        var index = 2
        var commands: [ATCommand] = []
        while index < chars.count {
            guard commands.count < maxCommandsPerLine else {
                throw ATParseError("more than \(maxCommandsPerLine) commands")
            }
            let c = chars[index]
            if c == " " || c == ";" {
                index += 1
                continue
            }
            if "+^%$#*!".unicodeScalars.contains(c) {
                commands.append(try extended(chars, &index))
                continue
            }
            commands.append(try basic(chars, &index))
        }
        return commands
    }

    private static func isNameChar(_ c: Unicode.Scalar) -> Bool {
        (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || (c >= "0" && c <= "9")
            || "!%-./:_".unicodeScalars
                .contains(c)
    }

    private static func extended(_ chars: [Unicode.Scalar], _ index: inout Int) throws(ATParseError) -> ATCommand {
        var name = String(chars[index])
        index += 1
        while index < chars.count, isNameChar(chars[index]) {
            name.unicodeScalars.append(chars[index])
            index += 1
        }
        guard name.count > 1 else { throw ATParseError("extended command without a name") }
        name = name.uppercased()
        if index < chars.count, chars[index] == "?" {
            index += 1
            return ATCommand(name: name, form: .read)
        }
        if index < chars.count, chars[index] == "=" {
            index += 1
            if index < chars.count, chars[index] == "?" {
                index += 1
                return ATCommand(name: name, form: .test)
            }
            return ATCommand(name: name, form: .set, parameters: try parameters(chars, &index))
        }
        return ATCommand(name: name, form: .execute)
    }

    /// Comma-separated values up to an unquoted `;` or the end of the line.
    private static func parameters(_ chars: [Unicode.Scalar], _ index: inout Int) throws(ATParseError) -> [ATParameter]
    {
        var result: [ATParameter] = []
        var current = ATParameter.omitted
        var bare = ""
        func finish() {
            if case .quoted = current {
            } else {
                current = bare.isEmpty ? .omitted : .bare(bare)
            }
        }
        while index < chars.count {
            let c = chars[index]
            if c == ";" { break }
            if c == "," {
                finish()
                result.append(current)
                guard result.count < maxParameters else { throw ATParseError("more than \(maxParameters) parameters") }
                current = .omitted
                bare = ""
                index += 1
                continue
            }
            if c == "\"" {
                guard case .omitted = current, bare.isEmpty else { throw ATParseError("quote inside a value") }
                index += 1
                var text = String.UnicodeScalarView()
                var closed = false
                while index < chars.count {
                    let q = chars[index]
                    index += 1
                    if q == "\"" {
                        closed = true
                        break
                    }
                    // V.250 §5.4.2.2: `\HH` is the character with that hex code.
                    if q == "\\", index + 1 < chars.count, let high = hexValue(chars[index]),
                        let low = hexValue(chars[index + 1])
                    {
                        text.append(Unicode.Scalar(high << 4 | low))
                        index += 2
                        continue
                    }
                    text.append(q)
                }
                guard closed else { throw ATParseError("unterminated string") }
                current = .quoted(String(text))
                continue
            }
            if case .quoted = current {
                if c == " " {
                    index += 1
                    continue
                }
                throw ATParseError("text after a closing quote")
            }
            if c != " " { bare.unicodeScalars.append(c) }
            index += 1
        }
        finish()
        result.append(current)
        if result == [.omitted] { return [] }
        return result
    }

    private static func hexValue(_ c: Unicode.Scalar) -> UInt8? {
        guard c.isASCII else { return nil }
        return UCS2.nibble(UInt8(c.value))
    }

    private static func basic(_ chars: [Unicode.Scalar], _ index: inout Int) throws(ATParseError) -> ATCommand {
        var c = chars[index]
        var name = ""
        if c == "&" {
            index += 1
            guard index < chars.count else { throw ATParseError("& without a command letter") }
            c = chars[index]
            name = "&"
        }
        guard (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") else {
            throw ATParseError("unexpected character '\(c)'")
        }
        name += String(c).uppercased()
        index += 1
        if name == "D" {
            // The dial string runs to the end of the line, `;` (voice) included.
            var rest = String.UnicodeScalarView()
            while index < chars.count {
                rest.append(chars[index])
                index += 1
            }
            return ATCommand(name: "D", form: .execute, argument: String(rest))
        }
        if name == "S" {
            var number = ""
            while index < chars.count, chars[index] >= "0" && chars[index] <= "9" {
                number.unicodeScalars.append(chars[index])
                index += 1
            }
            guard !number.isEmpty, number.count <= 3 else { throw ATParseError("S needs a register number") }
            if index < chars.count, chars[index] == "?" {
                index += 1
                return ATCommand(name: "S" + number, form: .read)
            }
            if index < chars.count, chars[index] == "=" {
                index += 1
                var value = ""
                while index < chars.count, chars[index] >= "0" && chars[index] <= "9" {
                    value.unicodeScalars.append(chars[index])
                    index += 1
                }
                return ATCommand(name: "S" + number, form: .set, argument: value)
            }
            throw ATParseError("S\(number) needs ? or =")
        }
        var argument = ""
        while index < chars.count, chars[index] >= "0" && chars[index] <= "9" {
            argument.unicodeScalars.append(chars[index])
            index += 1
        }
        guard argument.count <= 3 else { throw ATParseError("argument of \(name) too long") }
        return ATCommand(name: name, form: .execute, argument: argument)
    }
}
