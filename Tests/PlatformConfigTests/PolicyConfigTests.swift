import Foundation
import PlatformConfig
import PlatformConfigLoader
import Testing

/// `policy:` (`Deploy/config-reference.md`, policy; `Protocols/policy.md`) through the decoder, the validator and
/// the encoder: every name checked, contradictions and oversized lists refused with their path.
@Suite struct PolicyConfigTests {
    static let policyYAML = """

        policy:
          initial: home
          profiles:
            - name: home
            - name: enterprise
              description: office network
              partitions:
                - name: b
                  forbidMessage: [a]
                  revoke: [fb0]
                - name: a
                  forbidInterrupt: [b]
                  grant:
                    - {device: fb0, access: shared}
              forbidLinks: [ab]
              suspend: [b]
              ethernetDown: [lan0/p0]
        """

    @Test func profilesDecodeValidateAndRoundTrip() throws {
        let config = try PlatformConfiguration.load(yaml: baseYAML + Self.policyYAML)
        #expect(config.policy.initial == "home")
        #expect(config.policy.profiles.map(\.name) == ["home", "enterprise"])
        let enterprise = try #require(config.policy.profile(named: "enterprise"))
        #expect(enterprise.partitions.map(\.partition) == ["b", "a"])
        #expect(enterprise.partitions[0].forbidMessage == ["a"])
        #expect(enterprise.partitions[1].grant == [DeviceGrant(device: "fb0", access: .shared)])
        #expect(
            enterprise.forbidLinks == ["ab"] && enterprise.suspend == ["b"] && enterprise.ethernetDown == ["lan0/p0"])
        let yaml = config.encodeYAML()
        let reloaded = try PlatformConfiguration.load(yaml: yaml)
        #expect(reloaded == config)
        // Without profiles nothing is written, so existing files print as before.
        #expect(!(try PlatformConfiguration.load(yaml: baseYAML)).encodeYAML().contains("policy:"))
    }

    @Test(arguments: [
        (
            "- name: b\n          forbidMessage: [a]", "- name: ghost\n          forbidMessage: [a]",
            "policy.profiles[1].partitions[0].name: unknown partition 'ghost'"
        ),
        (
            "forbidMessage: [a]", "forbidMessage: [zz]",
            "policy.profiles[1].partitions[0].forbidMessage[0]: unknown peer partition 'zz'"
        ),
        (
            "forbidMessage: [a]", "forbidMessage: [b]",
            "policy.profiles[1].partitions[0].forbidMessage[0]: unknown peer partition 'b'"
        ),
        (
            "forbidMessage: [a]", "forbidMessage: [a]\n          allowMessage: [a]",
            "policy.profiles[1].partitions[0].allowMessage[0]: 'a' is in both allowMessage and forbidMessage"
        ),
        (
            "revoke: [fb0]", "revoke: [fb0]\n          grant: [{device: fb0, access: shared}]",
            "policy.profiles[1].partitions[0].grant[0]: 'fb0' is in both grant and revoke"
        ),
        (
            "revoke: [fb0]", "revoke: [lan0]",
            "policy.profiles[1].partitions[0].revoke[0]: b has no grant for lan0 to revoke"
        ),
        ("revoke: [fb0]", "revoke: [nic9]", "policy.profiles[1].partitions[0].revoke[0]: unknown device 'nic9'"),
        ("forbidLinks: [ab]", "forbidLinks: [ba]", "policy.profiles[1].forbidLinks[0]: unknown link 'ba'"),
        ("suspend: [b]", "suspend: [b, b]", "policy.profiles[1].suspend[1]: 'b' is listed twice"),
        (
            "ethernetDown: [lan0/p0]", "ethernetDown: [lan0/p9]",
            "policy.profiles[1].ethernetDown[0]: unknown Ethernet port (SEGMENT/PORT) 'lan0/p9'"
        ),
        ("initial: home", "initial: roaming", "policy.initial: unknown profile 'roaming'"),
        (
            "- name: home\n", "- name: enterprise\n",
            "policy.profiles[1].name: duplicate profile name 'enterprise' (also policy.profiles[0])"
        ),
        (
            "- {device: fb0, access: shared}\n      forbidLinks",
            "- {device: fb0, access: shared}\n            - {device: fb0, access: shared}\n      forbidLinks",
            "policy.profiles[1].partitions[1].grant[1]: 'fb0' is listed twice"
        ),
    ])
    func everyBadNameOrContradictionIsReportedAtItsPath(find: String, replace: String, expected: String) {
        let yaml = (baseYAML + Self.policyYAML).replacingOccurrences(of: find, with: replace)
        #expect(yaml != baseYAML + Self.policyYAML, "the test's edit did not apply")
        #expect(issues(yaml).contains(expected), "\(issues(yaml))")
    }

    /// A profile may not make a dedicated device shared with another partition, nor give a modem to a non-owner.
    @Test func effectiveGrantsAreChecked() {
        let modem = (baseYAML + Self.policyYAML).replacingOccurrences(
            of: "revoke: [fb0]", with: "revoke: [fb0]\n          grant: [{device: modem0, access: shared}]")
        #expect(
            issues(modem).contains(
                "policy.profiles[1].partitions[0].grant[0]: modem0 belongs to a; only its owner may hold it"))
        let dedicated = (baseYAML + Self.policyYAML).replacingOccurrences(
            of: "- {device: fb0, access: shared}\n      forbidLinks",
            with: "- {device: fb0, access: dedicated}\n      forbidLinks")
        #expect(issues(dedicated) == [])  // b's fb0 grant is revoked in the same profile
        let clash = dedicated.replacingOccurrences(of: "revoke: [fb0]", with: "forbidInterrupt: [a]")
        #expect(issues(clash).contains("policy.profiles[1]: fb0 would be dedicated to a and also granted to b"))
    }

    /// Counts are bounded before anything is looked at: more profiles than `hub.limits.policyMaxProfiles`, or a
    /// list longer than 256, is one issue.
    @Test func countsAreBounded() {
        let many = (0..<17).map { "    - name: p\($0)\n" }.joined()
        #expect(
            issues(baseYAML + "\npolicy:\n  profiles:\n" + many.replacingOccurrences(of: "    -", with: "    -")) == [
                "policy.profiles: 17 profiles, more than hub.limits.policyMaxProfiles (16)"
            ])
        let raised = baseYAML.replacingOccurrences(
            of: "platform:\n  name: test", with: "platform:\n  name: test\nhub:\n  limits:\n    policyMaxProfiles: 17")
        #expect(issues(raised + "\npolicy:\n  profiles:\n" + many) == [])
        let long = "[" + Array(repeating: "a", count: 300).joined(separator: ", ") + "]"
        #expect(
            issues(
                baseYAML
                    + "\npolicy:\n  profiles:\n    - name: x\n      partitions:\n        - name: b\n          forbidMessage: \(long)\n"
            ) == [
                "policy.profiles[0].partitions[0].forbidMessage: 300 entries, more than 256"
            ])
    }

    /// The management operation `activatePolicy` (`Protocols/management.md` §3) is granted on profiles and `base`;
    /// other operations still only on partitions; no profile may be called `base`.
    @Test func activatePolicyGrantsNameProfiles() {
        let key = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
        func authority(_ grant: String) -> String {
            "hub:\n  stateDirectory: /var/lib/hubd\n" + baseYAML + Self.policyYAML
                + "\nmanagement:\n  authorities:\n    - name: office\n      keys: [\(key)]\n      grants:\n        - \(grant)\n"
        }
        #expect(issues(authority("{operations: [activatePolicy], partitions: [enterprise, base]}")) == [])
        #expect(
            issues(authority("{operations: [activatePolicy], partitions: [roaming]}")) == [
                "management.authorities[0].grants[0].partitions: 'roaming' is not a policy profile nor base"
            ])
        #expect(
            issues(authority("{operations: [activatePolicy, upgrade], partitions: [enterprise]}")) == [
                "management.authorities[0].grants[0].partitions: 'enterprise' is not a partition"
            ])
        let reserved = (baseYAML + Self.policyYAML).replacingOccurrences(of: "- name: home\n", with: "- name: base\n")
        #expect(issues(reserved).contains("policy.profiles[0].name: 'base' is reserved: it names the base policy"))
    }
}
