import Hypervisor
import TestSupport
import Testing

@Suite struct RegionTests {
    @Test func grantsAndBoundsAreChecked() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        let linux = fixture.attach("linux")
        let secure = fixture.attach("secure")
        var actions: [Action] = []

        #expect(
            platform.writeRegion(
                session: rtos.session, region: "shared-status", offset: 100, bytes: [1, 2, 3], actions: &actions) == .ok
        )
        #expect(
            platform.readRegion(
                session: linux.session, region: "shared-status", offset: 99, length: 5, actions: &actions)
                == .ok([0, 1, 2, 3, 0]))
        // Read-only grant: the write fails and nothing changes.
        #expect(
            platform.writeRegion(
                session: linux.session, region: "shared-status", offset: 100, bytes: [9], actions: &actions)
                == .outOfGrant)
        #expect(
            actions.contains(.event(.regionAccessRefused(partition: "linux", region: "shared-status", write: true))))
        #expect(
            platform.readRegion(
                session: rtos.session, region: "shared-status", offset: 100, length: 1, actions: &actions) == .ok([1]))
        // No grant at all: default deny, reads included.
        #expect(
            platform.readRegion(
                session: secure.session, region: "shared-status", offset: 0, length: 1, actions: &actions)
                == .outOfGrant)
        #expect(platform.snapshot().partition("secure")?.counters.regionAccessRefused == 1)
        // Bounds, including offsets that would overflow.
        #expect(
            platform.writeRegion(
                session: rtos.session, region: "shared-status", offset: 4095, bytes: [1, 2], actions: &actions)
                == .outOfBounds)
        #expect(
            platform.readRegion(
                session: rtos.session, region: "shared-status", offset: UInt64.max, length: 2, actions: &actions)
                == .outOfBounds)
        #expect(
            platform.writeRegion(
                session: rtos.session, region: "shared-status", offset: 4095, bytes: [7], actions: &actions) == .ok)
        #expect(
            platform.readRegion(
                session: rtos.session, region: "shared-status", offset: 0, length: -1, actions: &actions) == .tooLarge)
        #expect(
            platform.readRegion(session: rtos.session, region: "nope", offset: 0, length: 1, actions: &actions)
                == .noSuchRegion)
    }

    @Test func doorbellRaisesTheLineOnTheOtherGrantees() throws {
        let fixture = try Fixture()
        let platform = fixture.platform
        let rtos = fixture.attach("rtos")
        var actions: [Action] = []
        let rung = platform.ringDoorbell(session: rtos.session, region: "shared-status", actions: &actions)
        #expect(rung.outcome == .ok)
        #expect(rung.raised.map(\.partition) == ["linux"])
        #expect(rung.raised.map(\.outcome) == [.latched])
        let linux = fixture.attach("linux")
        #expect(fixture.drain().compactMap(\.interrupt).map { [$0.line] } == [[1]])
        // A read-only grantee may not ring.
        #expect(
            platform.ringDoorbell(session: linux.session, region: "shared-status", actions: &actions).outcome
                == .outOfGrant)
    }
}
