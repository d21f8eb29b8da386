/// UCS2 (UTF-16 big-endian, as SMS and `+CSCS="UCS2"` use it) and hex text helpers.
package enum UCS2 {
    /// Big-endian UTF-16 code units of `text` (characters outside the BMP become surrogate pairs).
    package static func encode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for unit in text.utf16 {
            out.append(UInt8(unit >> 8))
            out.append(UInt8(unit & 0xFF))
        }
        return out
    }

    /// Text for big-endian UTF-16 bytes; nil for an odd byte count. Lone surrogates become U+FFFD.
    package static func decode(_ bytes: some Collection<UInt8>) -> String? {
        let array = Array(bytes)
        guard array.count % 2 == 0 else { return nil }
        var units: [UInt16] = []
        units.reserveCapacity(array.count / 2)
        for index in stride(from: 0, to: array.count, by: 2) {
            units.append(UInt16(array[index]) << 8 | UInt16(array[index + 1]))
        }
        return String(decoding: units, as: UTF16.self)
    }

    /// Uppercase hex of `bytes`, as AT commands print PDUs.
    package static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes of a hex string (no separators allowed); nil for odd length or a non-hex character.
    package static func unhex(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
