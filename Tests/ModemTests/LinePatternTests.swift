import Modem
import TestSupport
import Testing
import VectorSupport

/// `LinePattern`, the `modem.wait` pattern language (`Protocols/control.md` §14.15): the vectors of
/// `Protocols/vectors/modem/patterns.vectors`, agreement with a backtracking engine on what both accept, and the
/// linear bound on a match's work for the patterns that make backtracking exponential or quadratic.
struct LinePatternTests {
    @Test func everyVectorMatchesOrIsRefusedAsTheSpecSays() throws {
        let vectors = try VectorSet("modem/patterns.vectors").vectors
        #expect(vectors.count >= 50)
        for vector in vectors {
            let source = try vector.text("pattern")
            if let offset = vector["refused"] {
                let reason = try vector.text("reason")
                do {
                    _ = try LinePattern(source)
                    Issue.record("\(vector.name): \(source) was accepted")
                } catch {
                    #expect(error.offset == Int(offset), "\(vector.name): \(error)")
                    #expect(error.reason.contains(reason), "\(vector.name): \(error)")
                }
                continue
            }
            let pattern = try LinePattern(source)
            for field in vector.fields where field.key == "match" || field.key == "nomatch" {
                let bytes = try #require(HexText.unescape(field.value), "\(vector.name): bad escape")
                let text = String(decoding: bytes, as: UTF8.self)
                #expect(
                    pattern.matches(text) == (field.key == "match"),
                    "\(vector.name): \(source) against \(text.debugDescription)")
            }
        }
    }

    /// On ASCII texts without line ends (where `.`, `$` and the class escapes mean the same in both), every
    /// pattern both engines accept gives the same answer as Swift's backtracking `Regex`.
    @Test func agreesWithABacktrackingEngineOnWhatBothAccept() throws {
        let random = SeededRandomSource(seed: 0x5EED_0F_1A77)
        var compared = 0
        var refusedByUs = 0
        for _ in 0..<4000 {
            let source = PatternGenerator.pattern(random, depth: 0)
            guard let ours = try? LinePattern(source) else {
                refusedByUs += 1
                continue
            }
            guard let theirs = try? Regex(source) else { continue }
            for _ in 0..<4 {
                let text = PatternGenerator.text(random)
                let expected = (try? theirs.firstMatch(in: text)) != nil
                #expect(ours.matches(text) == expected, "\(source) against \(text.debugDescription)")
                compared += 1
            }
        }
        // The generator writes mostly valid patterns: the comparison is not vacuous.
        #expect(compared > 10_000, "compared \(compared), refused \(refusedByUs)")
    }

    /// `^AT(a+)+$` against a line that fails at its last character takes a backtracking engine time exponential
    /// in the line (it held the hub's loop indefinitely from 25 bytes); `X.*Y` against a long SMS of `X`s,
    /// quadratic (36 s). Here both are within 2 × (scalars + 2) × (program size) instruction visits, and a second match
    /// of the same text runs on cached steps alone.
    @Test func pathologicalPatternsCostAtMostOneProgramPassPerCharacter() throws {
        let cases: [(String, String, Bool)] = [
            ("^AT(a+)+$", "AT" + String(repeating: "a", count: 20_000) + "!", false),
            ("^(a|aa)*b", String(repeating: "a", count: 20_000), false),
            ("X.*Y", String(repeating: "X", count: 40_000), false),
            ("X.*Y", String(repeating: "X", count: 40_000) + "Y", true),
            ("(x+x+)+y", String(repeating: "x", count: 10_000), false),
        ]
        for (source, text, expected) in cases {
            let pattern = try LinePattern(source)
            #expect(pattern.matches(text) == expected, "\(source)")
            let bound = 2 * (text.unicodeScalars.count + 2) * pattern.programSize
            #expect(pattern.instructionVisits <= bound, "\(source): \(pattern.instructionVisits) > \(bound)")
            // Few automaton states: the cache made the work far smaller than the bound.
            #expect(pattern.instructionVisits < 1000 * pattern.programSize, "\(source): \(pattern.instructionVisits)")
            let before = pattern.instructionVisits
            #expect(pattern.matches(text) == expected)
            #expect(pattern.instructionVisits == before, "\(source): the second match was not cached")
        }
    }

    /// `(a|b)*a(a|b){9}$` needs 1,024 automaton states: more than the cache holds, so it is dropped and rebuilt
    /// as the text goes, and the answers stay right (the pattern matches exactly when the tenth character from
    /// the end is `a`), within the same bound.
    @Test func answersStayRightWhenTheStateCacheOverflows() throws {
        let pattern = try LinePattern("(a|b)*a(a|b){9}$")
        let random = SeededRandomSource(seed: 42)
        for _ in 0..<60 {
            let length = 10 + Int(random.next() % 1500)
            let text = String((0..<length).map { _ in random.next() & 1 == 0 ? Character("a") : "b" })
            let expected = Array(text)[length - 10] == "a"
            let before = pattern.instructionVisits
            #expect(pattern.matches(text) == expected, "length \(length)")
            #expect(pattern.instructionVisits - before <= 2 * (length + 2) * pattern.programSize)
        }
        #expect(pattern.cacheResets > 0, "the texts never filled the cache: the test shows nothing")
    }

    @Test func nonASCIITextsStepWithoutTheCacheAndMatchByScalar() throws {
        let pattern = try LinePattern("^[€-₿]+\\d$")
        let text = String(repeating: "€₿", count: 5000) + "7"
        #expect(pattern.matches(text))
        #expect(pattern.instructionVisits <= 2 * (text.unicodeScalars.count + 2) * pattern.programSize)
        #expect(!pattern.matches(String(repeating: "€₿", count: 5000) + "x"))
        #expect(try LinePattern("^\\w$").matches("é") == false, "\\w is ASCII only")
    }

    @Test func aPatternOverItsSizeIsRefusedBeforeParsing() throws {
        let source = String(repeating: "a", count: LinePattern.maxPatternBytes + 1)
        #expect(throws: LinePattern.SyntaxError.self) { try LinePattern(source) }
        #expect(try LinePattern(String(repeating: "a", count: LinePattern.maxPatternBytes)).programSize == 513)
    }
}

extension SeededRandomSource {
    func pick<T>(_ choices: [T]) -> T { choices[Int(next() % UInt64(choices.count))] }
}

/// Patterns over a three-letter alphabet (so random texts match often) with every construct of §14.15, and
/// ASCII texts without line ends.
enum PatternGenerator {
    static func pattern(_ random: SeededRandomSource, depth: Int) -> String {
        var out = ""
        if random.next() % 6 == 0 { out += "^" }
        for _ in 0..<(1 + random.next() % 4) { out += piece(random, depth: depth) }
        if random.next() % 6 == 0 { out += "$" }
        if depth < 2, random.next() % 5 == 0 { out += "|" + pattern(random, depth: depth + 1) }
        return out
    }

    static func piece(_ random: SeededRandomSource, depth: Int) -> String {
        let atom: String
        switch random.next() % 10 {
        case 0, 1, 2: atom = random.pick(["a", "b", "c"])
        case 3: atom = random.pick([".", "\\d", "\\w", "\\s", "\\W", "\\.", "\\-", " ", "1"])
        case 4: atom = random.pick(["[ab]", "[^a]", "[a-c]", "[^\\d]", "[ab-]", "[]a]", "[\\w.]"])
        case 5, 6:
            atom = depth < 3 ? random.pick(["(", "(?:"]) + pattern(random, depth: depth + 1) + ")" : "a"
        default: atom = random.pick(["a", "b"])
        }
        let quantifier = random.pick(["", "", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "*?", "+?", "{1,3}?"])
        return atom + quantifier
    }

    static func text(_ random: SeededRandomSource) -> String {
        let alphabet = Array("aaabbbcc1 .-_xA")
        return String((0..<(random.next() % 12)).map { _ in random.pick(alphabet) })
    }
}
