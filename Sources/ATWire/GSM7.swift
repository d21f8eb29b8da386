/// The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), and septet packing.
package enum GSM7 {
    /// Code point for each septet of the default alphabet; 0x1B is the escape to the extension table.
    static let basic: [Unicode.Scalar] = Array(
        ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1B}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà").unicodeScalars)
    /// The extension table: septet after the escape → character.
    static let extensionTable: [UInt8: Unicode.Scalar] = [
        0x0A: "\u{0C}", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|",
        0x65: "€",
    ]
    static let escape: UInt8 = 0x1B
    static let basicIndex: [Unicode.Scalar: UInt8] = {
        var index: [Unicode.Scalar: UInt8] = [:]
        for (code, scalar) in basic.enumerated() where code != 0x1B { index[scalar] = UInt8(code) }
        return index
    }()
    static let extensionIndex: [Unicode.Scalar: UInt8] = {
        var index: [Unicode.Scalar: UInt8] = [:]
        for (code, scalar) in extensionTable { index[scalar] = code }
        return index
    }()

    /// The septets for `text`, extension characters as escape + code; nil if a character has no GSM form.
    package static func septets(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if let code = basicIndex[scalar] {
                out.append(code)
            } else if let code = extensionIndex[scalar] {
                out.append(escape)
                out.append(code)
            } else {
                return nil
            }
        }
        return out
    }

    /// Whether every character of `text` exists in the default alphabet or its extension.
    package static func canEncode(_ text: String) -> Bool { septets(text) != nil }

    /// Text for septets; an unknown extension code decodes as its basic-table character (TS 23.038 note).
    package static func text(_ septets: some Collection<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        var escaped = false
        for raw in septets {
            let code = raw & 0x7F
            if escaped {
                escaped = false
                if let scalar = extensionTable[code] {
                    scalars.append(scalar)
                } else {
                    scalars.append(basic[Int(code)])
                }
            } else if code == escape {
                escaped = true
            } else {
                scalars.append(basic[Int(code)])
            }
        }
        if escaped { scalars.append(" ") }
        return String(scalars)
    }

    /// Packs septets LSB-first into octets, after `fillBits` zero bits (used to align after a UDH).
    package static func pack(_ septets: [UInt8], fillBits: Int = 0) -> [UInt8] {
        let totalBits = fillBits + septets.count * 7
        var out = [UInt8](repeating: 0, count: (totalBits + 7) / 8)
        var bit = fillBits
        for septet in septets {
            let value = UInt16(septet & 0x7F) << UInt16(bit % 8)
            out[bit / 8] |= UInt8(value & 0xFF)
            if bit / 8 + 1 < out.count { out[bit / 8 + 1] |= UInt8(value >> 8) }
            bit += 7
        }
        return out
    }

    /// Unpacks `count` septets starting after `fillBits`; nil if the octets are too few.
    package static func unpack(_ octets: some Collection<UInt8>, count: Int, fillBits: Int = 0) -> [UInt8]? {
        let bytes = Array(octets)
        guard count >= 0, fillBits + count * 7 <= bytes.count * 8 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var bit = fillBits
        for _ in 0..<count {
            var value = UInt16(bytes[bit / 8]) >> UInt16(bit % 8)
            if bit % 8 > 1, bit / 8 + 1 < bytes.count { value |= UInt16(bytes[bit / 8 + 1]) << UInt16(8 - bit % 8) }
            out.append(UInt8(value & 0x7F))
            bit += 7
        }
        return out
    }
}
