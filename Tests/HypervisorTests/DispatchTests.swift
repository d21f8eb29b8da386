import Hypervisor
import PlatformConfig
import TestSupport
import Testing

@Suite struct DispatchTests {
    @Test func realTimeIsServedBeforeFairShare() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        let secure = fixture.attach("secure")
        let mgmt = fixture.attach("mgmt")
        var actions: [Action] = []
        // Raised in the opposite order of the expected delivery.
        _ = platform.raise(from: .session(rtos.session), to: "linux", line: 0, actions: &actions)
        _ = platform.raise(from: .session(linux.session), to: "mgmt", line: 0, actions: &actions)
        _ = platform.raise(from: .session(rtos.session), to: "secure", line: 0, actions: &actions)
        _ = platform.raise(from: .session(secure.session), to: "rtos", line: 0, actions: &actions)
        let order = fixture.drain(budget: 2).compactMap(\.interrupt).map(\.session)
        #expect(order == [rtos.session, secure.session])
        let rest = Set(fixture.drain().compactMap(\.interrupt).map(\.session))
        #expect(rest == [linux.session, mgmt.session])
    }

    /// linux is flooded by rtos; mgmt has a trickle from linux. mgmt still gets its messages in
    /// the first pass, and under sustained load both share the budget by weight (100:50).
    @Test func weightedFairShareDoesNotStarve() throws {
        var configuration = PlatformConfiguration.reference
        for index in configuration.links.indices { configuration.links[index].depth = 4096 }
        let fixture = try Fixture(configuration)
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        let mgmt = fixture.attach("mgmt")
        var actions: [Action] = []
        for _ in 0..<4000 {
            _ = platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [1], actions: &actions)
        }
        for _ in 0..<3 {
            #expect(
                platform.send(from: .session(linux.session), link: "mgmt-linux", payload: [2], actions: &actions)
                    != .queueFull)
        }
        let first = fixture.drain(budget: 16).compactMap(\.message)
        #expect(first.filter { $0.session == mgmt.session }.count == 3)
        #expect(first.count == 16)

        // Sustained load on both: mgmt also flooded (by linux over mgmt-linux).
        for _ in 0..<3000 {
            _ = platform.send(from: .injector("flood"), link: "mgmt-linux", to: "mgmt", payload: [3], actions: &actions)
        }
        var perSession: [SessionID: Int] = [:]
        for _ in 0..<50 {
            for message in fixture.drain(budget: 30).compactMap(\.message) {
                perSession[message.session, default: 0] += 1
            }
        }
        let toLinux = perSession[linux.session, default: 0]
        let toMgmt = perSession[mgmt.session, default: 0]
        #expect(toLinux + toMgmt == 1500)
        // Quanta 2:1; the first pass may leave the round one delivery in.
        #expect((999...1001).contains(toLinux))
        #expect((499...501).contains(toMgmt))
    }

    /// The fair-share bound caps only fair-share deliveries: real-time ones in the same pass are all served, and
    /// `hasRealTimeDeliveries` says when real-time work is waiting (the server hands that out at once).
    @Test func fairShareBudgetBoundsOnlyFairSharePartitions() throws {
        var configuration = PlatformConfiguration.reference
        for index in configuration.links.indices { configuration.links[index].depth = 1024 }
        let fixture = try Fixture(configuration)
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        let secure = fixture.attach("secure")
        var actions: [Action] = []
        for _ in 0..<100 {
            _ = platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [1], actions: &actions)
            _ = platform.send(from: .session(rtos.session), link: "rtos-secure", payload: [2], actions: &actions)
        }
        #expect(platform.hasRealTimeDeliveries)
        var pass: [Action] = []
        platform.drainDeliveries(budget: 1000, fairShareBudget: 10, into: &pass)
        let sessions = fixture.expand(pass).compactMap(\.message).map(\.session)
        #expect(sessions.filter { $0 == secure.session }.count == 100)
        #expect(sessions.filter { $0 == linux.session }.count == 10)
        #expect(!platform.hasRealTimeDeliveries)
        #expect(platform.hasPendingDeliveries)

        // A pass with no fair-share budget serves real-time partitions only.
        _ = platform.raise(from: .session(rtos.session), to: "secure", line: 0, actions: &actions)
        pass.removeAll()
        platform.drainDeliveries(budget: 1000, fairShareBudget: 0, into: &pass)
        #expect(pass.count == 1 && pass.first?.interrupt?.session == secure.session)
    }

    /// A fair-share partition alone in the round gets its messages in one batch, not one batch per quantum; with
    /// company, turns go back to quanta (linux 2, mgmt 1 for weights 100 and 50).
    @Test func aPartitionAloneInTheRoundIsServedInLargeBatches() throws {
        var configuration = PlatformConfiguration.reference
        for index in configuration.links.indices { configuration.links[index].depth = 1024 }
        let fixture = try Fixture(configuration)
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        fixture.attach("linux")
        var actions: [Action] = []
        for _ in 0..<100 {
            _ = platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [1], actions: &actions)
        }
        var pass: [Action] = []
        platform.drainDeliveries(budget: 1000, into: &pass)
        #expect(pass.count == 1)
        #expect(fixture.expand(pass).count == 100)

        fixture.attach("mgmt")
        for _ in 0..<10 {
            _ = platform.send(from: .session(rtos.session), link: "rtos-linux", payload: [2], actions: &actions)
            _ = platform.send(from: .injector("t"), link: "mgmt-linux", to: "mgmt", payload: [4], actions: &actions)
        }
        pass.removeAll()
        platform.drainDeliveries(budget: 6, into: &pass)
        let sessions = fixture.expand(pass).compactMap(\.message).map(\.session)
        #expect(sessions.count == 6 && Set(sessions).count == 2, "both fair-share partitions served in turns")
    }

    @Test func hasPendingDeliveriesTracksWork() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        fixture.attach("mgmt")
        var actions: [Action] = []
        #expect(!fixture.platform.hasPendingDeliveries)
        _ = fixture.platform.raise(from: .injector("x"), to: "mgmt", line: 1, actions: &actions)
        _ = fixture.platform.raise(from: .injector("x"), to: "rtos", line: 1, actions: &actions)
        #expect(fixture.platform.hasPendingDeliveries)
        #expect(fixture.drain(budget: 1).compactMap(\.interrupt).map(\.session) == [rtos.session])
        #expect(fixture.platform.hasPendingDeliveries)
        #expect(fixture.drain(budget: 1).count == 1)
        #expect(!fixture.platform.hasPendingDeliveries)
    }
}
