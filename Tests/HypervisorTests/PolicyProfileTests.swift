import Hypervisor
import PlatformConfig
import TestSupport
import Testing

/// Policy profiles in the model (`Protocols/policy.md`): the effective policy computed from base and profile, the
/// swap, and what happens to what was accepted before it.
@Suite struct PolicyProfileTests {
    /// The reference handset with `enterprise`: linux may not message or interrupt secure, loses lan0, rtos-secure
    /// closes to sending, mgmt is suspended and lan0/linux goes down.
    static func configuration() -> PlatformConfiguration {
        var config = PlatformConfiguration.reference
        config.policy = PolicyConfig(profiles: [
            PolicyProfile(name: "home"),
            PolicyProfile(
                name: "enterprise",
                partitions: [
                    PartitionPolicyChange(
                        partition: "linux", forbidInterrupt: ["rtos"], forbidMessage: ["secure"], revoke: ["lan0"]),
                    PartitionPolicyChange(partition: "secure", allowInterrupt: ["mgmt"]),
                ],
                forbidLinks: ["rtos-secure"], suspend: ["mgmt"], ethernetDown: ["lan0/linux"]),
        ])
        return config
    }

    @Test func profileChangesTheBaseAndNothingElse() throws {
        let config = Self.configuration()
        let base = EffectivePolicy.base(config)
        let enterprise = try EffectivePolicy.compute(base: config, profile: "enterprise")
        #expect(enterprise.profile == "enterprise")
        #expect(enterprise.mayMessage["linux"] == ["rtos", "mgmt"])
        #expect(enterprise.mayInterrupt["linux"] == ["mgmt"])
        #expect(enterprise.mayInterrupt["secure"] == ["rtos", "linux", "mgmt"])
        #expect(enterprise.grant(partition: "linux", device: "lan0") == nil)
        #expect(enterprise.grant(partition: "linux", device: "fb0")?.access == .shared)
        #expect(enterprise.mayMessage["rtos"] == base.mayMessage["rtos"])
        #expect(!enterprise.maySend(on: "rtos-secure", from: "rtos", to: "secure"))
        #expect(enterprise.maySend(on: "rtos-linux", from: "rtos", to: "linux"))
        #expect(enterprise.suspended == ["mgmt"])
        #expect(enterprise.ethernetDown == ["lan0/linux"])
        // An empty profile is the base policy under another name.
        var home = try EffectivePolicy.compute(base: config, profile: "home")
        home.profile = nil
        #expect(home == base)
    }

    @Test func diffNamesEveryChangeBothWays() throws {
        let config = Self.configuration()
        let home = try EffectivePolicy.compute(base: config, profile: "home")
        let enterprise = try EffectivePolicy.compute(base: config, profile: "enterprise")
        let forward = enterprise.diff(from: home)
        #expect(forward.messagesForbidden == [PeerPair(from: "linux", to: "secure")])
        #expect(forward.interruptsForbidden == [PeerPair(from: "linux", to: "rtos")])
        #expect(forward.interruptsAllowed == [PeerPair(from: "secure", to: "mgmt")])
        #expect(forward.grantsWithdrawn.map(\.device) == ["lan0"])
        #expect(forward.linksForbidden == ["rtos-secure"])
        #expect(forward.suspend == ["mgmt"] && forward.resume.isEmpty)
        #expect(forward.ethernetDown == ["lan0/linux"])
        #expect(forward.summary(for: "linux").contains("may not message secure"))
        #expect(forward.summary(for: "linux").contains("lost lan0"))
        let back = home.diff(from: enterprise)
        #expect(back.messagesAllowed == [PeerPair(from: "linux", to: "secure")])
        #expect(back.grantsGiven.map(\.device) == ["lan0"])
        #expect(back.resume == ["mgmt"] && back.ethernetUp == ["lan0/linux"])
        #expect(home.diff(from: home).summary(for: "rtos") == "no change")
    }

    /// Hostile configurations built in Swift (never validated): the model refuses them with the precise issue.
    @Test func hostileProfilesAreRefusedPrecisely() {
        var config = Self.configuration()
        #expect(throws: PolicyError.unknownProfile("roaming")) {
            try EffectivePolicy.compute(base: config, profile: "roaming")
        }
        config.policy.profiles.append(
            PolicyProfile(name: "bad", partitions: [PartitionPolicyChange(partition: "ghost")]))
        Self.expectInvalid(config, "bad", containing: "unknown partition 'ghost'")
        config.policy.profiles[2] = PolicyProfile(
            name: "bad",
            partitions: [PartitionPolicyChange(partition: "linux", allowMessage: ["rtos"], forbidMessage: ["rtos"])])
        Self.expectInvalid(config, "bad", containing: "in both allowMessage and forbidMessage")
        config.policy.profiles[2] = PolicyProfile(name: "bad", forbidLinks: ["no-such-link"])
        Self.expectInvalid(config, "bad", containing: "unknown link 'no-such-link'")
        config.policy.profiles[2] = PolicyProfile(name: "bad", ethernetDown: ["lan0/nope"])
        Self.expectInvalid(config, "bad", containing: "unknown Ethernet port")
        config.policy.profiles[2] = PolicyProfile(
            name: "bad",
            partitions: [
                PartitionPolicyChange(partition: "linux", grant: [DeviceGrant(device: "modem0", access: .shared)])
            ])
        Self.expectInvalid(config, "bad", containing: "belongs to rtos")
        config.policy.profiles[2] = PolicyProfile(
            name: "bad",
            partitions: [
                PartitionPolicyChange(partition: "rtos", grant: [DeviceGrant(device: "lan0", access: .dedicated)])
            ])
        Self.expectInvalid(config, "bad", containing: "lan0 would be dedicated to rtos and also granted to linux")
        config.policy.profiles[2] = PolicyProfile(
            name: "bad", partitions: [PartitionPolicyChange(partition: "secure", revoke: ["fb0"])])
        Self.expectInvalid(config, "bad", containing: "secure has no grant for fb0 to revoke")
        // More profiles than the limit: refused, whichever profile is asked for, and without looking at each.
        config.policy.profiles = (0..<40).map { PolicyProfile(name: "p\($0)") }
        Self.expectInvalid(config, "p0", containing: "more than hub.limits.policyMaxProfiles (16)")
        config.policy.profiles = [
            PolicyProfile(
                name: "big",
                partitions: [
                    PartitionPolicyChange(partition: "linux", forbidMessage: Array(repeating: "rtos", count: 10_000))
                ])
        ]
        Self.expectInvalid(config, "big", containing: "10000 entries, more than 256")
    }

    static func expectInvalid(_ config: PlatformConfiguration, _ profile: String, containing text: String) {
        do {
            _ = try EffectivePolicy.compute(base: config, profile: profile)
            Issue.record("\(profile) was accepted; expected '\(text)'")
        } catch {
            guard case .invalidPolicy(let reason) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(reason.contains(text), "\(reason)")
        }
    }

    /// The swap and the in-flight rules: a message queued before its link was forbidden is still delivered,
    /// a new send is refused `not_permitted` and the sender's credit is gone; a latched raise stays pending; going
    /// back restores sending with fresh credit.
    @Test func swapKeepsWhatWasAcceptedAndRefusesWhatIsForbidden() throws {
        let config = Self.configuration()
        let fixture = try Fixture(config)
        let platform = fixture.platform
        let linux = fixture.attach("linux")
        let secure = fixture.attach("secure")
        var actions: [Action] = []
        #expect(
            platform.send(from: .session(linux.session), link: "linux-secure", payload: [1], actions: &actions)
                == .queued(1))
        #expect(platform.raise(from: .session(linux.session), to: "rtos", line: 3, actions: &actions) == .latched)
        let enterprise = try EffectivePolicy.compute(base: config, profile: "enterprise")
        let diff = platform.applyPolicy(enterprise, actions: &actions)
        #expect(diff.messagesForbidden.contains(PeerPair(from: "linux", to: "secure")))
        #expect(platform.policy == enterprise)
        #expect(
            platform.send(from: .session(linux.session), link: "linux-secure", payload: [2], actions: &actions)
                == .notPermitted)
        #expect(platform.raise(from: .session(linux.session), to: "rtos", line: 4, actions: &actions) == .notPermitted)
        // secure may still answer linux: only linux's direction changed.
        #expect(
            platform.send(from: .session(secure.session), link: "linux-secure", payload: [3], actions: &actions)
                == .queued(1))
        // What linux sent before the switch reaches secure.
        let delivered = fixture.drain().compactMap(\.message).filter { $0.session == secure.session }
        #expect(delivered.map(\.payload) == [[1]])
        // The raise latched before the switch is delivered once rtos attaches.
        let rtos = fixture.attach("rtos")
        #expect(fixture.drain().contains { $0.interrupt?.session == rtos.session && $0.interrupt?.line == 3 })
        // rtos-secure is forbidden both ways even though both may message each other.
        #expect(
            platform.send(from: .session(rtos.session), link: "rtos-secure", payload: [4], actions: &actions)
                == .notPermitted)
        // Back to home: linux gets credit again and may send.
        actions.removeAll()
        platform.applyPolicy(try EffectivePolicy.compute(base: config, profile: "home"), actions: &actions)
        #expect(
            actions.contains {
                if case .grantCredit(let session, "linux-secure", let credit) = $0 {
                    session == linux.session && credit > 0
                } else {
                    false
                }
            })
        #expect(
            platform.send(from: .session(linux.session), link: "linux-secure", payload: [5], actions: &actions)
                == .queued(2))
    }

    /// A session attaching under a profile is welcomed with that profile's permissions.
    @Test func attachUnderAProfileSeesItsPolicy() throws {
        let config = Self.configuration()
        let fixture = try Fixture(config)
        var actions: [Action] = []
        fixture.platform.applyPolicy(
            try EffectivePolicy.compute(base: config, profile: "enterprise"), actions: &actions)
        let linux = fixture.attach("linux")
        #expect(linux.mayMessage == ["rtos", "mgmt"])
        #expect(linux.mayInterrupt == ["mgmt"])
        #expect(linux.links.first { $0.name == "linux-secure" }?.maySend == false)
        #expect(linux.links.first { $0.name == "linux-secure" }?.sendCredit == 0)
        let secure = fixture.attach("secure")
        #expect(secure.mayInterrupt == ["rtos", "linux", "mgmt"])
    }
}
