import Foundation
import PlatformConfig
import PlatformConfigLoader
import Testing

/// `partitions[].mayOpenLinks` (links opened at run time, `Protocols/guest.md` §7.6) through the encoder,
/// the decoder and the validator.
@Suite struct RuntimeLinkConfigTests {
    @Test func mayOpenLinksRoundTripsThroughTheEncoderAndDecoder() throws {
        var config = try PlatformConfiguration.load(yaml: baseYAML)
        #expect(config.partitions.map(\.mayOpenLinks) == [false, false])
        config.partitions[1].mayOpenLinks = true
        let yaml = config.encodeYAML()
        // Written only where set, so configurations without runtime links print as before.
        #expect(yaml.components(separatedBy: "mayOpenLinks: true").count == 2)
        #expect(!yaml.contains("mayOpenLinks: false"))
        let reloaded = try PlatformConfiguration.load(yaml: yaml)
        #expect(reloaded.partitions.map(\.mayOpenLinks) == [false, true])
        #expect(reloaded == config)
        #expect(reloaded.encodeYAML() == yaml)
        // Written by hand too, and a non-boolean is refused.
        let byHand = try PlatformConfiguration.load(
            yaml: baseYAML.replacingOccurrences(of: "mayMessage: [b]", with: "mayMessage: [b]\n    mayOpenLinks: true"))
        #expect(byHand.partitions.map(\.mayOpenLinks) == [true, false])
        #expect(
            issues(baseYAML.replacingOccurrences(of: "mayMessage: [b]", with: "mayMessage: [b]\n    mayOpenLinks: 3"))
                .contains { $0.hasPrefix("partitions[0].mayOpenLinks") })
    }

    /// With no link joining a and b, `a.mayMessage: [b]` is an error unless either end may open the link at
    /// run time.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func mayMessageWithoutALinkIsAllowedWhenEitherEndMayOpenLinks(a: Bool, b: Bool) {
        var yaml = baseYAML.replacingOccurrences(of: "links:\n  - {name: ab, a: a, b: b}", with: "links: []")
        if a {
            yaml = yaml.replacingOccurrences(of: "mayMessage: [b]", with: "mayMessage: [b]\n    mayOpenLinks: true")
        }
        if b {
            yaml = yaml.replacingOccurrences(of: "secret: b-secret", with: "secret: b-secret\n    mayOpenLinks: true")
        }
        #expect(issues(yaml) == (a || b ? [] : ["partitions[0].mayMessage[0]: no link joins a and b"]))
    }

    /// The exemption is about the missing link only: an unknown peer is still reported.
    @Test func mayOpenLinksDoesNotExcuseAnUnknownPeer() {
        let yaml = baseYAML.replacingOccurrences(
            of: "mayMessage: [b]", with: "mayMessage: [b, ghost]\n    mayOpenLinks: true")
        #expect(issues(yaml) == ["partitions[0].mayMessage[1]: unknown partition 'ghost'"])
    }
}
