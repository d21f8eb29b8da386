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

    @Test func emptyInputIsEmptyText() {
        #expect(Hex.encode([UInt8]()) == "")
        #expect(Hex.encode(([1, 2, 3] as [UInt8])[1..<1]) == "")
        #expect(Hex.decode("") == [])
    }
}
