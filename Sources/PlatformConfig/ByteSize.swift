/// Byte counts with binary suffixes, as written in configuration files.
package enum ByteSize {
    private static let units: [(suffix: String, shift: UInt64)] = [
        ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10), ("B", 0),
    ]

    /// Parses `4096`, `4096B`, `512KiB`, `64MiB`, `1GiB`, `1TiB` (an optional space before the unit).
    /// Decimal units (`MB`) are refused: they are ambiguous in memory sizes.
    package static func parse(_ text: String) -> UInt64? {
        var number = Substring(text)
        var shift: UInt64 = 0
        for unit in units where text.hasSuffix(unit.suffix) {
            number = text.dropLast(unit.suffix.count)
            if number.hasSuffix(" ") { number = number.dropLast() }
            shift = unit.shift
            break
        }
        guard !number.isEmpty, number.utf8.count <= 20, number.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = UInt64(number)
        else { return nil }
        guard value <= UInt64.max >> shift else { return nil }
        return value << shift
    }

    /// The shortest exact form: `64MiB`, `4KiB`, or plain digits when no unit divides the value.
    package static func format(_ value: UInt64) -> String {
        guard value != 0 else { return "0" }
        for unit in units where unit.shift > 0 && value & ((1 << unit.shift) - 1) == 0 {
            return "\(value >> unit.shift)\(unit.suffix)"
        }
        return String(value)
    }
}
