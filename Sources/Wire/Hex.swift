/// Hex helpers for test vectors and traces. Whitespace and `#` comments are ignored when parsing,
/// so vector files can annotate each field.
public enum Hex {
    /// Lowercase hex, two digits a byte, written straight into the string's UTF-8 storage. A live capture
    /// (`eth.frame` events) encodes every frame: appending `Character`s, or iterating a generic sequence byte by
    /// byte across the module boundary, made it the slowest part of the switch.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        if let text = bytes.withContiguousStorageIfAvailable({ encode(UnsafeRawBufferPointer($0)) }) { return text }
        return Array(bytes).withUnsafeBytes { encode($0) }
    }

    /// Bytes lent by the caller (a frame in a read buffer), with no generic dispatch per call. Eight bytes at a
    /// time become sixteen digits in one vector (`digits(ofEight:)`), the last few through the table: a live
    /// capture encodes every frame it sees, and a table lookup a byte cost about four times as many instructions.
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        guard let input = bytes.baseAddress, !bytes.isEmpty else { return "" }
        let count = bytes.count
        return String(unsafeUninitializedCapacity: count * 2) { text in
            // SAFETY: `text` holds 2 × `count` bytes; byte `i` of the input writes the two at `2 × i`: the vector
            // loop reads bytes `i..<i + 8` and writes `2i..<2i + 16` only while `i + 8 <= count`. `pairs` has 256
            // entries, so any byte value indexes it.
            let output = UnsafeMutableRawPointer(text.baseAddress!)
            var index = 0
            #if _endian(little)
                while index + 8 <= count {
                    let eight = input.loadUnaligned(fromByteOffset: index, as: SIMD8<UInt8>.self)
                    output.storeBytes(of: digits(ofEight: eight), toByteOffset: 2 * index, as: SIMD8<UInt16>.self)
                    index += 8
                }
            #endif
            digitPairs.withUnsafeBufferPointer { pairs in
                let table = pairs.baseAddress!
                while index < count {
                    let byte = input.load(fromByteOffset: index, as: UInt8.self)
                    output.storeBytes(of: table[Int(byte)], toByteOffset: 2 * index, as: UInt16.self)
                    index += 1
                }
            }
            return count * 2
        }
    }

    /// The sixteen digits of eight bytes, as a little-endian machine stores them: each byte in a 16-bit lane, its
    /// high nibble in the lane's low byte (stored first) and its low nibble in the high byte, then every nibble
    /// n becomes '0' + n, plus 39 more ('a' − '9' − 1) where n ≥ 10 (n + 6 reaches 16). No byte carries into the
    /// next: none exceeds 0x66.
    @inline(__always)
    static func digits(ofEight bytes: SIMD8<UInt8>) -> SIMD8<UInt16> {
        let lanes = SIMD8<UInt16>(truncatingIfNeeded: bytes)
        let nibbles = (lanes &>> 4) | ((lanes & 0x000F) &<< 8)
        let isLetter = ((nibbles &+ 0x0606) &>> 4) & 0x0101
        return nibbles &+ 0x3030 &+ isLetter &* 0x27
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
