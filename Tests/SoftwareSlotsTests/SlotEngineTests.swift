import Foundation
import HubSystem
import JSON
import SoftwareSlots
import Testing

/// The slot engine (`Protocols/management.md` §"Images") with a fake host: restarts and events recorded,
/// probation timers on a manual clock.
@Suite struct SlotEngineTests {
    let scratch = Scratch()
    let host = FakeSlotHost()
    let settings = SlotSettings(probationMs: 5000, maxStartAttempts: 3)

    func engine(killPoint: String? = nil) throws -> SoftwareSlots {
        try SoftwareSlots(
            stateDirectory: "\(scratch.root)/state", partitions: ["linux"], settings: settings, host: host,
            killPoint: killPoint)
    }

    /// Upgrades and lets the image pass its probation: started, attached, up for `probationMs`.
    func install(_ slots: SoftwareSlots, version: UInt64) throws {
        let image = try scratch.bundle(version: version)
        _ = try slots.upgrade(partition: "linux", bundle: image.path, expectedDigest: image.digest, version: version)
            .get()
        _ = slots.willStart(partition: "linux")
        slots.attached(partition: "linux")
        host.advance(milliseconds: settings.probationMs)
    }

    @Test func anUpgradeRunsFromTheNewSlotAndCommitsAfterProbation() throws {
        let slots = try engine()
        let image = try scratch.bundle(version: 2)
        let report = try slots.upgrade(partition: "linux", bundle: image.path, expectedDigest: image.digest, version: 2)
            .get()
        #expect(report.active == .a && report.probation)
        let launch = try #require(host.relaunches.last?.launch)
        #expect(launch.command == ["\(scratch.root)/state/software/linux/slot-a/bin/run"])
        #expect(FileManager.default.fileExists(atPath: launch.command[0]))
        #expect(host.topics() == ["software.probation"])
        #expect(slots.willStart(partition: "linux") == launch)
        slots.attached(partition: "linux")
        host.advance(milliseconds: settings.probationMs - 1)
        #expect(slots.state(of: "linux")?.probation == true)
        host.advance(milliseconds: 1)
        #expect(slots.state(of: "linux")?.probation == false)
        #expect(slots.state(of: "linux")?.highestVersion == 2)
        #expect(host.topics() == ["software.probation", "software.upgraded"])
    }

    @Test func anImageThatKeepsCrashingIsRolledBackWithTheReason() throws {
        let slots = try engine()
        try install(slots, version: 2)
        let v3 = try scratch.bundle(version: 3, body: "exit 3")
        _ = try slots.upgrade(partition: "linux", bundle: v3.path, expectedDigest: v3.digest, version: 3).get()
        var decisions: [FailureDecision] = []
        for _ in 0..<settings.maxStartAttempts {
            _ = slots.willStart(partition: "linux")
            decisions.append(slots.failed(partition: "linux", reason: "guest exited with status 3"))
        }
        let v2Launch = SlotLaunch(
            command: ["\(scratch.root)/state/software/linux/slot-a/bin/run"],
            workingDirectory: "\(scratch.root)/state/software/linux/slot-a")
        #expect(decisions.dropLast().allSatisfy { if case .retry = $0 { true } else { false } })
        #expect(decisions.last == .rolledBack(v2Launch))
        let state = try #require(slots.state(of: "linux"))
        #expect(state.active == .a && !state.probation && state.previous == .b)
        #expect(state.lastRollback?.contains("status 3") == true)
        let event = try #require(host.events.last)
        #expect(event.topic == "software.rolledBack")
        #expect(event.data["reason"]?.stringValue?.contains("attempt 3 of 3") == true)
        #expect(event.data["version"] == .int(2))
        // A probation timer armed before the failures does nothing afterwards.
        host.advance(milliseconds: settings.probationMs * 2)
        #expect(slots.state(of: "linux")?.highestVersion == 2)
    }

    @Test func anOlderVersionIsRefusedUnlessTheDowngradeIsAuthorised() throws {
        let slots = try engine()
        try install(slots, version: 5)
        let old = try scratch.bundle(version: 4)
        let before = slots.state(of: "linux")
        let refused = slots.upgrade(partition: "linux", bundle: old.path, expectedDigest: old.digest, version: 4)
        #expect(refusalCode(refused) == .versionRollback)
        #expect(slots.state(of: "linux") == before)
        let allowed = slots.upgrade(
            partition: "linux", bundle: old.path, expectedDigest: old.digest, version: 4, downgradeAuthorised: true)
        #expect(try allowed.get().version == 4)
    }

    @Test func aBundleThatDoesNotMatchTheCommandsDigestChangesNothing() throws {
        let slots = try engine()
        let image = try scratch.bundle(version: 2)
        let other = try scratch.bundle(version: 2, data: "other")
        #expect(
            refusalCode(slots.upgrade(partition: "linux", bundle: image.path, expectedDigest: other.digest, version: 2))
                == .digestMismatch)
        // The manifest matches the command, but a file was changed after the digest was taken.
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: "\(image.path)/data.txt"))
        #expect(
            refusalCode(slots.upgrade(partition: "linux", bundle: image.path, expectedDigest: image.digest, version: 2))
                == .digestMismatch)
        #expect(
            refusalCode(slots.upgrade(partition: "linux", bundle: other.path, expectedDigest: other.digest, version: 9))
                == .versionMismatch)
        // A manifest whose version (the rollback index) was raised but whose digest was kept: the digest
        // covers the manifest's header, so the image is no longer the one the command signed.
        let raised: JSON = ["name": "guest", "version": 7, "launch": ["bin/run"], "digest": .string(other.digest)]
        try Data(raised.serializedBytes()).write(to: URL(fileURLWithPath: "\(other.path)/manifest.json"))
        #expect(
            refusalCode(slots.upgrade(partition: "linux", bundle: other.path, expectedDigest: other.digest, version: 7))
                == .digestMismatch)
        #expect(slots.state(of: "linux") == SlotState())
        #expect(host.relaunches.isEmpty)
    }

    @Test func aSecondUpgradeDuringProbationIsBusy() throws {
        let slots = try engine()
        let image = try scratch.bundle(version: 2)
        _ = try slots.upgrade(partition: "linux", bundle: image.path, expectedDigest: image.digest, version: 2).get()
        #expect(
            refusalCode(slots.upgrade(partition: "linux", bundle: image.path, expectedDigest: image.digest, version: 2))
                == .busy)
        #expect(
            refusalCode(slots.upgrade(partition: "rtos", bundle: image.path, expectedDigest: image.digest, version: 2))
                == .notManaged)
    }

    @Test func markGoodEndsProbationAtOnce() throws {
        let slots = try engine()
        let image = try scratch.bundle(version: 2)
        _ = try slots.upgrade(partition: "linux", bundle: image.path, expectedDigest: image.digest, version: 2).get()
        _ = slots.willStart(partition: "linux")
        slots.attached(partition: "linux")
        slots.markGood(partition: "linux")
        #expect(slots.state(of: "linux")?.probation == false)
        #expect(host.events.last?.data["how"] == .string("marked good by the guest"))
        host.advance(milliseconds: settings.probationMs)
        #expect(host.topics().filter { $0 == "software.upgraded" }.count == 1)
    }

    @Test func aGuestThatPromisedToMarkGoodAndDidNotFailsItsProbation() throws {
        let slots = try engine()
        let image = try scratch.bundle(version: 2)
        _ = try slots.upgrade(partition: "linux", bundle: image.path, expectedDigest: image.digest, version: 2).get()
        _ = slots.willStart(partition: "linux")
        slots.attached(partition: "linux", marksGood: true)
        host.advance(milliseconds: settings.probationMs)
        #expect(slots.state(of: "linux")?.probation == true)
        #expect(host.failedProbations.map(\.reason) == ["did not mark itself good within 5000 ms"])
        #expect(!host.topics().contains("software.upgraded"))
    }

    @Test func aHalfWrittenSlotIsForgottenAfterARestart() throws {
        let slots = try engine()
        try install(slots, version: 2)
        // A hub killed while copying v3: the journal says slot b is being written, its content is partial.
        var state = try #require(slots.state(of: "linux"))
        state.writing = .b
        try Files.writeAtomically(
            "\(scratch.root)/state/software/linux/slots.json", journalBytes(state), permissions: 0o640)
        try FileTree.makeDirectories("\(scratch.root)/state/software/linux/slot-b/bin")
        let restarted = try engine()
        let recovered = try #require(restarted.state(of: "linux"))
        #expect(recovered.writing == nil && recovered.active == .a && recovered.images[.a]?.version == 2)
        #expect(restarted.launch(for: "linux")?.command.first?.hasSuffix("slot-a/bin/run") == true)
    }

    @Test func startAttemptsCountAcrossHubRestarts() throws {
        var slots = try engine()
        try install(slots, version: 2)
        let v3 = try scratch.bundle(version: 3, body: "exit 3")
        _ = try slots.upgrade(partition: "linux", bundle: v3.path, expectedDigest: v3.digest, version: 3).get()
        // Each start of v3 is followed by a hub kill before the guest fails: the attempts still add up.
        for _ in 0..<settings.maxStartAttempts {
            #expect(slots.willStart(partition: "linux")?.command.first?.hasSuffix("slot-b/bin/run") == true)
            slots = try engine()
        }
        #expect(slots.willStart(partition: "linux")?.command.first?.hasSuffix("slot-a/bin/run") == true)
        #expect(slots.state(of: "linux")?.lastRollback?.contains("3 start attempts") == true)
    }

    @Test func anActiveImageDamagedOnDiskFallsBackToThePreviousOne() throws {
        let slots = try engine()
        try install(slots, version: 2)
        try install(slots, version: 3)
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: "\(scratch.root)/state/software/linux/slot-b/data.txt"))
        let restarted = try engine()
        #expect(restarted.state(of: "linux")?.active == .a)
        #expect(restarted.state(of: "linux")?.lastRollback?.contains("does not match") == true)
    }

    @Test func rollbackBackupInstallAndRemove() throws {
        let slots = try engine()
        #expect(refusalCode(slots.backup(partition: "linux")) == .nothingToBackUp)
        #expect(refusalCode(slots.rollback(partition: "linux", reason: "asked")) == .noPrevious)
        try install(slots, version: 2)
        try install(slots, version: 3)
        _ = try slots.backup(partition: "linux").get()
        #expect(FileManager.default.fileExists(atPath: "\(scratch.root)/state/software/linux/backup/bin/run"))
        #expect(try slots.rollback(partition: "linux", reason: "asked").get().version == 2)
        #expect(host.relaunches.last?.launch?.command.first?.hasSuffix("slot-a/bin/run") == true)
        let extra = try scratch.bundle(name: "maps", version: 1)
        _ = try slots.install(partition: "linux", bundle: extra.path, expectedDigest: extra.digest).get()
        #expect(slots.optionalSoftware("linux") == ["maps"])
        _ = try slots.remove(partition: "linux", name: "maps").get()
        #expect(slots.optionalSoftware("linux").isEmpty)
        #expect(refusalCode(slots.remove(partition: "linux", name: "maps")) == .notInstalled)
        #expect(refusalCode(slots.remove(partition: "linux", name: "../slot-a")) == .notInstalled)
    }

    @Test func optionalSoftwareNamedDotOrDotDotOrHiddenIsRefusedAndRemovesNothing() throws {
        let slots = try engine()
        try install(slots, version: 2)
        let maps = try scratch.bundle(name: "maps", version: 1)
        _ = try slots.install(partition: "linux", bundle: maps.path, expectedDigest: maps.digest).get()
        let software = "\(scratch.root)/state/software/linux"
        for name in [".", "..", ".incoming-maps"] {
            let hostile = try scratch.bundle(name: name, version: 1)
            let result = slots.install(partition: "linux", bundle: hostile.path, expectedDigest: hostile.digest)
            guard case .failure(let refusal) = result else {
                Issue.record("optional software named \(name) installed")
                continue
            }
            #expect(refusal.code == .imageInvalid && refusal.image?.code == .manifestInvalid, "\(name): \(refusal)")
        }
        for name in [".", "..", ".incoming-maps", ".removing-maps"] {
            #expect(refusalCode(slots.remove(partition: "linux", name: name)) == .notInstalled, "\(name)")
        }
        #expect(slots.optionalSoftware("linux") == ["maps"])
        #expect(FileManager.default.fileExists(atPath: "\(software)/optional/maps/bin/run"))
        #expect(FileManager.default.fileExists(atPath: "\(software)/slot-a/bin/run"))
        #expect(FileManager.default.fileExists(atPath: "\(software)/slots.json"))
    }

    func refusalCode(_ result: Result<SlotReport, SlotRefusal>) -> SlotRefusal.Code? {
        if case .failure(let refusal) = result { return refusal.code }
        return nil
    }

    func journalBytes(_ state: SlotState) -> [UInt8] { state.journalJSON.serializedBytes() }
}
