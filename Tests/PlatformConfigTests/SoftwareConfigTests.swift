import Foundation
import PlatformConfig
import PlatformConfigLoader
import Testing

/// `hub.stateDirectory` and `hub.software` (`Deploy/config-reference.md`, hub.software) through the decoder,
/// the validator and the encoder.
@Suite struct SoftwareConfigTests {
    static let software = """
        hub:
          stateDirectory: /var/lib/handsethub
          software:
            probationMs: 2500
            maxStartAttempts: 5
            maxManifestBytes: 8KiB
            maxImageBytes: 1MiB
            maxImageFiles: 10
            testHooks: true

        """

    @Test func theSettingsRoundTripThroughTheDecoderAndTheEncoder() throws {
        let config = try PlatformConfiguration.load(yaml: Self.software + baseYAML)
        #expect(config.hub.stateDirectory == "/var/lib/handsethub")
        var expected = SoftwareSettings()
        expected.probationMs = 2500
        expected.maxStartAttempts = 5
        expected.maxManifestBytes = 8 << 10
        expected.maxImageBytes = 1 << 20
        expected.maxImageFiles = 10
        expected.testHooks = true
        #expect(config.hub.software == expected)
        let reloaded = try PlatformConfiguration.load(yaml: config.encodeYAML())
        #expect(reloaded == config)
        // Without them nothing is written, so other configurations print as before.
        let plain = try PlatformConfiguration.load(yaml: baseYAML)
        #expect(plain.hub.stateDirectory == nil && plain.hub.software == SoftwareSettings())
        #expect(!plain.encodeYAML().contains("software:"))
    }

    @Test func outOfRangeValuesAndUnknownKeysAreRefused() {
        let zero = Self.software.replacingOccurrences(of: "maxStartAttempts: 5", with: "maxStartAttempts: 0")
        #expect(issues(zero + baseYAML).contains { $0.hasPrefix("hub.software.maxStartAttempts") })
        let short = Self.software.replacingOccurrences(of: "probationMs: 2500", with: "probationMs: 10")
        #expect(issues(short + baseYAML).contains { $0.hasPrefix("hub.software.probationMs") })
        let unknown = Self.software.replacingOccurrences(of: "testHooks: true", with: "tesHooks: true")
        #expect(issues(unknown + baseYAML).contains { $0.contains("tesHooks") })
    }
}
