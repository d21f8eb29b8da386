import Hypervisor
import PlatformConfig
import TestSupport
import Testing

@Suite struct CrossInterruptTests {
    /// Cross-interrupts (`Protocols/guest.md` §6) on the reference handset. The reference policy lets linux interrupt
    /// secure, so the refused pair is secure → mgmt (secure may interrupt only rtos and linux).
    @Test func referenceHandsetAcceptance() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        let secure = fixture.attach("secure")
        let mgmt = fixture.attach("mgmt")
        #expect(Set([rtos.session, linux.session, secure.session, mgmt.session]).count == 4)

        var actions: [Action] = []
        #expect(
            fixture.platform.raise(from: .session(rtos.session), to: "linux", line: 3, actions: &actions) == .delivered)
        #expect(
            actions == [
                .event(.interruptRaised(source: .partition("rtos"), target: "linux", line: 3, coalesced: false))
            ])
        let delivered = fixture.drain().compactMap(\.interrupt)
        #expect(delivered.count == 1)
        #expect(delivered.first?.session == linux.session)
        #expect(delivered.first?.line == 3)

        actions.removeAll()
        #expect(
            fixture.platform.raise(from: .session(secure.session), to: "mgmt", line: 0, actions: &actions)
                == .notPermitted)
        #expect(
            actions == [
                .event(.interruptRefused(source: .partition("secure"), target: "mgmt", line: 0, reason: .notPermitted))
            ])
        #expect(fixture.drain().isEmpty)
        #expect(
            fixture.platform.raise(from: .session(rtos.session), to: "mgmt", line: 0, actions: &actions)
                == .notPermitted)
        #expect(
            fixture.platform.raise(from: .session(rtos.session), to: "modem", line: 0, actions: &actions)
                == .noSuchPartition)
        #expect(
            fixture.platform.raise(from: .session(rtos.session), to: "linux", line: 32, actions: &actions)
                == .noSuchLine)
        #expect(
            fixture.platform.raise(from: .session(rtos.session), to: "linux", line: -1, actions: &actions)
                == .noSuchLine)
        #expect(fixture.platform.snapshot().partition("rtos")?.counters.raisesRefused == 4)
        #expect(fixture.platform.snapshot().partition("secure")?.counters.raisesRefused == 1)

        // Detached target: latched, then delivered when it attaches.
        #expect(fixture.platform.detach(session: linux.session, reason: .connectionLost, actions: &actions))
        actions.removeAll()
        #expect(
            fixture.platform.raise(from: .session(rtos.session), to: "linux", line: 5, actions: &actions) == .latched)
        #expect(actions == [.event(.interruptLatched(source: .partition("rtos"), target: "linux", line: 5))])
        #expect(fixture.drain().isEmpty)
        #expect(fixture.platform.snapshot().partition("linux")?.pendingLines.contains(5) == true)
        let linux2 = fixture.attach("linux")
        let afterAttach = fixture.drain().compactMap(\.interrupt)
        // Line 3 was delivered but never acknowledged by the lost session, so it comes again too.
        #expect(afterAttach.map(\.line).sorted() == [3, 5])
        #expect(afterAttach.allSatisfy { $0.session == linux2.session })
        #expect(fixture.platform.snapshot().partition("linux")?.counters.interruptsLatched == 1)
    }

    @Test func staleSessionCannotRaise() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        var actions: [Action] = []
        fixture.platform.detach(session: rtos.session, reason: .guestRequested, actions: &actions)
        #expect(
            fixture.platform.raise(from: .session(rtos.session), to: "linux", line: 0, actions: &actions)
                == .notPermitted)
        #expect(!fixture.platform.detach(session: rtos.session, reason: .guestRequested, actions: &actions))
    }

    @Test func injectorBypassesPolicyButIsNamed() throws {
        let fixture = try Fixture()
        let mgmt = fixture.attach("mgmt")
        var actions: [Action] = []
        #expect(fixture.platform.raise(from: .injector("t1"), to: "mgmt", line: 2, actions: &actions) == .delivered)
        #expect(
            actions == [.event(.interruptRaised(source: .injector("t1"), target: "mgmt", line: 2, coalesced: false))])
        #expect(Originator.injector("t1").description == "injector:t1")
        #expect(fixture.drain().compactMap(\.interrupt).map(\.session) == [mgmt.session])
    }

    @Test func coalescingPriorityAndMaskThroughThePlatform() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        let platform = fixture.platform
        #expect(platform.setPriority(session: linux.session, line: 9, priority: 1) == .ok)
        #expect(platform.setPriority(session: linux.session, line: 9, priority: 16) == .invalid)
        #expect(platform.setMasked(session: linux.session, line: 4, masked: true) == .ok)
        for _ in 0..<3 { _ = platform.raise(from: .session(rtos.session), to: "linux", line: 2, actions: &actions) }
        _ = platform.raise(from: .session(rtos.session), to: "linux", line: 9, actions: &actions)
        _ = platform.raise(from: .session(rtos.session), to: "linux", line: 4, actions: &actions)
        let first = fixture.drain().compactMap(\.interrupt)
        #expect(first.map(\.line) == [9, 2])
        #expect(first.map(\.coalesced) == [1, 3])
        #expect(first.map(\.priority) == [1, 7])
        #expect(platform.snapshot().partition("linux")?.counters.interruptsCoalesced == 2)

        // In service until EOI: a new raise on line 2 waits.
        _ = platform.raise(from: .session(rtos.session), to: "linux", line: 2, actions: &actions)
        #expect(fixture.drain().isEmpty)
        #expect(platform.endOfInterrupt(session: linux.session, line: 2) == .ok)
        #expect(platform.endOfInterrupt(session: linux.session, line: 2) == .invalid)
        #expect(fixture.drain().compactMap(\.interrupt).map(\.line) == [2])

        #expect(platform.setMasked(session: linux.session, line: 4, masked: false) == .ok)
        #expect(fixture.drain().compactMap(\.interrupt).map(\.line) == [4])
    }

    @Test func suspendedPartitionLatchesUntilResumed() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        var actions: [Action] = []
        #expect(fixture.platform.suspend(partition: "linux", actions: &actions) == .ok)
        #expect(fixture.platform.suspend(partition: "linux", actions: &actions) == .unchanged)
        #expect(fixture.platform.state(ofPartition: "linux") == .suspended(linux.session))
        #expect(
            fixture.platform.raise(from: .session(rtos.session), to: "linux", line: 1, actions: &actions) == .latched)
        #expect(fixture.drain().isEmpty)
        #expect(fixture.platform.resume(partition: "linux", actions: &actions) == .ok)
        #expect(fixture.drain().compactMap(\.interrupt).map(\.line) == [1])
        #expect(actions.contains(.event(.suspended(partition: "linux"))))
        #expect(actions.contains(.event(.resumed(partition: "linux"))))
    }
}
