// Compact JSON text written through a pointer into a buffer of fixed size, for short texts written in tight loops
// (every event line a subscriber receives): appending to an array checks its capacity and uniqueness per piece,
// a hundred instructions for each of the twenty pieces of an event.

/// Writes what ``JSON/write(into:)`` writes, byte for byte, into a fixed buffer, as long as it fits and needs only
/// the plain forms: a string that needs escaping, a number with a fraction or exponent (`.double`) or a text longer
/// than the buffer sets ``fits`` to false, and the caller writes the text the ordinary way. Nothing is written past
/// the buffer: every write first compares its length with the room left.
package struct JSONBoundedWriter {
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// Bytes written so far (all of them at the start of the buffer).
    package private(set) var count = 0
    /// False once something did not fit or needed a form this writer leaves to ``JSON/write(into:)``.
    package private(set) var fits: Bool

    /// A writer into `buffer`, which must stay valid while the writer is used.
    package init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        if let start = buffer.baseAddress {
            base = start
            capacity = buffer.count
            fits = true
        } else {
            // SAFETY: with no room, nothing is ever written through this pointer (`fits` starts false).
            base = UnsafeMutablePointer(bitPattern: 1)!
            capacity = 0
            fits = false
        }
    }

    /// The bytes written, while they are valid.
    package var written: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    private mutating func room(_ length: Int) -> Bool {
        guard fits, length <= capacity - count else {
            fits = false
            return false
        }
        return true
    }

    /// Appends `bytes` as they are.
    package mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, room(bytes.count) else { return }
        // SAFETY: `room` checked that `count + bytes.count <= capacity`; source and buffer do not overlap (the
        // buffer is the writer's own).
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    /// Appends one byte.
    package mutating func append(_ byte: UInt8) {
        guard room(1) else { return }
        // SAFETY: `room` checked that `count < capacity`.
        base[count] = byte
        count += 1
    }

    /// Appends fixed text (a literal) as it is.
    package mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    /// Appends the decimal digits of `value`, as ``JSON/writeInteger(_:into:)`` does.
    package mutating func integer(_ value: Int64) {
        guard room(20) else { return }  // "-" and 19 digits at most
        var magnitude = value.magnitude
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20 && magnitude >= scale {
            digits += 1
            if scale > UInt64.max / 10 { break }
            scale *= 10
        }
        if value < 0 { append(UInt8(ascii: "-")) }
        // SAFETY: `room(20)` above covers the sign and the at most 19 digits of an Int64's magnitude.
        var position = count + digits
        count = position
        // Two digits per division (an event's times are 19 digits): half the multiplies of one digit at a time.
        // SAFETY: a pair's index is below 200, the literal's length.
        let pairs = JSONBoundedWriter.digitPairs.utf8Start
        while magnitude >= 100 {
            let pair = Int(truncatingIfNeeded: magnitude % 100) &* 2
            magnitude /= 100
            position -= 2
            base[position] = pairs[pair]
            base[position + 1] = pairs[pair + 1]
        }
        if magnitude >= 10 {
            let pair = Int(truncatingIfNeeded: magnitude) &* 2
            position -= 2
            base[position] = pairs[pair]
            base[position + 1] = pairs[pair + 1]
        } else {
            base[position - 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude)
        }
    }

    /// "00" to "99", two bytes each: a literal, read in place (no array to check the bounds of or set up once).
    private static let digitPairs: StaticString = """
        0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
        5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899
        """

    /// Appends `value` quoted, when it needs no escaping (else ``fits`` becomes false).
    package mutating func string(_ value: String) {
        let plain: Bool? = value.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where byte < 0x20 || byte == 0x22 || byte == 0x5c || byte == 0x7f { return false }
            guard room(bytes.count + 2) else { return false }
            append(UInt8(ascii: "\""))
            append(bytes)
            append(UInt8(ascii: "\""))
            return true
        }
        if plain != true { fits = false }
    }

    /// Appends `value` as ``JSON/write(into:)`` writes it, or sets ``fits`` to false.
    package mutating func value(_ value: JSON) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): if flag { raw("true") } else { raw("false") }
        case .int(let number): integer(number)
        case .double: fits = false
        case .string(let text): string(text)
        case .array(let elements):
            append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() where fits {
                if position > 0 { append(UInt8(ascii: ",")) }
                self.value(element)
            }
            append(UInt8(ascii: "]"))
        case .object(let object):
            append(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() where fits {
                if position > 0 { append(UInt8(ascii: ",")) }
                string(member.key)
                append(UInt8(ascii: ":"))
                self.value(member.value)
            }
            append(UInt8(ascii: "}"))
        }
    }
}
