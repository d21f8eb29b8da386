import Testing
import VectorSupport
import YAML

/// Hostile texts: each is refused with one precise error (or composes), never a crash, a hang or a huge tree.
@Suite struct HostileYAMLTests {
    private func refusal(_ text: String, limits: ComposeLimits = ComposeLimits()) -> ComposeError? {
        do {
            _ = try Composer.compose(text, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    /// `&a0 [x, x, ...]`, then each level lists the previous one `width` times: level n stands for width^n
    /// scalars, from a few hundred bytes ("billion laughs").
    private func chain(levels: Int, width: Int = 9) -> String {
        var yaml = "a0: &a0 [" + Array(repeating: "x", count: width).joined(separator: ", ") + "]\n"
        for level in 1..<levels {
            yaml += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: width).joined(separator: ", ")
            yaml += "]\n"
        }
        return yaml
    }

    @Test func anAliasBombIsRefusedAtTheFirstAliasPastTheBudget() throws {
        let error = try #require(refusal(chain(levels: 10)))
        // Levels 1-4 add 74,682 nodes; the first *a4 of level 5 (66,430 nodes) passes the budget.
        #expect(
            error.reason == "aliases expand the document by more than 100000 nodes (at *a4, which stands for 66430)")
        #expect(error.mark == Mark(line: 6, column: 10))
        // The same chain under a larger budget composes, sharing the anchored nodes, and reports its size.
        let composed = try #require(try Composer.compose(chain(levels: 4), limits: ComposeLimits()))
        // Level n stands for 1 + 9 * size(n - 1): 10, 91, 820, 7381; plus the root and the four keys.
        #expect(composed.expandedNodes == 1 + 4 + 10 + 91 + 820 + 7381)
    }

    @Test func anAliasCannotBeAMappingKey() throws {
        let error = try #require(refusal("anchors: &k [a, b]\nmap:\n  *k : 1\n"))
        #expect(error.reason == "an alias (*k) cannot be a mapping key; write the key out")
        #expect(error.mark == Mark(line: 3, column: 3))
        // A scalar anchor as a key is refused too: keys are written out.
        #expect(refusal("a: &k key\nmap: {*k : 1}\n")?.reason.hasPrefix("an alias (*k)") == true)
    }

    @Test func nestingDeeperThanTheLimitIsRefusedWithoutRecursion() throws {
        // A hundred thousand open brackets: a recursive composer or reader would overflow its stack.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = try #require(refusal(deep))
        #expect(error.reason == "the document nests mappings and lists deeper than 64 levels")
        #expect(error.mark == Mark(line: 1, column: 65))
        // Block mappings count the same; 64 levels compose, 65 do not.
        func block(_ levels: Int) -> String {
            (0..<levels).map { String(repeating: "  ", count: $0) + "k:\n" }.joined()
                + String(repeating: "  ", count: levels) + "leaf\n"
        }
        #expect(refusal(block(64)) == nil)
        #expect(refusal(block(65))?.mark == Mark(line: 65, column: 129))
    }

    @Test func anAliasCannotCarryATreePastTheDepthLimit() throws {
        func nested(_ levels: Int) -> String {
            String(repeating: "[", count: levels) + "x" + String(repeating: "]", count: levels)
        }
        // 40 levels anchored, aliased 30 levels down: 70 levels once expanded.
        let text = "a: &deep \(nested(40))\nb: \(nested(30).replacing("x", with: "*deep", maxReplacements: 1))\n"
        let error = try #require(refusal(text))
        #expect(error.reason == "the document nests mappings and lists deeper than 64 levels")
        #expect(error.mark?.line == 2)
        // Aliased 20 levels down it fits (61 levels with the root mapping).
        #expect(
            refusal("a: &deep \(nested(40))\nb: \(nested(20).replacing("x", with: "*deep", maxReplacements: 1))\n")
                == nil)
    }

    @Test func aHugeScalarComposesIntact() throws {
        let big = String(repeating: "0123456789abcdef", count: 200_000)
        let composed = try #require(try Composer.compose("key: \(big)\n"))
        guard case .mapping(let map) = composed.root, case .scalar(let scalar) = map[0].value else {
            Issue.record("not a mapping of a scalar")
            return
        }
        #expect(scalar.string.utf8.count == 3_200_000)
        #expect(scalar.string == big)
    }

    @Test func aNulInAScalarIsRefused() {
        let error = refusal("path: \"/etc/passwd\\0.yaml\"\n")
        #expect(error?.reason == "a scalar holds a NUL character (\\0), which no setting can use")
        #expect(error?.mark == Mark(line: 1, column: 7))
    }

    @Test func controlCharactersAndInvalidTextAreRefused() {
        #expect(refusal("a: \u{1}\n")?.reason == "unreadable YAML: control characters are not allowed")
        // Bytes that were not UTF-8 arrive as U+FFFD (the loader refuses invalid UTF-8 before composing): text.
        let replaced = String(decoding: [0x61, 0x3A, 0x20, 0xFF, 0xFE, 0x0A], as: UTF8.self)
        #expect(refusal(replaced) == nil)
    }

    @Test func tabsForIndentationAreRefusedWithTheirPosition() {
        let error = refusal("a:\n  b: 1\n\tc: 2\n")
        #expect(
            error?.reason
                == "YAML syntax error: found a tab character that violates indentation (while scanning a plain scalar)")
        #expect(error?.mark == Mark(line: 3, column: 1))
        let first = refusal("a:\n\tb: 1\n")
        #expect(first?.reason.hasPrefix("YAML syntax error: found character that cannot start any token") == true)
        #expect(first?.mark == Mark(line: 2, column: 1))
    }

    @Test func aSecondDocumentIsRefused() {
        let error = refusal("a: 1\n...\n---\nb: 2\n")
        #expect(
            error?.reason
                == "YAML syntax error: but found another document (expected a single document in the stream)")
        #expect(error?.mark?.line == 3)
    }

    /// Scalar keys are compared by their text: a quoted `'1'` and a plain `1` are one key for the
    /// configuration reader, which looks keys up by text, so the second is refused, not silently preferred.
    @Test func keysThatDifferOnlyInQuotingAreDuplicates() {
        let error = refusal("1: a\n'1': b\n")
        #expect(error?.reason == "duplicate key '1' in one mapping")
        #expect(error?.mark == Mark(line: 1, column: 1))
    }

    /// Every prefix of a real configuration, and seeded garbage, composes or is refused: never a crash.
    @Test func truncatedAndGarbageTextsEndInAnAnswer() throws {
        let text = try #require(RepositoryFiles.read(RepositoryFiles.root + "/Deploy/examples/reference-handset.yaml"))
        let bytes = Array(text.utf8)
        var refused = 0
        for end in stride(from: 0, to: bytes.count, by: 13) {
            if refusal(String(decoding: bytes[..<end], as: UTF8.self)) != nil { refused += 1 }
        }
        #expect(refused > 0)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let alphabet = Array("ab:-[]{}&*!|>'\"#?,. \n\t\\%@`~0".utf8)
        for _ in 0..<2000 {
            var garbage: [UInt8] = []
            for _ in 0..<64 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                garbage.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            _ = refusal(String(decoding: garbage, as: UTF8.self))
        }
    }
}
