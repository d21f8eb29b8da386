// libFuzzer entry for the modem.wait pattern language (Protocols/control.md §14.15). Built by
// run-pattern-fuzz.sh together with Sources/Modem/LinePattern.swift as one module.
//
// The input is a pattern and a text separated by the first zero byte (both read as UTF-8, invalid bytes
// replaced). Properties checked beyond "does not crash": a refusal names an offset inside the pattern; an
// accepted pattern compiles within the instruction limit; a match visits at most 2 × (scalars + 2) × (program size)
// instructions; matching again gives the same answer, without new work on ASCII (unless the
// state cache overflowed); and on short ASCII texts without line
// ends, a pattern Swift's backtracking Regex also accepts gets the same answer from it.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLinePattern(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let source = String(decoding: bytes[..<split], as: UTF8.self)
    let text = split < bytes.count ? String(decoding: bytes[(split + 1)...], as: UTF8.self) : ""

    let pattern: LinePattern
    do {
        pattern = try LinePattern(source)
    } catch {
        guard error.offset >= 0, error.offset <= source.utf8.count, !error.reason.isEmpty else {
            fatalError("refusal outside the pattern: \(error) for \(source.debugDescription)")
        }
        return 0
    }
    guard pattern.programSize <= LinePattern.maxProgramSize else { fatalError("program over the limit") }
    let answer = pattern.matches(text)
    let bound = 2 * (text.unicodeScalars.count + 2) * pattern.programSize
    guard pattern.instructionVisits <= bound else {
        fatalError("\(pattern.instructionVisits) visits > \(bound) for \(source.debugDescription)")
    }
    let before = pattern.instructionVisits
    guard pattern.matches(text) == answer else { fatalError("a second match answered differently") }
    // Unless the cache overflowed (and was dropped) on the way, an ASCII text's steps are all cached now.
    if pattern.cacheResets == 0, text.unicodeScalars.allSatisfy({ $0.value < 128 }), pattern.instructionVisits != before
    {
        fatalError("an ASCII text was not cached: \(source.debugDescription)")
    }

    // The oracle: short, printable ASCII on both sides (where `.`, `$` and the class escapes agree), and a
    // pattern whose backtracking stays cheap: short, with few quantifiers and no count over 3 (Swift's Regex
    // never finished `(|){123}t` against the empty text).
    let printable = { (string: String) in string.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value < 127 } }
    let quantifiers = source.utf8.filter { "*+?{".utf8.contains($0) }.count
    // Any count over 3 has a digit over 3 or two digits in a row (cruder than parsing, and enough here).
    let digits = source.utf8.map { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") ? Int($0) - 48 : -1 }
    let largeCount = digits.indices.contains { digits[$0] > 3 || ($0 > 0 && digits[$0] >= 0 && digits[$0 - 1] >= 0) }
    if source.utf8.count <= 24, text.utf8.count <= 16, quantifiers <= 4, !largeCount, printable(source),
        printable(text), let regex = try? Regex(source)
    {
        let expected = (try? regex.firstMatch(in: text)) != nil
        guard answer == expected else {
            fatalError("\(source.debugDescription) against \(text.debugDescription): \(answer), Regex \(expected)")
        }
    }
    return 0
}
