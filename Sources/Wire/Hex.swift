/// Hex helpers for test vectors and traces. Whitespace and `#` comments are ignored when parsing,
/// so vector files can annotate each field.
public enum Hex {
    /// Lowercase hex, two digits a byte, written straight into the string's UTF-8 storage. A live capture
    /// (`eth.frame` events) encodes every frame: appending `Character`s, or iterating a generic sequence byte by
    /// byte across the module boundary, made it the slowest part of the switch.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        if let text = bytes.withContiguousStorageIfAvailable({ encode(contiguous: $0) }) { return text }
        return Array(bytes).withUnsafeBufferPointer { encode(contiguous: $0) }
    }

    private static func encode(contiguous bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard !bytes.isEmpty else { return "" }
        return String(unsafeUninitializedCapacity: bytes.count * 2) { text in
            digitPairs.withUnsafeBufferPointer { pairs in
                // SAFETY: `text` holds 2 × `bytes.count` bytes and each byte writes the two at `2 × i`; `pairs`
                // has an entry for every byte value.
                let output = UnsafeMutableRawPointer(text.baseAddress!)
                for (index, byte) in bytes.enumerated() {
                    output.storeBytes(of: pairs[Int(byte)], toByteOffset: 2 * index, as: UInt16.self)
                }
            }
            return bytes.count * 2
        }
    }

    /// The two digits of every byte value, as stored in memory (first digit at the lower address).
    private static let digitPairs: [UInt16] = (0...255).map { (value: Int) -> UInt16 in
        let digits = Array("0123456789abcdef".utf8)
        return (UInt16(digits[value >> 4]) | UInt16(digits[value & 0x0f]) << 8).littleEndian
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
