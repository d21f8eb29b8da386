import Testing

@testable import PlatformControl

/// Test peer names (`as`) follow `[a-z][a-z0-9_-]{0,31}` (`Protocols/control.md` §1), checked on the bytes.
@Suite struct TestPeerNameTests {
    @Test func theGrammarExactly() {
        for name in ["t", "tester", "tester-2", "a_b", "a" + String(repeating: "9", count: 31)] {
            #expect(PlatformMethods.isTestPeerName(name), "\(name)")
        }
        for name in [
            "", "Tester", "1abc", "-a", "a b", "a\nb", "injector:x", "é", "aé", String(repeating: "a", count: 33),
            "a\u{0}",
        ] {
            #expect(!PlatformMethods.isTestPeerName(name), "\(name.debugDescription)")
        }
    }
}
