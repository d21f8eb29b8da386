import Foundation
import Glibc
import GuestWire
import HubGuest
import Testing

/// The Swift client's side of the power frames (`Protocols/power.md` §4–§5) against a scripted hub: the feature is
/// asked for, each request gets its typed answer, refusals throw the hub's code or come back as a status, `WAKE`
/// surfaces as a typed event before the interrupt it announces, also when it arrives while a request waits.
@Suite struct GuestClientPowerTests {
    static let secret = Array("s3cret".utf8)
    static let info = GuestPowerInfo(
        platform: .idle, partition: .idle, batteryCentiPercent: 4250, charging: false, drawMw: 1200, locks: 1)

    /// The client attached to a scripted hub that offers `power` and then runs `script`.
    static func attach(_ script: @escaping @Sendable (ScriptedGuestHub) -> Void) throws -> GuestClient {
        try ScriptedGuestHub.attachClient(feature: GuestProtocol.powerFeature, secret: secret, script)
    }

    @Test func declaresTakesLocksAndQueriesWithWakeArrivingMidRequest() throws {
        let client = try Self.attach { hub in
            guard let (state, _) = hub.read(), case .powerState(.idle) = state.message else { return }
            hub.write(GuestFrame(.ok, requestId: state.requestId))
            guard let (lock, _) = hub.read(), case .wakeLock(true, "audio") = lock.message else { return }
            hub.write(GuestFrame(.ok, requestId: lock.requestId))
            guard let (more, _) = hub.read(), case .wakeLock(true, "gps") = more.message else { return }
            hub.write(GuestFrame(.error(code: .limitReached, reason: "16 locks"), requestId: more.requestId))
            // The hub wakes the guest for an interrupt while its POWER_QUERY is outstanding: WAKE, IRQ, then the
            // answer, in one write.
            guard let (query, _) = hub.read(), case .powerQuery = query.message else { return }
            hub.write(
                GuestFrame(.wake(source: "irq", line: 5, from: .idle)),
                GuestFrame(.irq(line: 5, priority: 1, coalesced: 1)),
                GuestFrame(.powerInfo(Self.info), requestId: query.requestId))
            guard let (release, _) = hub.read(), case .wakeLock(false, "audio") = release.message else { return }
            hub.write(GuestFrame(.ok, requestId: release.requestId))
            hub.write(GuestFrame(.wake(source: "irq", line: 0xFFFF, from: .suspended)))
        }
        #expect(client.hubOffersPower)
        try client.declarePower(.idle)
        try client.wakeLock("audio")
        #expect(throws: GuestClientError.rejected(code: .limitReached, reason: "16 locks")) {
            try client.wakeLock("gps")
        }
        #expect(try client.powerQuery() == Self.info)
        #expect(try client.nextEvent(timeout: 1) == .wake(source: "irq", line: 5, from: .idle))
        #expect(try client.nextEvent(timeout: 1) == .irq(line: 5, priority: 1, coalesced: 1))
        try client.wakeLock("audio", held: false)
        #expect(try client.nextEvent(timeout: 1) == .wake(source: "irq", line: nil, from: .suspended))
        client.close()
    }

    @Test func partitionControlReturnsEveryStatusAndAWrongAnswerIsUnexpected() throws {
        let client = try Self.attach { hub in
            for status in GuestPartitionControlStatus.allCases {
                guard let (control, _) = hub.read(),
                    case .partitionControl(.suspend, "linux", "call") = control.message
                else { return }
                hub.write(
                    GuestFrame(
                        .partitionControlResult(partition: "linux", action: .suspend, status: status),
                        requestId: control.requestId))
            }
            guard let (resume, _) = hub.read(), case .partitionControl(.resume, "linux", "") = resume.message else {
                return
            }
            hub.write(GuestFrame(.ok, requestId: resume.requestId))
            guard let (query, _) = hub.read(), case .powerQuery = query.message else { return }
            hub.write(GuestFrame(.error(code: .unknownFrameType, reason: "power"), requestId: query.requestId))
        }
        for status in GuestPartitionControlStatus.allCases {
            #expect(try client.partitionControl(.suspend, partition: "linux", reason: "call") == status)
        }
        #expect(throws: GuestClientError.unexpected(.ok)) {
            try client.partitionControl(.resume, partition: "linux")
        }
        #expect(throws: GuestClientError.rejected(code: .unknownFrameType, reason: "power")) {
            try client.powerQuery()
        }
        client.close()
    }
}
