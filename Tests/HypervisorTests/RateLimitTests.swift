import Hypervisor
import PlatformConfig
import TestSupport
import Testing

/// Per-link rate budgets and identities in the model (`Protocols/guest.md` §7.12): a refusal happens before the
/// hub accepts a message, so nothing answered `queued` is ever lost, and the counts match the answers.
@Suite struct RateLimitTests {
    private func configuration(
        rateLimit: LinkRateLimit? = nil, defaults: (Int, Int) = (0, 0), depth: Int = 256
    ) -> PlatformConfiguration {
        var configuration = PlatformConfiguration.reference
        let index = configuration.links.firstIndex { $0.name == "rtos-secure" }!
        configuration.links[index].rateLimit = rateLimit
        configuration.links[index].depth = depth
        configuration.hub.limits.linkMessagesPerSecond = defaults.0
        configuration.hub.limits.linkBytesPerSecond = defaults.1
        return configuration
    }

    fileprivate func send(
        _ fixture: Fixture, _ session: SessionID, _ bytes: Int = 8, identity: String? = nil
    ) -> SendOutcome {
        fixture.platform.send(
            from: .session(session), link: "rtos-secure", payload: [UInt8](repeating: 7, count: bytes),
            identity: identity, actions: &fixture.actions)
    }

    private func direction(_ fixture: Fixture) -> LinkDirectionSnapshot {
        fixture.platform.snapshot().link("rtos-secure")!.aToB
    }

    @Test func sendsOverTheBudgetAreRefusedCountedAndNeverQueued() throws {
        let fixture = try Fixture(configuration(rateLimit: LinkRateLimit(messagesPerSecond: 5)))
        let rtos = fixture.attach("rtos")
        fixture.attach("secure")
        let creditBefore = direction(fixture).senderCredit
        var queued: [UInt64] = []
        var refused = 0
        for _ in 0..<20 {
            switch send(fixture, rtos.session) {
            case .queued(let id): queued.append(id)
            case .rateLimited: refused += 1
            case let other: Issue.record("unexpected \(other)")
            }
        }
        // One second's worth passes at once; the rest is refused, and the counts say exactly that.
        #expect(queued == [1, 2, 3, 4, 5])
        #expect(refused == 15)
        let snapshot = direction(fixture)
        #expect(snapshot.counters.rateLimited == 15)
        #expect(snapshot.counters.bytesRateLimited == 15 * 8)
        #expect(snapshot.counters.queued == 5)
        // Refused sends used no credit: only the five queued ones did.
        #expect(snapshot.senderCredit == creditBefore - 5)
        #expect(fixture.platform.snapshot().partition("rtos")!.counters.sendsRateLimited == 15)
        // Everything answered `queued` reaches the receiver, nothing else does.
        let delivered = fixture.drain().compactMap(\.message).map(\.messageID)
        #expect(delivered == [1, 2, 3, 4, 5])
        // One event for the episode, not one per refusal.
        let refusals = fixture.events.filter {
            if case .messageRefused(_, _, .rateLimited) = $0 { true } else { false }
        }
        #expect(refusals.count == 1)
        // 200 ms later one more message fits (5 per second), and a new episode is reported again.
        fixture.clock.advance(by: 200_000_000) { _ in }
        #expect(send(fixture, rtos.session) == .queued(6))
        #expect(send(fixture, rtos.session) == .rateLimited)
    }

    @Test func aFullQueueIsReportedAsFullAndTakesNoTokens() throws {
        let fixture = try Fixture(configuration(rateLimit: LinkRateLimit(messagesPerSecond: 3), depth: 2))
        let rtos = fixture.attach("rtos")
        #expect(send(fixture, rtos.session) == .queued(1))
        #expect(send(fixture, rtos.session) == .queued(2))
        // The queue is full: the precise answer is queue_full, and the budget keeps its last token.
        #expect(send(fixture, rtos.session) == .queueFull)
        #expect(direction(fixture).availableMessages == 1)
        #expect(direction(fixture).counters.rateLimited == 0)
    }

    @Test func theByteBudgetCountsPayloadBytes() throws {
        let fixture = try Fixture(configuration(rateLimit: LinkRateLimit(bytesPerSecond: 5000)))
        let rtos = fixture.attach("rtos")
        #expect(send(fixture, rtos.session, 4096) == .queued(1))
        #expect(send(fixture, rtos.session, 1000) == .rateLimited)
        #expect(send(fixture, rtos.session, 904) == .queued(2))
        #expect(direction(fixture).counters.bytesRateLimited == 1000)
    }

    @Test func hubWideDefaultsApplyToLinksWithoutTheirOwnBudget() throws {
        let fixture = try Fixture(configuration(rateLimit: LinkRateLimit(messagesPerSecond: 100), defaults: (2, 0)))
        let rtos = fixture.attach("rtos")
        // rtos-linux has no rateLimit: the default of 2 per second applies; rtos-secure has its own 100.
        var linuxQueued = 0
        for _ in 0..<10 {
            if case .queued = fixture.platform.send(
                from: .session(rtos.session), link: "rtos-linux", payload: [1], actions: &fixture.actions)
            {
                linuxQueued += 1
            }
        }
        #expect(linuxQueued == 2)
        var secureQueued = 0
        for _ in 0..<10 { if case .queued = send(fixture, rtos.session) { secureQueued += 1 } }
        #expect(secureQueued == 10)
        #expect(fixture.platform.snapshot().link("rtos-linux")!.aToB.rateLimit?.messagesPerSecond == 2)
    }

    @Test func eachSendingEndHasItsOwnBudget() throws {
        let fixture = try Fixture(configuration(rateLimit: LinkRateLimit(messagesPerSecond: 1)))
        let rtos = fixture.attach("rtos")
        let secure = fixture.attach("secure")
        #expect(send(fixture, rtos.session) == .queued(1))
        #expect(send(fixture, rtos.session) == .rateLimited)
        // The other direction is untouched by rtos's flood.
        #expect(send(fixture, secure.session) == .queued(1))
    }

    @Test func testPeersAreNotHeldToThePartitionsBudget() throws {
        let fixture = try Fixture(configuration(rateLimit: LinkRateLimit(messagesPerSecond: 1)))
        for expected in UInt64(1)...5 {
            let outcome = fixture.platform.send(
                from: .injector("tester"), link: "rtos-secure", to: "secure", payload: [1], actions: &fixture.actions)
            #expect(outcome == .queued(expected))
        }
    }

    @Test func theIdentityIsStoredWithTheMessageAndDeliveredAgainAfterARestart() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        var secure = fixture.attach("secure")
        #expect(send(fixture, rtos.session, identity: "user:alice") == .queued(1))
        #expect(send(fixture, rtos.session) == .queued(2))
        let first = fixture.drain().compactMap(\.message)
        #expect(first.map(\.identity) == ["user:alice", nil])
        #expect(first.filter { $0.sender == .partition("rtos") }.count == 2)
        #expect(direction(fixture).counters.identitySends == 1)
        // The receiver dies before acknowledging: the redelivery carries the identity again.
        _ = fixture.platform.detach(session: secure.session, reason: .connectionLost, actions: &fixture.actions)
        secure = fixture.attach("secure")
        let again = fixture.drain().compactMap(\.message)
        #expect(again.map(\.identity) == ["user:alice", nil])
        #expect(again.filter(\.redelivery).count == 2)
    }
}

extension RateLimitTests {
    @Test func linksOpenedAtRunTimeGetTheHubWideDefaults() throws {
        var configuration = PlatformConfiguration.reference
        configuration.hub.limits.linkMessagesPerSecond = 2
        let index = configuration.partitions.firstIndex { $0.name == "rtos" }!
        configuration.partitions[index].mayOpenLinks = true
        let fixture = try Fixture(configuration)
        let rtos = fixture.attach("rtos")
        _ = fixture.platform.openLink(
            session: rtos.session, name: "extra", peer: "linux", maxMessageBytes: 64, depth: 8,
            actions: &fixture.actions)
        let outcomes = (0..<4).map { _ in
            fixture.platform.send(from: .session(rtos.session), link: "extra", payload: [1], actions: &fixture.actions)
        }
        #expect(outcomes == [.queued(1), .queued(2), .rateLimited, .rateLimited])
    }

    @Test func aBudgetChangedAtRunTimeAppliesToNewSendsOnly() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        fixture.attach("secure")
        for _ in 0..<3 {
            _ = fixture.platform.send(
                from: .session(rtos.session), link: "rtos-secure", payload: [1], actions: &fixture.actions)
        }
        #expect(fixture.platform.setRateLimit(link: "rtos-secure", LinkRateLimit(messagesPerSecond: 1)))
        #expect(!fixture.platform.setRateLimit(link: "no-such-link", LinkRateLimit(messagesPerSecond: 1)))
        #expect(send(fixture, rtos.session) == .queued(4))
        #expect(send(fixture, rtos.session) == .rateLimited)
        // What was queued before stays queued and is delivered.
        #expect(fixture.drain().compactMap(\.message).map(\.messageID) == [1, 2, 3, 4])
        // Setting the same budget again does not refill a sender that has spent it.
        #expect(fixture.platform.setRateLimit(link: "rtos-secure", LinkRateLimit(messagesPerSecond: 1)))
        #expect(send(fixture, rtos.session) == .rateLimited)
        // Back to unlimited.
        fixture.platform.setRateLimit(link: "rtos-secure", .unlimited)
        #expect(send(fixture, rtos.session) == .queued(5))
    }
}
