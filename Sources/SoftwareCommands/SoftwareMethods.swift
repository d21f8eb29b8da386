import ControlWire
import DeviceKit
import JSON
import PlatformConfig
import SoftwareSlots

/// The software slots' control methods (`Protocols/control.md`, software) and their `hub.limits` entry. The hub
/// registers them; they reach nothing but the slots they are given.
package enum SoftwareMethods {
    /// `software.status`: the slots of every managed partition, or `enabled: false` without a state directory.
    package static func status(_ slots: SoftwareSlots?) -> ControlMethod {
        ControlMethod("software.status", summary: "Software slots, versions, probation and rollbacks") {
            call throws(ControlError) in
            _ = try ControlParams(call.params, allowed: [])
            guard let slots else { return .result(["enabled": false, "partitions": [:]]) }
            var status = slots.statusJSON
            if case .object(var members) = status {
                members["enabled"] = true
                status = .object(members)
            }
            return .result(status)
        }
    }

    /// `software.test.apply`: tests only (the hub registers it only with its test hooks on), a software
    /// operation without a signed command; its file work on `runner`, answered when it is done.
    package static func testApply(_ slots: SoftwareSlots, runner: any SlotWorkRunner) -> ControlMethod {
        ControlMethod("software.test.apply", summary: "Tests only: a software operation without a signed command") {
            call throws(ControlError) in
            try applyForTest(call, slots, runner)
        }
    }

    static func applyForTest(_ call: ControlCall, _ slots: SoftwareSlots, _ runner: any SlotWorkRunner)
        throws(ControlError) -> ControlReply
    {
        let params = try ControlParams(
            call.params, allowed: ["operation", "partition", "bundle", "digest", "version", "downgrade", "name"])
        let partition = try params.requireString("partition")
        let request: SlotRequest
        switch try params.requireString("operation") {
        case "upgrade":
            request = .upgrade(
                bundle: try params.requireString("bundle"), digest: try params.requireString("digest"),
                version: try params.optionalUInt64("version"), downgrade: try params.optionalBool("downgrade") ?? false)
        case "rollback": request = .rollback(reason: "software.test.apply rollback")
        case "backup": request = .backup
        case "install":
            request = .install(bundle: try params.requireString("bundle"), digest: try params.requireString("digest"))
        case "remove": request = .remove(name: try params.requireString("name"))
        default:
            throw .invalidParams(param: "operation", expected: "upgrade, rollback, backup, install or remove")
        }
        var answerNow: ControlReply?
        var returned = false
        slots.perform(request, partition: partition, runner: runner) { result in
            let reply: ControlReply
            switch result {
            case .success(let report): reply = .result(SlotCommandExecutor.reportJSON(report))
            case .failure(let refusal):
                reply = .error(.conflict(refusal.description, reason: "software_\(refusal.code.rawValue)"))
            }
            if returned { call.reply(reply) } else { answerNow = reply }
        }
        returned = true
        return answerNow ?? .deferred
    }

    /// `hub.limits` `software`: the bounds of `hub.software` with their ranges.
    package static func limitsJSON(_ software: SoftwareSettings) -> JSON {
        func entry(_ value: Int, _ range: ClosedRange<Int>) -> JSON {
            ["value": .int(Int64(value)), "min": .int(Int64(range.lowerBound)), "max": .int(Int64(range.upperBound))]
        }
        return [
            "probationMs": entry(software.probationMs, SoftwareSettings.probationRange),
            "maxStartAttempts": entry(software.maxStartAttempts, SoftwareSettings.startAttemptsRange),
            "maxManifestBytes": entry(software.maxManifestBytes, SoftwareSettings.manifestBytesRange),
            "maxImageBytes": entry(software.maxImageBytes, SoftwareSettings.imageBytesRange),
            "maxImageFiles": entry(software.maxImageFiles, SoftwareSettings.imageFilesRange),
        ]
    }
}
