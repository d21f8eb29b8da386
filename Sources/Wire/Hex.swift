/// Hex helpers for test vectors and traces. Whitespace and `#` comments are ignored when parsing,
/// so vector files can annotate each field.
public enum Hex {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits: [Character] = Array("0123456789abcdef")
        var text = ""
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return text
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var nibbles: [UInt8] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for scalar in content.unicodeScalars {
                switch scalar {
                case "0"..."9": nibbles.append(UInt8(scalar.value - 48))
                case "a"..."f": nibbles.append(UInt8(scalar.value - 87))
                case "A"..."F": nibbles.append(UInt8(scalar.value - 55))
                case " ", "\t", "\r": continue
                default: return nil
                }
            }
        }
        guard nibbles.count % 2 == 0 else { return nil }
        return stride(from: 0, to: nibbles.count, by: 2).map { nibbles[$0] << 4 | nibbles[$0 + 1] }
    }
}
