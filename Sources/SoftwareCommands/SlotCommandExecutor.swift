import JSON
import Management
import ManagementWire
import SoftwareSlots

/// Carries out verified management commands on the software slots (`Protocols/management.md` §3 and
/// §"Images"). The verifier has checked signatures, freshness and grants; this reads the operation's signed
/// parameters, calls the engine, and turns each `SlotRefusal` into its management refusal code (§4), so the
/// audit log and the submitter see why. `provision`/`deprovision` are the provisioning executor's, which runs
/// first and passes every other operation here (`Hub+Devices.swift`).
package final class SlotCommandExecutor: ManagementOperationExecutor {
    private let slots: SoftwareSlots
    /// Where the operations' long file work runs (the hub: off its loop); nil: on the calling thread.
    private let runner: (any SlotWorkRunner)?
    /// Largest `version` a command may name: the manifest's own bound (§"Images", Manifest).
    static let maxVersion: UInt64 = (1 << 53) - 1

    package init(slots: SoftwareSlots, runner: (any SlotWorkRunner)? = nil) {
        self.slots = slots
        self.runner = runner
    }

    package func execute(_ verified: VerifiedCommand) -> Result<JSON, ManagementRefusal> {
        switch Self.request(verified) {
        case .failure(let refusal): return .failure(refusal)
        case .success(nil): return UnavailableOperationExecutor().execute(verified)
        case .success(let request?):
            return slots.perform(request, partition: verified.command.target).map(Self.reportJSON).mapError(
                Self.refusal)
        }
    }

    /// As `execute(_:)`, with the file work (an image read, digested and copied) on the runner: `completion` runs
    /// once it is done, on the engine's thread, after the switch.
    package func execute(
        _ verified: VerifiedCommand, completion: @escaping (Result<JSON, ManagementRefusal>) -> Void
    ) {
        guard let runner else { return completion(execute(verified)) }
        switch Self.request(verified) {
        case .failure(let refusal): completion(.failure(refusal))
        case .success(nil): completion(UnavailableOperationExecutor().execute(verified))
        case .success(let request?):
            slots.perform(request, partition: verified.command.target, runner: runner) { result in
                completion(result.map(Self.reportJSON).mapError(Self.refusal))
            }
        }
    }

    /// The slot operation a verified command asks for, from its signed parameters; nil for an operation the slots
    /// do not carry out.
    static func request(_ verified: VerifiedCommand) -> Result<SlotRequest?, ManagementRefusal> {
        let command = verified.command
        switch command.operation {
        case "upgrade":
            return upgradeArguments(command).map { bundle, digest, version in
                .upgrade(bundle: bundle, digest: digest, version: version, downgrade: verified.mayDowngrade)
            }
        case "rollback":
            if let refusal = onlyParameters([], command) ?? noSoftware(command) { return .failure(refusal) }
            return .success(.rollback(reason: "rollback by \(command.authority) (counter \(command.counter))"))
        case "backup":
            if let refusal = onlyParameters([], command) ?? noSoftware(command) { return .failure(refusal) }
            return .success(.backup)
        case "install":
            return installArguments(command).map { bundle, digest in .install(bundle: bundle, digest: digest) }
        case "remove":
            if let refusal = onlyParameters(["name"], command) ?? noSoftware(command) { return .failure(refusal) }
            guard let name = command.parameter("name") else {
                return .failure(ManagementRefusal("bad_parameters", "remove needs the parameter name"))
            }
            // The name becomes a path component under optional/: only a software name can be one.
            guard ImageManifest.isName(name) else {
                return .failure(
                    ManagementRefusal(
                        "bad_parameters", "name must be 1 to 64 of A-Z a-z 0-9 . _ -, not starting with ."))
            }
            return .success(.remove(name: name))
        default:
            return .success(nil)
        }
    }

    /// `upgrade`'s `bundle` (a path on the hub), its digest (the envelope's `softwareSHA256`) and the optional
    /// `version` (decimal, at most 2^53 − 1, as the manifest's).
    static func upgradeArguments(_ command: ManagementCommand) -> Result<
        (bundle: String, digest: String, version: UInt64?), ManagementRefusal
    > {
        if let refusal = onlyParameters(["bundle", "version"], command) { return .failure(refusal) }
        let bundleAndDigest: (String, String)
        switch installArguments(command) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let pair): bundleAndDigest = pair
        }
        var version: UInt64? = nil
        if let text = command.parameter("version") {
            // At most 16 digits: 2^53 − 1 has 16.
            guard let value = DecimalParameter.value(text, maxDigits: 16), value <= maxVersion else {
                return .failure(ManagementRefusal("bad_parameters", "version must be decimal 0...2^53-1"))
            }
            version = value
        }
        return .success((bundleAndDigest.0, bundleAndDigest.1, version))
    }

    /// `bundle` and the software digest the command signs, as the engine's 64 lowercase hex digits.
    static func installArguments(_ command: ManagementCommand) -> Result<(String, String), ManagementRefusal> {
        if command.operation == "install", let refusal = onlyParameters(["bundle"], command) {
            return .failure(refusal)
        }
        guard let bundle = command.parameter("bundle"), !bundle.isEmpty else {
            return .failure(ManagementRefusal("bad_parameters", "\(command.operation) needs the parameter bundle"))
        }
        guard let digest = command.softwareSHA256, digest.count == 32 else {
            return .failure(
                ManagementRefusal("bad_parameters", "\(command.operation) needs the image's SHA-256 (32 bytes)"))
        }
        return .success((bundle, hex(digest)))
    }

    /// Refuses a software SHA-256 on an operation that carries no software (`bad_parameters`): only `upgrade`
    /// and `install` sign one (§3), and a signed field is never silently ignored.
    static func noSoftware(_ command: ManagementCommand) -> ManagementRefusal? {
        guard command.softwareSHA256 != nil else { return nil }
        return ManagementRefusal("bad_parameters", "\(command.operation) carries no software SHA-256")
    }

    /// Refuses parameters the operation does not take (`bad_parameters`), nil when all are known.
    static func onlyParameters(_ allowed: Set<String>, _ command: ManagementCommand) -> ManagementRefusal? {
        guard let extra = command.parameters.first(where: { !allowed.contains($0.key) }) else { return nil }
        return ManagementRefusal("bad_parameters", "\(command.operation) does not take the parameter \(extra.key)")
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The accepted answer: the engine's report of the partition's slots after the operation.
    static func reportJSON(_ report: SlotReport) -> JSON {
        [
            "partition": .string(report.partition), "active": .string(report.active.rawValue),
            "version": report.version.map { .uint($0) } ?? .null, "probation": .bool(report.probation),
        ]
    }

    /// The management refusal code of each engine refusal (`Protocols/management.md` §4).
    static func refusal(_ slot: SlotRefusal) -> ManagementRefusal {
        ManagementRefusal(code(slot.code), slot.detail)
    }

    /// The §4 code of one engine refusal code.
    package static func code(_ code: SlotRefusal.Code) -> String {
        switch code {
        case .notManaged: "not_managed"
        case .busy: "busy"
        case .versionRollback: "rollback_refused"
        case .versionMismatch: "version_mismatch"
        case .digestMismatch: "digest_mismatch"
        case .imageInvalid: "image_invalid"
        case .noPrevious: "no_previous"
        case .nothingToBackUp: "nothing_to_back_up"
        case .notInstalled: "not_installed"
        case .storageFailed: "storage_failed"
        case .inProgress: "in_progress"
        case .interrupted: "interrupted"
        }
    }
}
