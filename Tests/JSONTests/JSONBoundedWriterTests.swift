import JSON
import Testing

/// The bounded writer writes what `JSON.write` writes, byte for byte, whenever it says the text fit; it gives up
/// (and says so) on what it leaves to `JSON.write` and on texts longer than its buffer, and never writes past it.
@Suite struct JSONBoundedWriterTests {
    private static let plain: [JSON] = [
        .null, true, false, 0, -1, 9, 10, .int(Int64.max), .int(Int64.min), .int(Int64.min + 1),
        999_999_999_999_999_999,
        "", "irq.raised", "injector:bench", "é😀 non-ASCII", [], [:], [1, "x", nil, true, [[]]],
        ["line": 11, "from": "bench", "nested": ["k": [1, 2, ["deep": .int(-1_000_000)]]], "": ""],
    ]
    /// Values the writer leaves to `JSON.write`: escapes (in values and in keys) and doubles.
    private static let left: [JSON] = [
        "quote\"", "back\\slash", "new\nline", "\u{1}", "\u{7f}", 1.5, -0.0, ["a\"b": 1], ["k": [2.5]],
    ]

    /// Writes `value` into a buffer of `size` bytes guarded by canaries on both sides; nil when it did not fit.
    private func write(_ value: JSON, size: Int) -> [UInt8]? {
        var storage = [UInt8](repeating: 0xA5, count: size + 16)
        let result: [UInt8]? = storage.withUnsafeMutableBufferPointer { all in
            var writer = JSONBoundedWriter(UnsafeMutableBufferPointer(rebasing: all[8..<8 + size]))
            writer.value(value)
            return writer.fits ? Array(writer.written) : nil
        }
        #expect(storage.prefix(8).allSatisfy { $0 == 0xA5 } && storage.suffix(8).allSatisfy { $0 == 0xA5 })
        return result
    }

    /// Integers of every length, both signs, each side of every power of ten: spelled as `String` spells them (the
    /// digits are written two at a time, the odd one last).
    @Test func integersOfEveryLengthAreSpelledAsStringSpellsThem() {
        var samples: [Int64] = [0, Int64.max, Int64.min, Int64.min + 1]
        var power: Int64 = 1
        for _ in 0..<19 {
            samples += [power, power - 1, power + 1, power * 7 / 3 + 5, -power, -(power - 1), -(power + 1)]
            if power <= Int64.max / 10 { power *= 10 }
        }
        for value in samples {
            var storage = [UInt8](repeating: 0, count: 32)
            let written: [UInt8] = storage.withUnsafeMutableBufferPointer { buffer in
                var writer = JSONBoundedWriter(buffer)
                writer.integer(value)
                return Array(writer.written)
            }
            #expect(written == Array(String(value).utf8), "\(value)")
        }
    }

    @Test func plainValuesAreWrittenAsJSONWriteWritesThemWhenTheyFit() {
        for value in Self.plain {
            let expected = value.serializedBytes()
            for size in 0...(expected.count + 24) {
                let written = write(value, size: size)
                if size >= expected.count + 19 {
                    // Integers ask for room for 20 characters whatever they need: any buffer that much larger fits.
                    #expect(written == expected, "\(value) in \(size)")
                } else if let written {
                    #expect(written == expected, "\(value) in \(size)")
                }
                if size < expected.count { #expect(written == nil, "\(value) cannot fit in \(size)") }
            }
        }
    }

    @Test func escapesAndFractionsAreLeftToJSONWrite() {
        for value in Self.left {
            #expect(write(value, size: 4096) == nil, "\(value)")
            #expect(write(["ok": 1, "then": value], size: 4096) == nil, "\(value) inside an object")
        }
    }

    @Test func piecesAfterAFailureAreNotWritten() {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 8) { buffer in
            var writer = JSONBoundedWriter(buffer)
            writer.raw("1234567")
            writer.string("xy")  // does not fit: 4 bytes for 1
            #expect(!writer.fits)
            writer.append(UInt8(ascii: "z"))
            writer.integer(1)
            #expect(writer.count == 7 && Array(writer.written) == Array("1234567".utf8))
        }
        var writer = JSONBoundedWriter(UnsafeMutableBufferPointer(start: nil, count: 0))
        writer.raw("")
        #expect(!writer.fits && writer.count == 0)
    }
}
