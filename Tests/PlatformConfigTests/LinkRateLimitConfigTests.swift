import PlatformConfig
import PlatformConfigLoader
import Testing

/// Per-link rate budgets in the configuration (`Deploy/config-reference.md`, links `rateLimit`).
@Suite struct LinkRateLimitConfigTests {
    @Test func aLinkBudgetRoundTripsThroughYAML() throws {
        var config = PlatformConfiguration.reference
        config.links[1].rateLimit = LinkRateLimit(
            messagesPerSecond: 20, bytesPerSecond: 64 << 10, burstMessages: 5, burstBytes: 8192)
        config.links[2].rateLimit = LinkRateLimit(messagesPerSecond: 3)
        config.hub.limits.linkMessagesPerSecond = 1000
        config.hub.limits.linkBytesPerSecond = 1 << 20
        #expect(config.validate() == [])
        let reloaded = try PlatformConfiguration.load(yaml: config.encodeYAML())
        #expect(reloaded == config)
        #expect(reloaded.links[0].effectiveRateLimit(reloaded.hub.limits).messagesPerSecond == 1000)
        #expect(reloaded.links[2].effectiveRateLimit(reloaded.hub.limits).bytesPerSecond == 0)
    }

    @Test func outOfRangeAndUselessBudgetsAreRefusedWithTheirPath() {
        var config = PlatformConfiguration.reference
        config.links[0].rateLimit = LinkRateLimit(messagesPerSecond: -1, bytesPerSecond: 1 << 40, burstMessages: 0)
        config.links[1].maxMessageBytes = 4096
        config.links[1].rateLimit = LinkRateLimit(bytesPerSecond: 10_000, burstBytes: 1000)
        let issues = config.validate().map(\.path)
        #expect(issues.contains("links[0].rateLimit.messagesPerSecond"))
        #expect(issues.contains("links[0].rateLimit.bytesPerSecond"))
        #expect(issues.contains("links[0].rateLimit.burstMessages"))
        // A byte bucket smaller than the largest message could never pass it.
        #expect(issues.contains("links[1].rateLimit.burstBytes"))
    }

    @Test func unknownKeysInARateLimitAreErrors() {
        let yaml = PlatformConfiguration.reference.encodeYAML().replacing(
            "    depth: 256\n", with: "    depth: 256\n    rateLimit:\n      messagesPerSec: 3\n")
        #expect(throws: (any Error).self) { _ = try PlatformConfiguration.load(yaml: yaml) }
    }
}
