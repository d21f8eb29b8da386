import DeviceKit
import EventLoop
import HubSystem
import JSON
import Management
import ManagementWire
import PlatformConfig

/// The management plane's glue (`Protocols/management.md`): verifies submitted commands, keeps the trusted
/// state and the audit log in `hub.stateDirectory`, hands verified commands to the executor, and serves the
/// `mgmt.*` methods. Commands from the control API and from the `mgmt` partition's relay both arrive at
/// `submit`, so both pass exactly the same checks.
package final class ManagementDevice: HubDevice {
    package let familyName = "management"
    /// Carries out verified partition operations; the software-slot engine replaces the default, which refuses
    /// them with `operation_unavailable`.
    package var executor: any ManagementOperationExecutor = UnavailableOperationExecutor()
    private(set) var verifier: ManagementVerifier
    private(set) var audit: ManagementAuditLog
    let store: ManagementStore?
    let counters = ManagementCounters()
    weak var host: (any DeviceHost)?
    /// Refusals audited in memory and not yet written (`saveAuditSoon`).
    var auditUnsaved = false
    var auditFlush: Timer?
    /// When the audit log was last written (monotonic nanoseconds), for `auditRefusalWriteIntervalMs`.
    var lastAuditWriteNs: UInt64 = 0
    var stopped = false
    /// Set by `verifyAndRun` when the submission being handled spent its counter (`record(durable:)`).
    private var spentCounter = false
    private(set) var waits: DeferredWaits<ManagementWait>?
    let config: ManagementConfig

    /// Loads the trusted state and the audit log; a state file that exists but cannot be read stops the hub
    /// (`Protocols/management.md` §5: forgetting counters would re-open replays).
    package init(configuration: PlatformConfiguration) throws(HubStartError) {
        config = configuration.management
        store = configuration.hub.stateDirectory.map { ManagementStore(directory: $0 + "/management") }
        var trust: ManagementTrust? = nil
        var log = ManagementAuditLog(capacity: configuration.management.auditMaxEntries)
        if let store {
            do throws(ManagementStoreError) {
                try store.prepare()
                trust = try store.loadTrust()
                if let loaded = try store.loadAudit(capacity: configuration.management.auditMaxEntries) { log = loaded }
            } catch {
                throw .device("hub.stateDirectory: management state in \(store.directory): \(error.description)")
            }
        }
        verifier = ManagementVerifier(config: configuration.management, persisted: trust)
        audit = log
    }

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        waits = host.makeWaits()
        host.register(methods)
    }

    package func stop() {
        waits?.finishAll(.error(.unavailable("the hub is shutting down")))
        waits?.close()
        stopped = true
        if auditUnsaved { saveAudit() }
        auditFlush?.close()
        auditFlush = nil
    }

    package var limitsJSON: JSON {
        [
            "auditMaxEntries": .int(Int64(config.auditMaxEntries)),
            "maxEnvelopeBytes": .int(Int64(ManagementCodec.maxEnvelopeBytes)),
            "relayMaxWaitingEnvelopes": .int(Int64(Self.relayMaxWaitingEnvelopes)),
            "auditRefusalWriteIntervalMs": .int(Int64(Self.auditRefusalWriteIntervalMs)),
            "maxCommandLifetimeMs": .int(Int64(config.maxCommandLifetimeMs)),
            "provisioningBudgets": .array(config.authorities.compactMap(Self.budgetJSON)),
        ]
    }

    /// An authority's provisioning budget as `hub.limits` shows it (`Protocols/management.md` §9).
    static func budgetJSON(_ authority: ManagementAuthorityConfig) -> JSON? {
        guard let budget = authority.budget else { return nil }
        return [
            "authority": .string(authority.name), "namePrefix": .string(budget.namePrefix),
            "maxPartitions": .int(Int64(budget.maxPartitions)), "maxMemoryBytes": .uint(budget.maxMemoryBytes),
            "classes": .array(budget.classes.map { .string($0.rawValue) }),
            "minPriority": .int(Int64(budget.minPriority)), "maxPriority": .int(Int64(budget.maxPriority)),
            "devices": .array(budget.devices.map { .string($0) }), "peers": .array(budget.peers.map { .string($0) }),
        ]
    }

    /// Verifies and runs one envelope from `source` (`control` or `guest:PARTITION`), audits it and publishes
    /// `mgmt.accepted` or `mgmt.refused`. The answer is the operation's result or the refusal.
    package func submit(_ bytes: ArraySlice<UInt8>, source: String) -> Result<JSON, ManagementRefusal> {
        let nowMs = (host?.wallClockNanos ?? 0) / 1_000_000
        let envelope: ManagementEnvelope
        do {
            envelope = try ManagementCodec.decodeEnvelope(bytes)
        } catch {
            let refusal = ManagementRefusal("bad_envelope", "\(error.kind): \(error.detail)")
            record(nil, source: source, nowMs: nowMs, result: .failure(refusal))
            return .failure(refusal)
        }
        spentCounter = false
        let result = verifyAndRun(envelope, source: source, nowMs: nowMs)
        record(envelope.body, source: source, nowMs: nowMs, result: result, durable: spentCounter)
        return result
    }

    /// Audits and answers a submission refused before its bytes could be read (too long to decode).
    func refuseUnread(_ refusal: ManagementRefusal, source: String) -> ManagementRefusal {
        record(nil, source: source, nowMs: (host?.wallClockNanos ?? 0) / 1_000_000, result: .failure(refusal))
        return refusal
    }

    private func verifyAndRun(_ envelope: ManagementEnvelope, source: String, nowMs: UInt64) -> Result<
        JSON, ManagementRefusal
    > {
        let verified: VerifiedCommand
        switch verifier.verify(envelope, nowMs: nowMs, source: source) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let command): verified = command
        }
        var rotation: (keys: [String], threshold: Int)? = nil
        if verified.command.operation == "rotateKeys" {
            switch ManagementVerifier.rotation(of: verified.command) {
            case .failure(let refusal): return .failure(refusal)
            case .success(let keys): rotation = keys
            }
        }
        var next = verifier
        next.accept(verified, rotation: rotation)
        if let store {
            do throws(ManagementStoreError) {
                try store.saveTrust(next.trust)
            } catch {
                return .failure(ManagementRefusal("state_unwritable", error.description))
            }
        }
        verifier = next
        spentCounter = true
        if let rotation {
            return .success(["keys": .int(Int64(rotation.keys.count)), "threshold": .int(Int64(rotation.threshold))])
        }
        return executor.execute(verified)
    }

    /// `durable`: the submission changed the trusted state (its counter is spent), so its entry is written before
    /// the answer whatever the result, and the audit log explains every counter the trust file holds.
    private func record(
        _ command: ManagementCommand?, source: String, nowMs: UInt64, result: Result<JSON, ManagementRefusal>,
        durable: Bool = false
    ) {
        let code: String
        let detail: String
        switch result {
        case .success: (code, detail) = ("accepted", "")
        case .failure(let refusal): (code, detail) = (refusal.code, refusal.detail)
        }
        counters.count(code)
        audit.append(
            AuditEntry(
                timeMs: nowMs, source: source, authority: command?.authority ?? "",
                operation: command?.operation ?? "", target: command?.target ?? "", counter: command?.counter ?? 0,
                result: code, detail: detail))
        // A verified command's entry (accepted, or refused after its counter was spent) is on disk before its
        // answer; refusals before that, which anyone who may submit can cause at will, are written once at the
        // end of the pass however many there were (§5).
        if durable || code == "accepted" { saveAudit() } else { saveAuditSoon() }
        guard let entry = audit.entries.last else { return }
        host?.publish(code == "accepted" ? "mgmt.accepted" : "mgmt.refused", data: entry.json)
        resolveWaits(entry)
    }

    /// Audits what the hub did on its own after an accepted command, with source `hub` (an automatic
    /// rollback, `Protocols/management.md` §4), so the audit log says why the software changed again.
    package func recordOutcome(operation: String, target: String, result: String, detail: String) {
        audit.append(
            AuditEntry(
                timeMs: (host?.wallClockNanos ?? 0) / 1_000_000, source: "hub", authority: "", operation: operation,
                target: target, counter: 0, result: result, detail: detail))
        saveAudit()
        if let entry = audit.entries.last { resolveWaits(entry) }
    }

    /// Writes the audit log with whatever else is refused meanwhile, at most once per
    /// `auditRefusalWriteIntervalMs` (at once without a loop). The file is rewritten whole, so its cost grows with
    /// `auditMaxEntries`: refusals, which anyone who may submit can cause at will, must not set how often.
    private func saveAuditSoon() {
        guard store != nil else { return }
        // After stop (or while the hub shuts down) there is no later moment to wait for.
        guard !stopped, host?.isShuttingDown != true else { return saveAudit() }
        auditUnsaved = true
        if auditFlush == nil, let loop = host?.loop { auditFlush = try? Timer(loop: loop) }
        guard let auditFlush else { return saveAudit() }
        guard !auditFlush.isActive else { return }
        let interval = UInt64(Self.auditRefusalWriteIntervalMs) * 1_000_000
        let since = MonotonicClock.nanoseconds() &- lastAuditWriteNs
        let delayMs = lastAuditWriteNs == 0 || since >= interval ? 0 : (interval - since) / 1_000_000 + 1
        auditFlush.start(afterMilliseconds: delayMs) { [weak self] in
            guard let self, self.auditUnsaved else { return }
            self.saveAudit()
        }
    }

    /// The least time between two writes of the audit log for refusals (`Protocols/management.md` §5).
    static let auditRefusalWriteIntervalMs = 1000

    /// Writes the audit log now, with any refusals still waiting for the end of the pass.
    func saveAudit() {
        auditUnsaved = false
        lastAuditWriteNs = MonotonicClock.nanoseconds()
        guard let store else { return }
        do throws(ManagementStoreError) {
            try store.saveAudit(audit)
            counters.auditWrites += 1
        } catch {
            counters.auditWriteFailures += 1
            host?.logger.error("management audit log not written: \(error.description)")
        }
    }
}

/// The files of `Protocols/management.md` §5 under `hub.stateDirectory`/`management`, each replaced atomically.
struct ManagementStore {
    let directory: String
    /// A state file larger than this is not ours (the audit log at its largest is far smaller).
    static let maxFileBytes = 64 << 20

    var trustPath: String { directory + "/trust.json" }
    var auditPath: String { directory + "/audit.json" }

    func prepare() throws(ManagementStoreError) {
        do { try FileTree.makeDirectories(directory, permissions: 0o700) } catch {
            throw ManagementStoreError(error.description)
        }
    }

    func loadTrust() throws(ManagementStoreError) -> ManagementTrust? {
        guard let json = try read(trustPath) else { return nil }
        guard let trust = ManagementTrust(json: json) else {
            throw ManagementStoreError("\(trustPath) is not a trust state")
        }
        return trust
    }

    func loadAudit(capacity: Int) throws(ManagementStoreError) -> ManagementAuditLog? {
        guard let json = try read(auditPath) else { return nil }
        guard let log = ManagementAuditLog(json: json, capacity: capacity) else {
            throw ManagementStoreError("\(auditPath) is not an audit log")
        }
        return log
    }

    func saveTrust(_ trust: ManagementTrust) throws(ManagementStoreError) {
        try write(trustPath, trust.json)
    }

    func saveAudit(_ log: ManagementAuditLog) throws(ManagementStoreError) {
        try write(auditPath, log.json)
    }

    private func read(_ path: String) throws(ManagementStoreError) -> JSON? {
        let bytes: [UInt8]?
        do { bytes = try Files.readWhole(path, limit: Self.maxFileBytes) } catch {
            throw ManagementStoreError(error.description)
        }
        guard let bytes else { return nil }
        do { return try JSON.parse(bytes) } catch { throw ManagementStoreError("\(path): \(error)") }
    }

    private func write(_ path: String, _ json: JSON) throws(ManagementStoreError) {
        do { try Files.writeAtomically(path, json.serializedBytes()) } catch {
            throw ManagementStoreError(error.description)
        }
    }
}

package struct ManagementStoreError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}

/// The provisioned partitions' file, `hub.stateDirectory`/`provisioning/partitions.json` (`Protocols/management.md`
/// §9): mode 0600 in a 0700 directory (it holds the secrets), replaced atomically like the trusted state.
package struct ProvisioningStore: Sendable {
    package let directory: String
    /// A state file larger than this is not ours (64 partitions per budget, a few hundred bytes each).
    static let maxFileBytes = 4 << 20

    package init(stateDirectory: String) { directory = stateDirectory + "/provisioning" }

    package var path: String { directory + "/partitions.json" }

    /// The records on disk (none when there is no file). A file that exists but cannot be read is an error: the
    /// hub does not start rather than issue a name and its budget share twice.
    package func load() throws(ManagementStoreError) -> [ProvisionedPartition] {
        let bytes: [UInt8]?
        do { bytes = try Files.readWhole(path, limit: Self.maxFileBytes) } catch {
            throw ManagementStoreError("provisioned partitions: \(error.description)")
        }
        guard let bytes else { return [] }
        guard let json = try? JSON.parse(bytes), let records = Provisioning.records(from: json) else {
            throw ManagementStoreError("\(path) is not a list of provisioned partitions")
        }
        return records
    }

    /// Replaces the file with `records`; `storage_failed` when it could not (nothing changed on disk then).
    package func save(_ records: [ProvisionedPartition]) -> ManagementRefusal? {
        do {
            try FileTree.makeDirectories(directory, permissions: 0o700)
            try Files.writeAtomically(path, Provisioning.json(records).serializedBytes(), permissions: 0o600)
        } catch {
            return ManagementRefusal("storage_failed", error.description)
        }
        return nil
    }
}
