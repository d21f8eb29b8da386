import Hypervisor
import PlatformConfig
import TestSupport
import Testing

@Suite struct AttachTests {
    @Test func onePartitionOneSessionWithoutTakeover() throws {
        let fixture = try Fixture()
        fixture.attach("linux")
        var actions: [Action] = []
        #expect(fixture.platform.attach(partition: "linux", actions: &actions) == .refused(.alreadyAttached))
        #expect(fixture.platform.attach(partition: "nope", actions: &actions) == .refused(.noSuchPartition))
        #expect(actions.contains(.event(.attachRefused(partition: "linux", reason: .alreadyAttached))))
    }

    @Test func takeoverClosesTheOldSession() throws {
        var configuration = PlatformConfiguration.reference
        configuration.partitions[1].allowTakeover = true
        let fixture = try Fixture(configuration)
        let first = fixture.attach("linux")
        _ = fixture.takeActions()
        let second = fixture.attach("linux")
        let actions = fixture.takeActions()
        #expect(actions.contains(.closeSession(first.session, reason: .takenOver)))
        #expect(actions.contains(.event(.detached(partition: "linux", session: first.session, reason: .takenOver))))
        #expect(fixture.platform.partition(ofSession: first.session) == nil)
        #expect(fixture.platform.partition(ofSession: second.session) == "linux")
        #expect(fixture.platform.snapshot().partition("linux")?.counters.takeovers == 1)
    }

    @Test func resumeTokensAreDeterministicAndChecked() throws {
        let a = try Fixture()
        let b = try Fixture()
        let tokenA = a.attach("secure").resumeToken
        #expect(tokenA.count == 16)
        #expect(tokenA == b.attach("secure").resumeToken)

        let info = a.attach("rtos")
        var actions: [Action] = []
        a.platform.detach(session: info.session, reason: .connectionLost, actions: &actions)
        var wrong = info.resumeToken
        wrong[0] ^= 1
        #expect(
            a.platform.attach(partition: "rtos", resumeToken: wrong, actions: &actions) == .refused(.invalidResumeToken)
        )
        let resumed = a.attach("rtos", resumeToken: info.resumeToken)
        #expect(resumed.resumed)
        #expect(resumed.resumeToken != info.resumeToken)
        #expect(resumed.session != info.session)
    }

    @Test func resumeKeepsControllerStateFreshAttachResetsIt() throws {
        let fixture = try Fixture()
        let info = fixture.attach("linux")
        var actions: [Action] = []
        _ = fixture.platform.setMasked(session: info.session, line: 3, masked: true)
        fixture.platform.detach(session: info.session, reason: .connectionLost, actions: &actions)
        let resumed = fixture.attach("linux", resumeToken: info.resumeToken)
        #expect(fixture.platform.interruptController(ofPartition: "linux")?.lines[3].masked == true)
        fixture.platform.detach(session: resumed.session, reason: .connectionLost, actions: &actions)
        fixture.attach("linux")
        #expect(fixture.platform.interruptController(ofPartition: "linux")?.lines[3].masked == false)
    }

    @Test func welcomeListsPolicyLinksAndRegions() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        #expect(rtos.interruptLines == 32)
        #expect(rtos.mayInterrupt == ["linux", "secure"])
        #expect(rtos.links.map(\.name) == ["rtos-linux", "rtos-secure", "mgmt-rtos"])
        let toMgmt = rtos.links.first { $0.peer == "mgmt" }
        #expect(toMgmt?.maySend == false)
        #expect(toMgmt?.sendCredit == 0)
        #expect(rtos.links.first { $0.peer == "linux" }?.sendCredit == 256)
        #expect(
            rtos.regions == [RegionView(name: "shared-status", sizeBytes: 4096, access: .readWrite, doorbellLine: 1)])
        #expect(fixture.attach("linux").regions.first?.access == .readOnly)
        #expect(fixture.attach("secure").regions.isEmpty)
    }
}
