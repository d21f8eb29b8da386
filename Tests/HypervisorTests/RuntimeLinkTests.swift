import Hypervisor
import PlatformConfig
import TestSupport
import Testing

/// Links opened and closed at run time (Platform+RuntimeLinks.swift, `Protocols/guest.md` §7.6–§7.9).
@Suite struct RuntimeLinkTests {
    /// The reference handset where linux (and only linux) may open links; `limits` tweaked per test.
    private func fixture(maxLinks: Int = 64, configure: (inout PlatformConfiguration) -> Void = { _ in }) throws
        -> Fixture
    {
        var configuration = PlatformConfiguration.reference
        let linux = configuration.partitions.firstIndex { $0.name == "linux" }!
        configuration.partitions[linux].mayOpenLinks = true
        configuration.hub.limits.runtimeLinksMax = maxLinks
        configure(&configuration)
        return try Fixture(configuration)
    }

    private func opened(_ outcome: LinkOpenOutcome) -> OpenedLink? {
        if case .created(let link) = outcome { return link }
        return nil
    }

    @Test func policyDecidesWhoMayOpen() throws {
        let fixture = try fixture()
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        // rtos may message linux but did not opt in.
        #expect(
            platform.openLink(
                session: rtos.session, name: "x", peer: "linux", maxMessageBytes: 64, depth: 4, actions: &actions)
                == .notPermitted)
        #expect(
            platform.openLink(
                session: linux.session, name: "x", peer: "nobody", maxMessageBytes: 64, depth: 4, actions: &actions)
                == .noSuchPartition)
        #expect(
            platform.openLink(
                session: linux.session, name: "x", peer: "linux", maxMessageBytes: 64, depth: 4, actions: &actions)
                == .invalid(.samePartition))
        let created = try #require(
            opened(
                platform.openLink(
                    session: linux.session, name: "linux-secure-2", peer: "secure", maxMessageBytes: 64, depth: 4,
                    actions: &actions)))
        // Ids follow the six configured links.
        #expect(created.link.id == 6)
        #expect(created.link.runtime && created.link.a == "linux" && created.link.b == "secure")
        #expect(created.link.openedBy == .partition("linux"))
        #expect(created.view?.sendCredit == 4)
        #expect(created.view?.peer == "secure")
        #expect(
            actions.contains(
                .event(.linkOpened(link: "linux-secure-2", id: 6, a: "linux", b: "secure", by: .partition("linux")))))
        #expect(platform.runtimeLinkTotals.refused == 3)
    }

    @Test func peerOutsideMayMessageIsRefused() throws {
        let fixture = try fixture { configuration in
            let linux = configuration.partitions.firstIndex { $0.name == "linux" }!
            configuration.partitions[linux].mayMessage = ["rtos"]
            // Keep the configuration valid: linux's old peers may still message it over configured links.
        }
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        #expect(
            fixture.platform.openLink(
                session: linux.session, name: "to-mgmt", peer: "mgmt", maxMessageBytes: 64, depth: 4,
                actions: &actions) == .notPermitted)
    }

    @Test func namesAndSizesAreChecked() throws {
        let fixture = try fixture { $0.hub.limits.runtimeLinkMaxDepth = 16 }
        let platform = fixture.platform
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        func open(_ name: String, _ peer: String = "secure", size: Int = 64, depth: Int = 4) -> LinkOpenOutcome {
            platform.openLink(
                session: linux.session, name: name, peer: peer, maxMessageBytes: size, depth: depth, actions: &actions)
        }
        // A configured link between the same partitions: idempotent, nothing new created.
        guard case .exists(let existing) = open("linux-secure") else {
            Issue.record("expected exists")
            return
        }
        #expect(existing.link.id == 2 && !existing.link.runtime)
        // Same name, other ends.
        #expect(open("rtos-linux", "secure") == .nameInUse)
        #expect(open("9lives") == .invalid(.name))
        #expect(open("has space") == .invalid(.name))
        #expect(open("ok", depth: 0) == .invalid(.depth))
        #expect(open("ok", depth: 17) == .invalid(.depth))
        #expect(open("ok", size: 0) == .invalid(.maxMessageBytes))
        #expect(open("ok", size: (64 << 10) + 1) == .invalid(.maxMessageBytes))
        #expect(platform.runtimeLinkCount == 0)
        #expect(opened(open("ok", depth: 16)) != nil)
        // Opening again is idempotent.
        guard case .exists(let again) = open("ok", depth: 2) else {
            Issue.record("expected exists")
            return
        }
        #expect(again.link.depth == 16)
        // The session already holds its credit: the repeat grants none.
        #expect(again.view?.sendCredit == 0)
    }

    @Test func limitAndIdsNeverReused() throws {
        let fixture = try fixture(maxLinks: 2)
        let platform = fixture.platform
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        func open(_ name: String) -> LinkOpenOutcome {
            platform.openLink(
                session: linux.session, name: name, peer: "mgmt", maxMessageBytes: 64, depth: 4, actions: &actions)
        }
        #expect(opened(open("one"))?.link.id == 6)
        #expect(opened(open("two"))?.link.id == 7)
        #expect(open("three") == .limitReached)
        #expect(platform.closeLink(session: linux.session, link: "one", actions: &actions) == .closed)
        #expect(platform.link(named: "one") == nil)
        // The slot is free again; the id is not reused.
        #expect(opened(open("three"))?.link.id == 8)
        #expect(platform.link(named: "two")?.id == 7)
        // The name may be reused after its link is gone, with a fresh id.
        #expect(platform.closeLink(session: linux.session, link: "two", actions: &actions) == .closed)
        #expect(opened(open("one"))?.link.id == 9)
        #expect(platform.linkDescriptions.map(\.id) == [0, 1, 2, 3, 4, 5, 8, 9])
    }

    @Test func awarePeerIsToldAndMessagesFlowBothWays() throws {
        let fixture = try fixture()
        let platform = fixture.platform
        let linux = fixture.attach("linux")
        let secure = fixture.attach("secure")
        platform.enableRuntimeLinks(session: secure.session)
        var actions: [Action] = []
        let created = try #require(
            opened(
                platform.openLink(
                    session: linux.session, name: "keys", peer: "secure", maxMessageBytes: 32, depth: 8,
                    actions: &actions)))
        let told = actions.compactMap { action -> LinkView? in
            if case .linkOpened(let session, let view, let by) = action, session == secure.session,
                by == .partition("linux")
            {
                return view
            }
            return nil
        }
        #expect(told.count == 1)
        // secure may message linux, so it may answer at once.
        #expect(told.first?.sendCredit == 8 && told.first?.id == created.link.id && told.first?.peer == "linux")
        #expect(
            platform.send(from: .session(linux.session), link: "keys", payload: [1, 2], actions: &actions)
                == .queued(1))
        #expect(
            platform.send(from: .session(secure.session), link: "keys", payload: [3], actions: &actions)
                == .queued(1))
        #expect(
            platform.send(
                from: .session(linux.session), link: "keys", payload: [UInt8](repeating: 0, count: 33),
                actions: &actions) == .tooLarge)
        let deliveries = fixture.drain().compactMap(\.message)
        #expect(deliveries.contains { $0.session == secure.session && $0.payload == [1, 2] && $0.link == "keys" })
        #expect(deliveries.contains { $0.session == linux.session && $0.payload == [3] })
        #expect(
            platform.acknowledge(session: secure.session, link: "keys", upTo: 1, actions: &actions)
                == .acknowledged(freed: 1))
    }

    @Test func peerThatDidNotAskReceivesFromItsNextAttach() throws {
        let fixture = try fixture()
        let platform = fixture.platform
        let linux = fixture.attach("linux")
        let secure = fixture.attach("secure")  // an older client: never enables runtime links
        var actions: [Action] = []
        #expect(
            opened(
                platform.openLink(
                    session: linux.session, name: "keys", peer: "secure", maxMessageBytes: 32, depth: 8,
                    actions: &actions)) != nil)
        #expect(!actions.contains { if case .linkOpened = $0 { true } else { false } })
        #expect(
            platform.send(from: .session(linux.session), link: "keys", payload: [7], actions: &actions) == .queued(1))
        // Its session cannot name the link, so nothing is delivered to it.
        #expect(fixture.drain().compactMap(\.message).isEmpty)
        // Re-attached, its welcome lists the link and the message arrives.
        platform.detach(session: secure.session, reason: .connectionLost, actions: &actions)
        let again = fixture.attach("secure", resumeToken: secure.resumeToken)
        let view = try #require(again.links.first { $0.name == "keys" })
        #expect(view.runtime && view.id == 6 && view.peer == "linux" && view.sendCredit == 8)
        let delivered = fixture.drain().compactMap(\.message)
        #expect(delivered.map(\.payload) == [[7]])
        #expect(delivered.first?.session == again.session)
    }

    @Test func closeWaitsForEveryQueuedMessage() throws {
        let fixture = try fixture()
        let platform = fixture.platform
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        #expect(
            opened(
                platform.openLink(
                    session: linux.session, name: "keys", peer: "secure", maxMessageBytes: 32, depth: 8,
                    actions: &actions)) != nil)
        // secure is detached: the messages wait in the hub.
        for byte in UInt8(1)...3 {
            #expect(
                platform.send(from: .session(linux.session), link: "keys", payload: [byte], actions: &actions)
                    == .queued(UInt64(byte)))
        }
        actions.removeAll()
        #expect(platform.closeLink(session: linux.session, link: "keys", actions: &actions) == .closing(held: 3))
        #expect(actions.contains(.event(.linkClosing(link: "keys", id: 6, by: .partition("linux"), held: 3))))
        // No new messages once closing; repeating the close reports the same state.
        #expect(
            platform.send(from: .session(linux.session), link: "keys", payload: [9], actions: &actions)
                == .linkClosing)
        #expect(
            platform.send(from: .injector("t"), link: "keys", to: "secure", payload: [9], actions: &actions)
                == .linkClosing)
        #expect(platform.closeLink(session: linux.session, link: "keys", actions: &actions) == .closing(held: 3))
        #expect(platform.link(named: "keys")?.closing == true)

        // secure attaches: the closing link is listed without credit, its messages are delivered.
        let secure = fixture.attach("secure")
        platform.enableRuntimeLinks(session: secure.session)
        let view = try #require(secure.links.first { $0.name == "keys" })
        #expect(view.closing && !view.maySend && view.sendCredit == 0)
        var delivered = fixture.drain().compactMap(\.message)
        #expect(delivered.map(\.messageID) == [1, 2, 3])
        // It dies without acknowledging; the next session gets them again, marked as redeliveries.
        platform.detach(session: secure.session, reason: .connectionLost, actions: &actions)
        let resumed = fixture.attach("secure", resumeToken: secure.resumeToken)
        delivered = fixture.drain().compactMap(\.message)
        #expect(delivered.map(\.messageID) == [1, 2, 3] && delivered.allSatisfy(\.redelivery))
        actions.removeAll()
        #expect(
            platform.acknowledge(session: resumed.session, link: "keys", upTo: 2, actions: &actions)
                == .acknowledged(freed: 2))
        #expect(platform.link(named: "keys") != nil)
        // No credit on a closing link.
        #expect(!actions.contains { if case .grantCredit = $0 { true } else { false } })
        #expect(
            platform.acknowledge(session: resumed.session, link: "keys", upTo: 3, actions: &actions)
                == .acknowledged(freed: 1))
        #expect(platform.link(named: "keys") == nil)
        #expect(platform.runtimeLinkCount == 0)
        #expect(actions.contains(.linkClosed(session: resumed.session, link: "keys", id: 6)))
        #expect(actions.contains(.linkClosed(session: linux.session, link: "keys", id: 6)))
        #expect(actions.contains(.event(.linkClosed(link: "keys", id: 6))))
        // Configured links keep delivering after the removal shifted positions.
        #expect(
            platform.send(from: .session(linux.session), link: "linux-secure", payload: [5], actions: &actions)
                == .queued(1))
        #expect(fixture.drain().compactMap(\.message).map(\.payload) == [[5]])
    }

    @Test func configuredLinksCannotBeClosedAndStrangersCannotClose() throws {
        let fixture = try fixture()
        let platform = fixture.platform
        let linux = fixture.attach("linux")
        let rtos = fixture.attach("rtos")
        var actions: [Action] = []
        #expect(platform.closeLink(session: linux.session, link: "rtos-linux", actions: &actions) == .configured)
        #expect(platform.closeLink(injector: "t", link: "rtos-linux", actions: &actions) == .configured)
        #expect(
            opened(
                platform.openLink(
                    session: linux.session, name: "keys", peer: "secure", maxMessageBytes: 32, depth: 8,
                    actions: &actions)) != nil)
        // rtos is not an end of keys.
        #expect(platform.closeLink(session: rtos.session, link: "keys", actions: &actions) == .noSuchLink)
        #expect(platform.closeLink(injector: "t", link: "nope", actions: &actions) == .noSuchLink)
    }

    @Test func injectorBypassesPolicyButNotLimits() throws {
        let fixture = try fixture { $0.hub.limits.runtimeLinkMaxMessageBytes = 128 }
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        platform.enableRuntimeLinks(session: rtos.session)
        var actions: [Action] = []
        // Neither rtos nor mgmt opted in; an injector may still join them.
        let created = try #require(
            opened(
                platform.openLink(
                    injector: "tester", name: "probe", a: "rtos", b: "mgmt", maxMessageBytes: 128, depth: 2,
                    actions: &actions)))
        #expect(created.view == nil && created.link.openedBy == .injector("tester"))
        // rtos may not message mgmt (not in its mayMessage): told of the link, without credit.
        let view = actions.compactMap { action -> LinkView? in
            if case .linkOpened(rtos.session, let view, _) = action { return view }
            return nil
        }.first
        #expect(view?.maySend == false && view?.sendCredit == 0 && view?.peer == "mgmt")
        #expect(
            platform.openLink(
                injector: "tester", name: "big", a: "rtos", b: "mgmt", maxMessageBytes: 129, depth: 2,
                actions: &actions) == .invalid(.maxMessageBytes))
        #expect(
            platform.send(from: .injector("tester"), link: "probe", to: "rtos", payload: [1], actions: &actions)
                == .queued(1))
        #expect(fixture.drain().compactMap(\.message).map(\.sender) == [.injector("tester")])
        #expect(platform.closeLink(injector: "tester", link: "probe", actions: &actions) == .closing(held: 1))
    }
}
