import Testing
import Wire

/// `Hex`: lowercase, two digits a byte, the same for contiguous and non-contiguous sequences, and back.
@Suite struct HexTests {
    /// Every byte value, against digits formatted independently of the encoder's table.
    @Test func everyByteValueEncodesAsTwoLowercaseDigits() {
        let all = (0...255).map { UInt8($0) }
        let expected = all.map { byte in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined()
        #expect(Hex.encode(all) == expected)
        #expect(Hex.encode(all[7..<9]) == expected.dropFirst(14).prefix(4).description)
        // A sequence with no contiguous storage takes the other path to the same text.
        #expect(Hex.encode(all.lazy.map { $0 }) == expected)
        #expect(Hex.encode(stride(from: UInt8(0), through: 255, by: 1)) == expected)
        #expect(Hex.decode(expected) == all)
    }

    /// The vector path (eight bytes at a time) and the byte tail: every length up to 40 at every offset into a
    /// buffer against formatting that uses no table, and every byte value in every position of a vector.
    @Test func everyLengthAndAlignmentEncodesLikeOneByteAtATime() {
        let bytes = (0..<300).map { UInt8(($0 * 167 + 13) % 256) }
        bytes.withUnsafeBytes { buffer in
            for start in 0..<8 {
                for length in 0...40 {
                    let part = UnsafeRawBufferPointer(rebasing: buffer[start..<start + length])
                    let expected = part.map { byte in
                        let text = String(byte, radix: 16)
                        return text.count == 1 ? "0" + text : text
                    }.joined()
                    #expect(Hex.encode(part) == expected, "start \(start), length \(length)")
                }
            }
            // Every byte value at every position of an eight-byte vector: position p holds p / 8 + 32 × (p mod 8).
            let everyValue: [UInt8] = (0..<2048).map { (position: Int) -> UInt8 in
                UInt8(truncatingIfNeeded: position / 8 + position % 8 * 32)
            }
            #expect(Hex.decode(everyValue.withUnsafeBytes { Hex.encode($0) }) == everyValue)
        }
    }

    @Test func emptyInputIsEmptyText() {
        #expect(Hex.encode([UInt8]()) == "")
        #expect(Hex.encode(([1, 2, 3] as [UInt8])[1..<1]) == "")
        #expect(Hex.decode("") == [])
    }
}
