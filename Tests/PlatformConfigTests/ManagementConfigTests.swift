import PlatformConfig
import PlatformConfigLoader
import Testing

/// `management.authorities`, `hub.stateDirectory` and `partitions[].mayManage` (`Protocols/management.md`)
/// through the decoder, the validator and the encoder.
@Suite struct ManagementConfigTests {
    static let key0 = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    static let key1 = "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7"

    static func yaml(_ authorities: String, stateDirectory: String? = "/var/lib/hubd") -> String {
        var text = baseYAML
        if let stateDirectory { text = "hub:\n  stateDirectory: \(stateDirectory)\n" + text }
        return text + "\nmanagement:\n  authorities:\n" + authorities
    }

    static let good = """
            - name: operator
              keys: [\(key0), \(key1)]
              threshold: 2
              grants:
                - {operations: [upgrade, rollback], partitions: [a]}
              mayDowngrade: true

        """

    /// `management.auditSegmentEntries` (`Protocols/management.md` §5): decoded, range-checked, written back only
    /// when it is not the default.
    @Test func auditSegmentEntriesDecodeValidateAndRoundTrip() throws {
        let base = Self.yaml(Self.good)
        #expect(try PlatformConfiguration.load(yaml: base).management.auditSegmentEntries == 16_384)
        let set = base.replacingOccurrences(of: "management:\n", with: "management:\n  auditSegmentEntries: 500\n")
        let config = try PlatformConfiguration.load(yaml: set)
        #expect(config.management.auditSegmentEntries == 500)
        #expect(try PlatformConfiguration.load(yaml: config.encodeYAML()).management.auditSegmentEntries == 500)
        for bad in ["0", "50001"] {
            let text = base.replacingOccurrences(
                of: "management:\n", with: "management:\n  auditSegmentEntries: \(bad)\n")
            #expect(issues(text).contains("management.auditSegmentEntries: \(bad) is outside 1...50000"))
        }
    }

    @Test func authoritiesDecodeAndRoundTrip() throws {
        var config = try PlatformConfiguration.load(yaml: Self.yaml(Self.good))
        #expect(config.hub.stateDirectory == "/var/lib/hubd")
        let authority = try #require(config.management.authorities.first)
        #expect(authority.keys == [Self.key0, Self.key1])
        #expect(authority.threshold == 2)
        #expect(authority.mayDowngrade)
        #expect(authority.allows("upgrade", on: "a"))
        #expect(!authority.allows("upgrade", on: "b"))
        #expect(!authority.allows("install", on: "a"))
        config.partitions[0].mayManage = true
        let reloaded = try PlatformConfiguration.load(yaml: config.encodeYAML())
        #expect(reloaded == config)
    }

    @Test func everyProblemIsReportedWithItsPath() {
        let bad = """
                - name: operator
                  keys: [\(Self.key0), ABC, \(Self.key0)]
                  threshold: 4
                  grants:
                    - {operations: [upgrade, reboot], partitions: [a, nobody]}
                - name: operator
                  keys: []

            """
        let found = issues(Self.yaml(bad))
        for expected in [
            "management.authorities[0].keys[1]: is not an Ed25519 public key (64 lowercase hex digits)",
            "management.authorities[0].keys: lists a key twice",
            "management.authorities[0].threshold: 4 is outside 1...3 (the number of keys)",
            "management.authorities[0].grants[0].operations: 'reboot' is not a management operation",
            "management.authorities[0].grants[0].partitions: 'nobody' is not a partition",
            "management.authorities[1].name: 'operator' is already an authority",
            "management.authorities[1].keys: needs 1...16 keys, has 0",
        ] {
            #expect(found.contains(expected), "\(expected) in \(found)")
        }
    }

    @Test func authoritiesNeedAnAbsoluteStateDirectory() {
        #expect(
            issues(Self.yaml(Self.good, stateDirectory: nil)).contains(
                "management.authorities: needs hub.stateDirectory: counters and keys must persist across restarts"))
        #expect(
            issues(Self.yaml(Self.good, stateDirectory: "relative/dir")).contains(
                "hub.stateDirectory: 'relative/dir' is not an absolute path"))
    }
}

/// `management.authorities[].budget` (`Protocols/management.md` §9): decoding, round trip and validation.
@Suite struct ProvisioningBudgetConfigTests {
    static func authority(_ budget: String) -> String {
        """
            - name: store
              keys: [\(ManagementConfigTests.key0)]
              budget:
        \(budget)

        """
    }

    @Test func budgetDecodesRoundTripsAndGrantsItsPrefixOnly() throws {
        let text = Self.authority(
            """
                    namePrefix: store-
                    maxPartitions: 3
                    maxMemoryBytes: 96MiB
                    classes: [fair-share, real-time]
                    minPriority: 4
                    maxPriority: 12
                    devices: [fb0]
                    peers: [b]
            """)
        let config = try PlatformConfiguration.load(yaml: ManagementConfigTests.yaml(text))
        let store = try #require(config.management.authorities.first)
        let budget = try #require(store.budget)
        #expect(budget.maxPartitions == 3 && budget.maxMemoryBytes == 96 << 20 && budget.classes.count == 2)
        #expect(
            budget.minPriority == 4 && budget.maxPriority == 12 && budget.devices == ["fb0"] && budget.peers == ["b"])
        #expect(store.allows("provision", on: "store-app") && store.allows("deprovision", on: "store-app"))
        #expect(!store.allows("provision", on: "a") && !store.allows("provision", on: "store-"))
        #expect(!store.allows("upgrade", on: "store-app"))
        #expect(try PlatformConfiguration.load(yaml: config.encodeYAML()) == config)
    }

    @Test func everyBudgetProblemIsReportedWithItsPath() {
        let text = Self.authority(
            """
                    namePrefix: a
                    maxPartitions: 0
                    maxMemoryBytes: 1
                    classes: []
                    minPriority: 9
                    maxPriority: 3
                    devices: [modem0, nothing]
                    peers: [nobody]
            """)
        let found = issues(ManagementConfigTests.yaml(text))
        let path = "management.authorities[0].budget"
        for expected in [
            "\(path).namePrefix: configured partition 'a' starts with 'a'",
            "\(path).maxPartitions: 0 is outside 1...64",
            "\(path).classes: names no scheduling class",
            "\(path).minPriority: 9...3 is not a range within 0...15",
            "\(path).devices: 'nothing' is not a device",
            "\(path).devices: 'modem0' is dedicated to a partition",
            "\(path).peers: 'nobody' is not a partition",
        ] {
            #expect(found.contains(expected), "\(expected) in \(found)")
        }
        #expect(found.contains { $0.hasPrefix("\(path).maxMemoryBytes: 1 is outside") })
        let hostile = Self.authority("        namePrefix: \"9-\"\n        maxPartitions: -5")
        let more = issues(ManagementConfigTests.yaml(hostile))
        #expect(more.contains { $0.hasPrefix("\(path).namePrefix:") })
        #expect(more.contains("\(path).maxPartitions: -5 is outside 1...64"))
    }
}
