/// Standard base64 (RFC 4648 §4) for binary payloads in JSON (`msg.send`, events carrying bytes).
/// Written here because the codec modules stay free of Foundation.
package enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Encodes with `=` padding.
    package static func encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            out.append(alphabet[Int(chunk >> 18 & 0x3f)])
            out.append(alphabet[Int(chunk >> 12 & 0x3f)])
            out.append(alphabet[Int(chunk >> 6 & 0x3f)])
            out.append(alphabet[Int(chunk & 0x3f)])
            index += 3
        }
        let rest = input.count - index
        if rest > 0 {
            var chunk = UInt32(input[index]) << 16
            if rest == 2 { chunk |= UInt32(input[index + 1]) << 8 }
            out.append(alphabet[Int(chunk >> 18 & 0x3f)])
            out.append(alphabet[Int(chunk >> 12 & 0x3f)])
            out.append(rest == 2 ? alphabet[Int(chunk >> 6 & 0x3f)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded base64; nil for a wrong length, a foreign character, misplaced padding or
    /// non-zero trailing bits (so every byte string has exactly one accepted encoding).
    package static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            var padding = 0
            var chunk: UInt32 = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                if byte == UInt8(ascii: "=") {
                    // Padding only in the last quantum, only in its last two places, and only trailing.
                    guard isLast, offset >= 2 else { return nil }
                    padding += 1
                    chunk <<= 6
                    continue
                }
                guard padding == 0 else { return nil }
                let value = reverse[Int(byte)]
                guard value != 0xff else { return nil }
                chunk = chunk << 6 | UInt32(value)
            }
            out.append(UInt8(truncatingIfNeeded: chunk >> 16))
            if padding < 2 { out.append(UInt8(truncatingIfNeeded: chunk >> 8)) }
            if padding < 1 { out.append(UInt8(truncatingIfNeeded: chunk)) }
            if padding == 2 && chunk & 0xffff != 0 { return nil }
            if padding == 1 && chunk & 0xff != 0 { return nil }
            index += 4
        }
        return out
    }
}
