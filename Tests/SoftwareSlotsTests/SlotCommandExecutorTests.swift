import Foundation
import JSON
import Management
import ManagementWire
import SoftwareCommands
import SoftwareSlots
import Testing
import VectorSupport

/// The glue between verified management commands and the slot engine (`Protocols/management.md` §3, §4):
/// signed parameters to engine calls, engine refusals to management codes, the engine's report as the answer.
@Suite struct SlotCommandExecutorTests {
    let scratch = Scratch()
    let host = FakeSlotHost()
    let settings = SlotSettings(probationMs: 5000, maxStartAttempts: 3)

    func executor() throws -> (SoftwareSlots, SlotCommandExecutor) {
        let slots = try SoftwareSlots(
            stateDirectory: "\(scratch.root)/state", partitions: ["linux"], settings: settings, host: host)
        return (slots, SlotCommandExecutor(slots: slots))
    }

    func command(
        _ operation: String, target: String = "linux", digest: String? = nil, _ parameters: [String: String] = [:],
        mayDowngrade: Bool = false
    ) -> VerifiedCommand {
        VerifiedCommand(
            command: ManagementCommand(
                operation: operation, target: target, authority: "vendor", counter: 7, expiresAtMs: 1,
                softwareSHA256: digest.flatMap { HexText.decode($0) },
                parameters: parameters.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map {
                    (key: $0.key, value: $0.value)
                }), mayDowngrade: mayDowngrade, source: "control")
    }

    func upgrade(_ image: (path: String, digest: String), version: UInt64, mayDowngrade: Bool = false)
        -> VerifiedCommand
    {
        command(
            "upgrade", digest: image.digest, ["bundle": image.path, "version": String(version)],
            mayDowngrade: mayDowngrade)
    }

    func code(_ result: Result<JSON, ManagementRefusal>) -> String? {
        if case .failure(let refusal) = result { return refusal.code }
        return nil
    }

    /// Lets the image on probation pass it: started, attached, up for `probationMs`.
    func pass(_ slots: SoftwareSlots) {
        _ = slots.willStart(partition: "linux")
        slots.attached(partition: "linux")
        host.advance(milliseconds: settings.probationMs)
    }

    @Test func anAcceptedUpgradeAnswersWithTheEnginesReport() throws {
        let (slots, executor) = try executor()
        let image = try scratch.bundle(version: 2)
        let answer = try executor.execute(upgrade(image, version: 2)).get()
        #expect(answer["active"]?.stringValue == "a")
        #expect(answer["version"]?.uint64Value == 2)
        #expect(answer["probation"]?.boolValue == true)
        #expect(answer["partition"]?.stringValue == "linux")
        #expect(slots.state(of: "linux")?.active == .a)
        #expect(host.relaunches.count == 1)
    }

    @Test func eachEngineRefusalHasItsOwnManagementCode() throws {
        let (slots, executor) = try executor()
        let v2 = try scratch.bundle(version: 2)
        let other = try scratch.bundle(version: 2, data: "other")
        #expect(code(executor.execute(upgrade(v2, version: 2).retargeted("modem"))) == "not_managed")
        #expect(code(executor.execute(command("rollback"))) == "no_previous")
        #expect(code(executor.execute(command("backup"))) == "nothing_to_back_up")
        #expect(code(executor.execute(command("remove", ["name": "maps"]))) == "not_installed")
        let mismatched = command("upgrade", digest: other.digest, ["bundle": v2.path, "version": "2"])
        #expect(code(executor.execute(mismatched)) == "digest_mismatch")
        #expect(code(executor.execute(upgrade(v2, version: 3))) == "version_mismatch")
        let empty = "\(scratch.root)/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(code(executor.execute(upgrade((empty, v2.digest), version: 2))) == "image_invalid")
        #expect(slots.state(of: "linux")?.active == .configured)
        _ = try executor.execute(upgrade(v2, version: 2)).get()
        #expect(code(executor.execute(upgrade(other, version: 2))) == "busy")
        pass(slots)
        let v3 = try scratch.bundle(version: 3)
        _ = try executor.execute(upgrade(v3, version: 3)).get()
        pass(slots)
        let v1 = try scratch.bundle(version: 1)
        #expect(code(executor.execute(upgrade(v1, version: 1))) == "rollback_refused")
        #expect(slots.state(of: "linux")?.images[.b]?.version == 3)
        let downgraded = try executor.execute(upgrade(v1, version: 1, mayDowngrade: true)).get()
        #expect(downgraded["version"]?.uint64Value == 1)
    }

    @Test func everyEngineCodeMapsToADistinctDocumentedCode() throws {
        let engineCodes: [SlotRefusal.Code] = [
            .notManaged, .busy, .versionRollback, .versionMismatch, .digestMismatch, .imageInvalid, .noPrevious,
            .nothingToBackUp, .notInstalled, .storageFailed,
        ]
        let codes = engineCodes.map(SlotCommandExecutor.code)
        #expect(Set(codes).count == engineCodes.count)
        let spec = try #require(RepositoryFiles.read("Protocols/management.md"))
        for code in codes { #expect(spec.contains("| `\(code)` |"), "management.md §4 documents \(code)") }
    }

    @Test func malformedParametersAreRefusedBeforeTheEngineRuns() throws {
        let (slots, executor) = try executor()
        let v2 = try scratch.bundle(version: 2)
        let refusedCommands = [
            command("upgrade", digest: v2.digest, ["version": "2"]),
            command("upgrade", ["bundle": v2.path, "version": "2"]),
            command("upgrade", digest: v2.digest, ["bundle": v2.path, "version": "2x"]),
            command("upgrade", digest: v2.digest, ["bundle": v2.path, "version": "9007199254740992"]),
            command("upgrade", digest: v2.digest, ["bundle": v2.path, "version": "99999999999999999999999"]),
            command("upgrade", digest: v2.digest, ["bundle": v2.path, "version": ""]),
            command("upgrade", digest: v2.digest, ["bundle": v2.path, "launch": "/bin/sh"]),
            command("rollback", ["to": "a"]),
            command("install", digest: v2.digest, [:]),
            command("remove"),
            command("remove", ["name": "."]),
            command("remove", ["name": ".."]),
            command("remove", ["name": "../slot-a"]),
            // Only upgrade and install carry a software SHA-256; elsewhere it is refused, not ignored.
            command("rollback", digest: v2.digest),
            command("backup", digest: v2.digest),
            command("remove", digest: v2.digest, ["name": "maps"]),
        ]
        for refused in refusedCommands { #expect(code(executor.execute(refused)) == "bad_parameters") }
        #expect(slots.state(of: "linux")?.active == .configured)
        #expect(host.relaunches.isEmpty)
        #expect(code(executor.execute(command("provision"))) == "operation_unavailable")
    }
}

extension VerifiedCommand {
    fileprivate func retargeted(_ target: String) -> VerifiedCommand {
        var command = self.command
        command.target = target
        return VerifiedCommand(command: command, mayDowngrade: mayDowngrade, source: source)
    }
}
