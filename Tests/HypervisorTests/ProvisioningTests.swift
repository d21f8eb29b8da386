import Hypervisor
import PlatformConfig
import Testing

/// Partitions added and removed at run time (Platform+Provisioning.swift, `Protocols/management.md` §9).
@Suite struct PlatformProvisioningTests {
    static func app(_ name: String = "store-app", realTime: Bool = false) -> PartitionConfig {
        PartitionConfig(
            name: name, schedulingClass: realTime ? .realTime : .fairShare, priority: realTime ? 3 : 12,
            memoryBytes: 4096, secret: "s", mayInterrupt: ["linux"], mayMessage: ["linux"], mayOpenLinks: true)
    }

    @Test func anAddedPartitionAttachesAndIsHeldToItsPolicy() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        #expect(platform.addPartition(Self.app()) == .added)
        #expect(platform.partitionNames.contains("store-app"))
        let app = fixture.attach("store-app")
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        #expect(platform.raise(from: .session(app.session), to: "secure", line: 0, actions: &actions) == .notPermitted)
        #expect(platform.raise(from: .session(app.session), to: "linux", line: 0, actions: &actions) == .delivered)
        #expect(
            platform.openLink(
                session: app.session, name: "x", peer: "rtos", maxMessageBytes: 64, depth: 4, actions: &actions)
                == .notPermitted)
        let delivered = fixture.drain()
        #expect(delivered.contains { $0.interrupt?.session == linux.session })
    }

    /// The policy in force (what `partition.get` shows and what devices ask through `deviceGrant`) holds an
    /// added partition's grants, and forgets them when it goes.
    @Test func thePolicyInForceHoldsAnAddedPartitionsGrantsUntilItGoes() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        var app = Self.app()
        app.devices = [DeviceGrant(device: "fb0", access: .shared)]
        #expect(platform.addPartition(app) == .added)
        #expect(platform.policy.mayInterrupt["store-app"] == ["linux"])
        #expect(platform.policy.mayMessage["store-app"] == ["linux"])
        #expect(platform.policy.grants["store-app"] == ["fb0": .shared])
        var actions: [Action] = []
        _ = platform.removePartition(named: "store-app", actions: &actions)
        #expect(platform.policy.mayInterrupt["store-app"] == nil)
        #expect(platform.policy.grants["store-app"] == nil)
    }

    @Test func namesInUseAreRefused() throws {
        let fixture = try Fixture()
        #expect(fixture.platform.addPartition(Self.app("linux")) == .nameInUse)
        #expect(fixture.platform.addPartition(Self.app()) == .added)
        #expect(fixture.platform.addPartition(Self.app()) == .nameInUse)
        var lines = Self.app("store-b")
        lines.interruptLines = 0
        #expect(fixture.platform.addPartition(lines) == .invalid)
    }

    @Test func removalEndsTheSessionAndItsLinksAndFreesTheName() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        _ = platform.addPartition(Self.app())
        let app = fixture.attach("store-app")
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        guard
            case .created = platform.openLink(
                session: app.session, name: "apps", peer: "linux", maxMessageBytes: 64, depth: 4, actions: &actions)
        else {
            Issue.record("link not opened")
            return
        }
        // A message held for linux goes with the link: store-app can never acknowledge or resend it.
        let sent = platform.send(from: .session(app.session), link: "apps", payload: [1, 2, 3], actions: &actions)
        #expect(sent != .notPermitted)
        actions.removeAll()
        #expect(
            platform.removePartition(named: "store-app", actions: &actions) == .removed(detached: true, linksRemoved: 1)
        )
        #expect(actions.contains { if case .closeSession(app.session, .deprovisioned) = $0 { true } else { false } })
        #expect(actions.contains { if case .linkClosed(linux.session, "apps", _) = $0 { true } else { false } })
        #expect(!platform.partitionNames.contains("store-app"))
        #expect(platform.link(named: "apps") == nil)
        #expect(platform.snapshot().partition("store-app") == nil)
        #expect(
            platform.raise(from: .session(linux.session), to: "store-app", line: 0, actions: &actions)
                == .noSuchPartition)
        #expect(platform.removePartition(named: "store-app", actions: &actions) == .noSuchPartition)
        // The slot is reused: the name can be provisioned again, fresh.
        #expect(platform.addPartition(Self.app()) == .added)
        #expect(fixture.attach("store-app").links.isEmpty)
    }

    /// A guest raising on the same partition again is judged from what its last raise found (`lastRaiseTarget`):
    /// that must follow the partition's removal, its slot's reuse by another name and the name's return.
    @Test func repeatedRaisesFollowTheTargetsRemovalReuseAndReturn() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        var raiser = Self.app("raiser")
        raiser.mayInterrupt = ["store-b"]
        #expect(platform.addPartition(raiser) == .added)
        #expect(platform.addPartition(Self.app("store-b")) == .added)
        let source = fixture.attach("raiser")
        var target = fixture.attach("store-b")
        var actions: [Action] = []
        func raise(_ name: String) -> RaiseOutcome {
            platform.raise(from: .session(source.session), to: name, line: 0, actions: &actions)
        }
        #expect(raise("store-b") == .delivered)
        #expect(raise("store-b") == .delivered)
        #expect(fixture.drain().contains { $0.interrupt?.session == target.session })
        #expect(
            platform.removePartition(named: "store-b", actions: &actions) == .removed(detached: true, linksRemoved: 0))
        #expect(raise("store-b") == .noSuchPartition)
        // Its slot goes to another name, which the raiser may not interrupt.
        #expect(platform.addPartition(Self.app("store-c")) == .added)
        _ = fixture.attach("store-c")
        #expect(raise("store-b") == .noSuchPartition)
        #expect(raise("store-c") == .notPermitted)
        // The name comes back (in a new slot): raises reach its new session.
        #expect(platform.addPartition(Self.app("store-b")) == .added)
        target = fixture.attach("store-b")
        #expect(raise("store-b") == .delivered)
        #expect(fixture.drain().contains { $0.interrupt?.session == target.session })
        // A refusal is remembered too, until the policy changes.
        #expect(raise("linux") == .notPermitted)
        #expect(raise("linux") == .notPermitted)
        var allowed = platform.policy
        allowed.mayInterrupt["raiser"] = ["store-b", "linux"]
        platform.applyPolicy(allowed, actions: &actions)
        #expect(raise("linux") == .latched)  // linux is not attached
        var forbidden = platform.policy
        forbidden.mayInterrupt["raiser"] = []
        platform.applyPolicy(forbidden, actions: &actions)
        #expect(raise("linux") == .notPermitted)
        #expect(raise("store-b") == .notPermitted)
    }

    @Test func partitionsBeyondTheBudgetsRoomStillJoinTheRoundRobin() throws {
        // The reference handset names no budget: the fair-share round has room for its partitions only.
        let fixture = try Fixture()
        let platform = fixture.platform
        var sessions: [SessionID] = []
        for index in 0..<6 {
            #expect(platform.addPartition(Self.app("store-\(index)")) == .added)
            sessions.append(fixture.attach("store-\(index)").session)
        }
        var actions: [Action] = []
        for index in 0..<6 {
            #expect(
                platform.raise(from: .injector("test"), to: "store-\(index)", line: 1, actions: &actions) == .delivered)
        }
        let served = Set(fixture.drain().compactMap { $0.interrupt?.session })
        #expect(served == Set(sessions))
    }

    @Test func configuredPartitionsCannotBeRemoved() throws {
        let fixture = try Fixture()
        var actions: [Action] = []
        // rtos and linux are ends of configured links; linux holds a configured region grant.
        #expect(fixture.platform.removePartition(named: "rtos", actions: &actions) == .configured)
        #expect(fixture.platform.removePartition(named: "linux", actions: &actions) == .configured)
        #expect(fixture.platform.partitionNames.contains("linux"))
    }

    @Test func addedRealTimePartitionsAreServedInPriorityOrder() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        _ = platform.addPartition(Self.app("store-rt", realTime: true))
        let app = fixture.attach("store-rt")
        var actions: [Action] = []
        #expect(platform.raise(from: .injector("test"), to: "store-rt", line: 1, actions: &actions) == .delivered)
        #expect(fixture.drain().contains { $0.interrupt?.session == app.session })
        _ = platform.removePartition(named: "store-rt", actions: &actions)
        let rtos = fixture.attach("rtos")
        #expect(platform.raise(from: .injector("test"), to: "rtos", line: 1, actions: &actions) == .delivered)
        // The removed slot is out of the real-time order: rtos is still served.
        #expect(fixture.drain().contains { $0.interrupt?.session == rtos.session })
    }
}
