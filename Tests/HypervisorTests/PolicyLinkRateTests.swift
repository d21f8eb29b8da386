import Hypervisor
import PlatformConfig
import TestSupport
import Testing

/// Profiles' `linkRates` in the model (`Protocols/policy.md` §2–§4): the effective budget of every configured link,
/// the diff that names the changed ones, and the buckets across a switch (tokens carried up to the new burst,
/// accepted messages never touched).
@Suite struct PolicyLinkRateTests {
    /// The reference handset with rtos-secure at 10 msg/s in the base; `office` lowers it to 5 msg/s (burst 5) and
    /// gives rtos-linux (unlimited in the base) 3 msg/s; `open` lifts rtos-secure; `home` changes nothing.
    static func configuration() -> PlatformConfiguration {
        var config = PlatformConfiguration.reference
        let index = config.links.firstIndex { $0.name == "rtos-secure" }!
        config.links[index].rateLimit = LinkRateLimit(messagesPerSecond: 10)
        config.policy = PolicyConfig(profiles: [
            PolicyProfile(name: "home"),
            PolicyProfile(
                name: "office",
                linkRates: [
                    ProfileLinkRate(link: "rtos-secure", limit: LinkRateLimit(messagesPerSecond: 5, burstMessages: 5)),
                    ProfileLinkRate(link: "rtos-linux", limit: LinkRateLimit(messagesPerSecond: 3)),
                ]),
            PolicyProfile(name: "open", linkRates: [ProfileLinkRate(link: "rtos-secure", limit: .unlimited)]),
        ])
        return config
    }

    private func activate(_ fixture: Fixture, _ profile: String?) throws -> PolicyDiff {
        let policy = try EffectivePolicy.compute(base: fixture.platform.configuration, profile: profile)
        return fixture.platform.applyPolicy(policy, actions: &fixture.actions)
    }

    private func send(_ fixture: Fixture, _ session: SessionID, _ link: String = "rtos-secure", count: Int) -> (
        queued: Int, limited: Int
    ) {
        var result = (queued: 0, limited: 0)
        for _ in 0..<count {
            switch fixture.platform.send(
                from: .session(session), link: link, payload: [1, 2], actions: &fixture.actions)
            {
            case .queued: result.queued += 1
            case .rateLimited: result.limited += 1
            case let other: Issue.record("unexpected \(other)")
            }
        }
        return result
    }

    private func budget(_ fixture: Fixture, _ link: String = "rtos-secure") -> LinkDirectionSnapshot {
        fixture.platform.snapshot().link(link)!.aToB
    }

    @Test func everyConfiguredLinkHasItsBudgetAndTheProfileReplacesIt() throws {
        var config = Self.configuration()
        config.hub.limits.linkBytesPerSecond = 65536  // the hub-wide default, for links without their own
        let base = EffectivePolicy.base(config)
        #expect(Set(base.linkRates.keys) == Set(config.links.map(\.name)))
        #expect(base.linkRates["rtos-secure"] == LinkRateLimit(messagesPerSecond: 10))
        #expect(base.linkRates["rtos-linux"] == LinkRateLimit(bytesPerSecond: 65536))
        let office = try EffectivePolicy.compute(base: config, profile: "office")
        #expect(office.linkRates["rtos-secure"] == LinkRateLimit(messagesPerSecond: 5, burstMessages: 5))
        // Replaced whole: the hub-wide byte budget does not survive under the profile's entry.
        #expect(office.linkRates["rtos-linux"] == LinkRateLimit(messagesPerSecond: 3))
        #expect(office.linkRates["linux-secure"] == base.linkRates["linux-secure"])
        #expect(try EffectivePolicy.compute(base: config, profile: "open").linkRates["rtos-secure"] == .unlimited)
    }

    @Test func theDiffNamesChangedRatesBothWaysAndTellsTheEnds() throws {
        let config = Self.configuration()
        let home = try EffectivePolicy.compute(base: config, profile: "home")
        let office = try EffectivePolicy.compute(base: config, profile: "office")
        let forward = office.diff(from: home)
        #expect(
            forward.ratesChanged == [
                RateChange(
                    link: "rtos-linux", ends: ["rtos", "linux"], from: .unlimited,
                    to: LinkRateLimit(messagesPerSecond: 3)),
                RateChange(
                    link: "rtos-secure", ends: ["rtos", "secure"], from: LinkRateLimit(messagesPerSecond: 10),
                    to: LinkRateLimit(messagesPerSecond: 5, burstMessages: 5)),
            ])
        #expect(forward.summary(for: "secure") == "rate of rtos-secure: 5 msg/s")
        #expect(forward.summary(for: "rtos").contains("rate of rtos-linux: 3 msg/s"))
        #expect(forward.summary(for: "mgmt") == "no change")
        let back = home.diff(from: office)
        #expect(back.ratesChanged.map(\.link) == ["rtos-linux", "rtos-secure"])
        #expect(back.ratesChanged.map(\.to) == [.unlimited, LinkRateLimit(messagesPerSecond: 10)])
        #expect(back.summary(for: "linux") == "rate of rtos-linux: unlimited")
        #expect(office.diff(from: office).ratesChanged.isEmpty)
    }

    /// Configurations built in Swift without validation: the model refuses them with the precise issue.
    @Test func badEntriesAreRefusedBeforeAnythingChanges() {
        var config = Self.configuration()
        config.policy.profiles.append(
            PolicyProfile(name: "bad", linkRates: [ProfileLinkRate(link: "nowhere", limit: .unlimited)]))
        PolicyProfileTests.expectInvalid(config, "bad", containing: "linkRates[0].link: unknown link 'nowhere'")
        config.policy.profiles[3].linkRates = [
            ProfileLinkRate(link: "rtos-linux", limit: LinkRateLimit(messagesPerSecond: -1))
        ]
        PolicyProfileTests.expectInvalid(config, "bad", containing: "messagesPerSecond: -1 is outside 0...10000000")
        config.policy.profiles[3].linkRates = Array(
            repeating: ProfileLinkRate(link: "rtos-linux", limit: .unlimited), count: 300)
        PolicyProfileTests.expectInvalid(config, "bad", containing: "linkRates: 300 entries, more than 256")
    }

    /// The switch applies the new budget in the same call as the permissions; what was queued before stays
    /// queued and is delivered; switching back restores the base budget.
    @Test func aLoweredBudgetRefusesBeyondItAndSwitchingBackLiftsIt() throws {
        let fixture = try Fixture(Self.configuration())
        let rtos = fixture.attach("rtos")
        fixture.attach("linux")
        fixture.attach("secure")
        // rtos-linux is unlimited in the base: 8 pass.
        #expect(send(fixture, rtos.session, "rtos-linux", count: 8) == (8, 0))
        let diff = try activate(fixture, "office")
        #expect(diff.ratesChanged.map(\.link) == ["rtos-linux", "rtos-secure"])
        // Right after the call, before the clock moves: the new budget is in force and link.get's view shows it.
        #expect(budget(fixture, "rtos-linux").rateLimit == LinkRateLimit(messagesPerSecond: 3))
        #expect(budget(fixture, "rtos-linux").availableMessages == 3)
        #expect(send(fixture, rtos.session, "rtos-linux", count: 10) == (3, 7))
        #expect(budget(fixture, "rtos-linux").counters.rateLimited == 7)
        #expect(budget(fixture, "rtos-linux").counters.queued == 11)
        // The reverse direction has its own bucket under the same budget.
        #expect(fixture.platform.snapshot().link("rtos-linux")!.bToA.availableMessages == 3)
        // Nothing accepted is lost: all 11 reach linux, in order.
        let delivered = fixture.drain().compactMap(\.message).filter { $0.link == "rtos-linux" }.map(\.messageID)
        #expect(delivered == Array(1...11))
        // Back to the base: unlimited again.
        #expect(try activate(fixture, nil).ratesChanged.map(\.link) == ["rtos-linux", "rtos-secure"])
        #expect(budget(fixture, "rtos-linux").rateLimit == nil)
        #expect(send(fixture, rtos.session, "rtos-linux", count: 20) == (20, 0))
    }

    /// Tokens across a switch: each sender keeps what it holds, up to the new burst; a dimension that was unlimited
    /// starts full; switching back and forth never refills a spent bucket.
    @Test func tokensAreCarriedUpToTheNewBurst() throws {
        let fixture = try Fixture(Self.configuration())
        let rtos = fixture.attach("rtos")
        fixture.attach("secure")
        // Idle at 10 msg/s: 10 held. Under office (burst 5) at most 5 pass at once.
        _ = try activate(fixture, "office")
        #expect(budget(fixture).availableMessages == 5)
        #expect(send(fixture, rtos.session, count: 8) == (5, 3))
        // Spent: switching back to 10 msg/s does not refill it, nor does switching again.
        _ = try activate(fixture, nil)
        #expect(budget(fixture).rateLimit == LinkRateLimit(messagesPerSecond: 10))
        #expect(budget(fixture).availableMessages == 0)
        _ = try activate(fixture, "office")
        _ = try activate(fixture, nil)
        #expect(send(fixture, rtos.session, count: 1) == (0, 1))
        // It refills at the rate in force: 10 msg/s, so 300 ms bring 3.
        fixture.clock.advance(by: 300_000_000) { _ in }
        #expect(send(fixture, rtos.session, count: 5) == (3, 2))
        // Partly spent, then lowered: min(held, new burst). 700 ms at 10/s bring 7; office keeps 5 of them.
        fixture.clock.advance(by: 700_000_000) { _ in }
        _ = try activate(fixture, "office")
        #expect(budget(fixture).availableMessages == 5)
        // Lifted (open): no bucket; set again from unlimited: a full bucket of the new burst.
        _ = try activate(fixture, "open")
        #expect(budget(fixture).rateLimit == nil)
        #expect(send(fixture, rtos.session, count: 30) == (30, 0))
        _ = try activate(fixture, "office")
        #expect(budget(fixture).availableMessages == 5)
        // A profile that leaves the link's budget alone leaves its bucket alone too.
        #expect(send(fixture, rtos.session, count: 2) == (2, 0))
        let before = budget(fixture).availableMessages
        let unchanged = try EffectivePolicy.compute(base: fixture.platform.configuration, profile: "office")
        #expect(fixture.platform.applyPolicy(unchanged, actions: &fixture.actions).ratesChanged.isEmpty)
        #expect(budget(fixture).availableMessages == before)
    }

    /// The byte bucket follows the same rule, and its burst is still never below the link's largest message.
    @Test func theByteBucketIsCarriedToo() throws {
        var config = Self.configuration()
        config.policy.profiles.append(
            PolicyProfile(
                name: "bytes",
                linkRates: [ProfileLinkRate(link: "rtos-secure", limit: LinkRateLimit(bytesPerSecond: 100))]))
        let fixture = try Fixture(config)
        _ = fixture.attach("rtos")
        fixture.attach("secure")
        _ = try activate(fixture, "bytes")
        let snapshot = budget(fixture)
        let maxMessage = UInt64(fixture.platform.snapshot().link("rtos-secure")!.maxMessageBytes)
        // The message dimension went away; the byte bucket starts full at max(100, maxMessageBytes).
        #expect(snapshot.availableMessages == nil && snapshot.burstBytes == max(100, maxMessage))
        #expect(snapshot.availableBytes == snapshot.burstBytes)
    }
}
