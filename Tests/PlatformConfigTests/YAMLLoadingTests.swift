import Foundation
import JSON
import PlatformConfig
import PlatformConfigLoader
import Testing

/// The loader on the YAML module's composer: what composing refuses reaches the report as one issue with its
/// position, and the scalar rules the decoder relies on (text and style, no YAML 1.1 typing) hold.
@Suite struct YAMLLoadingTests {
    private let valid = "platform: {name: x}\npartitions: []\n"

    @Test func composeRefusalsAreOneIssueWithTheirPosition() {
        let deep = valid + "extra: " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "\n"
        #expect(
            loadIssues(deep).map(\.reason) == ["the document nests mappings and lists deeper than 64 levels"])
        #expect(loadIssues(deep).first?.line == 3 && loadIssues(deep).first?.column == 71)
        let nul = "platform: {name: \"x\\0y\"}\npartitions: []\n"
        #expect(loadIssues(nul).map(\.reason) == ["a scalar holds a NUL character (\\0), which no setting can use"])
        let twice = valid + "---\n" + valid
        #expect(loadIssues(twice).first?.line == 3)
        #expect(loadIssues("# only a comment\n").map(\.reason) == ["the document is empty"])
        let tab = "platform:\n\tname: x\n"
        #expect(loadIssues(tab).first?.reason.hasPrefix("YAML syntax error: found character that cannot start") == true)
        #expect(loadIssues(tab).first?.line == 2)
    }

    @Test func scalarsKeepTheirTextAndStyle() throws {
        // `yes` is not a boolean, a quoted number is not an integer, `1_000` is not decimal.
        let yaml = valid.replacing(
            "partitions: []", with: "partitions: []\nhub: {handshakeTimeoutMs: ", maxReplacements: 1)
        #expect(
            loadIssues(yaml + "\"5000\"}\n").contains { $0.reason == "expected an integer, found the string \"5000\"" })
        #expect(loadIssues(yaml + "1_000}\n").contains { $0.reason == "expected an integer, found '1_000'" })
        #expect(!loadIssues(yaml + "5000}\n").contains { $0.path == "hub.handshakeTimeoutMs" })
        let power = valid + "power: {battery: {charging: yes}}\n"
        #expect(loadIssues(power).contains { $0.reason == "expected true or false, found 'yes'" })
    }

    /// A file that is not UTF-8 is refused before composing, naming the file; a byte-order mark is not text.
    @Test func aFileThatIsNotUTF8IsRefused() throws {
        let path = NSTemporaryDirectory() + "yaml-loading-\(getpid()).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(Array("platform: {name: x}\npartitions: []\nhub: {controlToken: ".utf8) + [0xC3, 0x28, 0x7D, 0x0A])
            .write(to: URL(fileURLWithPath: path))
        do {
            _ = try PlatformConfiguration.load(path: path)
            Issue.record("accepted")
        } catch {
            #expect(error.issues.map(\.reason) == ["'\(path)' is not valid UTF-8"])
        }
    }

    /// `hub.config`'s tree: plain scalars become the JSON type they spell, quoted ones stay strings, aliases
    /// are expanded; text that does not compose gives nil.
    @Test func theConfigTreeForHubConfig() throws {
        let tree = try #require(
            ConfigJSON.tree(fromYAML: "a: 1\nb: \"1\"\nc: true\nd: ~\ne: yes\nf: &x [1, two]\ng: *x\n"))
        #expect(
            tree
                == .object(
                    JSONObject([
                        ("a", .int(1)), ("b", .string("1")), ("c", .bool(true)), ("d", .null), ("e", .string("yes")),
                        ("f", .array([.int(1), .string("two")])), ("g", .array([.int(1), .string("two")])),
                    ])))
        #expect(ConfigJSON.tree(fromYAML: "a: [\n") == nil)
        #expect(ConfigJSON.tree(fromYAML: String(repeating: "[", count: 100_000)) == nil)
    }
}
