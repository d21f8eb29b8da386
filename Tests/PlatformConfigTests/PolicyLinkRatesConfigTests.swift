import PlatformConfig
import PlatformConfigLoader
import Testing

/// A profile's `linkRates` (`Deploy/config-reference.md`, policy): decoded, held to the rules of a link's own
/// `rateLimit`, every problem at its path, and written back so that it reads the same.
@Suite struct PolicyLinkRatesConfigTests {
    static func yaml(_ entries: String) -> String {
        baseYAML + "\npolicy:\n  profiles:\n    - name: office\n      linkRates:\n" + entries
    }

    @Test func linkRatesDecodeAndRoundTrip() throws {
        let config = try PlatformConfiguration.load(
            yaml: Self.yaml(
                "        - {link: ab, messagesPerSecond: 5, bytesPerSecond: 8KiB, burstMessages: 2, burstBytes: 16KiB}\n"
            ))
        let office = try #require(config.policy.profile(named: "office"))
        #expect(
            office.linkRates == [
                ProfileLinkRate(
                    link: "ab",
                    limit: LinkRateLimit(
                        messagesPerSecond: 5, bytesPerSecond: 8192, burstMessages: 2, burstBytes: 16384))
            ])
        let yaml = config.encodeYAML()
        #expect(yaml.contains("linkRates:"))
        #expect(try PlatformConfiguration.load(yaml: yaml) == config)
        // An entry without rates lifts the link's budget (0 is unlimited), and reads back the same.
        let lifted = try PlatformConfiguration.load(yaml: Self.yaml("        - {link: ab}\n"))
        #expect(lifted.policy.profiles[0].linkRates == [ProfileLinkRate(link: "ab", limit: .unlimited)])
        #expect(try PlatformConfiguration.load(yaml: lifted.encodeYAML()) == lifted)
    }

    @Test(arguments: [
        ("- {link: ba, messagesPerSecond: 5}", "policy.profiles[0].linkRates[0].link: unknown link 'ba'"),
        (
            "- {link: ab, messagesPerSecond: 5}\n        - {link: ab, bytesPerSecond: 5}",
            "policy.profiles[0].linkRates[1].link: 'ab' is listed twice (also policy.profiles[0].linkRates[0])"
        ),
        (
            "- {link: ab, messagesPerSecond: -1}",
            "policy.profiles[0].linkRates[0].messagesPerSecond: -1 is outside 0...10000000"
        ),
        (
            "- {link: ab, messagesPerSecond: 10000001}",
            "policy.profiles[0].linkRates[0].messagesPerSecond: 10000001 is outside 0...10000000"
        ),
        (
            "- {link: ab, bytesPerSecond: 17GiB}",
            "policy.profiles[0].linkRates[0].bytesPerSecond: 18253611008 is outside 0...17179869184"
        ),
        (
            "- {link: ab, messagesPerSecond: 5, burstMessages: 0}",
            "policy.profiles[0].linkRates[0].burstMessages: 0 is outside 1...10000000"
        ),
        (
            "- {link: ab, bytesPerSecond: 100, burstBytes: 100}",
            "policy.profiles[0].linkRates[0].burstBytes: 100 is below the link's maxMessageBytes (4096): its largest messages could never pass"
        ),
    ])
    func badEntriesAreReportedAtTheirPath(entry: String, expected: String) {
        let found = issues(Self.yaml("        " + entry + "\n"))
        #expect(found == [expected], "\(found)")
    }

    @Test func shapesAreChecked() {
        #expect(
            issues(Self.yaml("        - {messagesPerSecond: 5}\n")).contains {
                $0.hasPrefix("policy.profiles[0].linkRates[0]") && $0.contains("link")
            })
        #expect(
            issues(Self.yaml("        - {link: ab, rate: 5}\n")).contains {
                $0.hasPrefix("policy.profiles[0].linkRates[0]") && $0.contains("rate")
            })
        #expect(issues(Self.yaml("        - {link: ab, messagesPerSecond: fast}\n")).count == 1)
    }

    /// At most 256 entries per profile, one issue for the list rather than one per entry.
    @Test func theListIsBounded() {
        let entries = String(repeating: "        - {link: ab, messagesPerSecond: 1}\n", count: 257)
        #expect(issues(Self.yaml(entries)) == ["policy.profiles[0].linkRates: 257 entries, more than 256"])
    }
}
