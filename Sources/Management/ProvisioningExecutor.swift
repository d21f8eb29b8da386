import JSON
import ManagementWire
import PlatformConfig

/// What the provisioning executor needs from the hub: the model and the configuration to add a partition to
/// or remove it from, events, the clock, randomness and the state file. `HubServer` implements it
/// (`Hub+Provisioning.swift`); tests use a fake.
package protocol ProvisioningHost: AnyObject {
    /// The live configuration (configured plus provisioned partitions) and its authorities' budgets.
    var configuration: PlatformConfiguration { get }
    /// Adds the partition to the model and the configuration; a refusal leaves both as they were.
    func addProvisionedPartition(_ config: PartitionConfig) -> ManagementRefusal?
    /// Detaches and removes the partition (model, configuration, devices); answers `{detached, linksRemoved}`.
    func removeProvisionedPartition(_ name: String) -> JSON
    func publishProvisioning(_ kind: String, partition: String, data: JSON)
    var provisioningNowMs: UInt64 { get }
    /// `count` bytes from the system's CSPRNG.
    func secretBytes(_ count: Int) -> [UInt8]
    /// Replaces the state file with `records`; a refusal (`storage_failed`) when it could not.
    func saveProvisioned(_ records: [ProvisionedPartition]) -> ManagementRefusal?
}

/// Carries out `provision` and `deprovision` (`Protocols/management.md` §9) and hands every other verified
/// command to the executor it wraps (the software slots'). The budget check and the policy are
/// `Provisioning.plan`'s; the secret is 32 bytes from the host's CSPRNG, answered once and kept only in the
/// hub's state file.
package final class ProvisioningExecutor: ManagementOperationExecutor {
    /// Unowned, not weak: the hub owns this executor and outlives it, and a weak reference would give the hub a side
    /// table (`Sources/ARCHITECTURE.md`, "A handle's lifetime").
    package unowned var host: (any ProvisioningHost)?
    package var next: any ManagementOperationExecutor = UnavailableOperationExecutor()
    package private(set) var records: [ProvisionedPartition]
    /// Records on disk whose name the configuration now gives a configured partition: kept on disk, not loaded
    /// (the configuration wins, `Protocols/management.md` §9).
    package private(set) var shadowed: [String]
    package private(set) var counters: [String: UInt64] = ["provisioned": 0, "deprovisioned": 0, "refused": 0]
    package static let secretBytes = 32

    /// Starts from the records read at start; those a configured partition now shadows are set aside.
    package init(records: [ProvisionedPartition], configuration: PlatformConfiguration) {
        let configured = Set(configuration.partitions.map(\.name))
        self.records = records.filter { !configured.contains($0.config.name) }
        shadowed = records.filter { configured.contains($0.config.name) }.map(\.config.name)
    }

    /// `configuration` with the provisioned partitions added after the configured ones.
    package func merged(into configuration: PlatformConfiguration) -> PlatformConfiguration {
        var merged = configuration
        merged.partitions += records.map(\.config)
        return merged
    }

    package func record(named name: String) -> ProvisionedPartition? { records.first { $0.config.name == name } }

    package func execute(_ verified: VerifiedCommand) -> Result<JSON, ManagementRefusal> {
        let result: Result<JSON, ManagementRefusal>
        switch verified.command.operation {
        case "provision": result = provision(verified.command)
        case "deprovision": result = deprovision(verified.command)
        default: return next.execute(verified)
        }
        if case .failure = result { counters["refused", default: 0] += 1 }
        return result
    }

    package func execute(
        _ verified: VerifiedCommand, completion: @escaping (Result<JSON, ManagementRefusal>) -> Void
    ) {
        switch verified.command.operation {
        case "provision", "deprovision": completion(execute(verified))
        default: next.execute(verified, completion: completion)
        }
    }

    private func provision(_ command: ManagementCommand) -> Result<JSON, ManagementRefusal> {
        guard let host else { return .failure(ManagementRefusal("operation_unavailable", "the hub is stopping")) }
        let budget = host.configuration.management.authorities.first { $0.name == command.authority }?.budget
        let secret = HexKey.text(host.secretBytes(Self.secretBytes))
        let existing = Set(host.configuration.partitions.map(\.name))
        let config: PartitionConfig
        switch Provisioning.plan(command, budget: budget, existing: existing, provisioned: records, secret: secret) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let planned): config = planned
        }
        let record = ProvisionedPartition(
            config: config, authority: command.authority, counter: command.counter, createdAtMs: host.provisioningNowMs)
        // On disk first: a partition the hub answered for must come back after a crash.
        if let refusal = host.saveProvisioned(records + [record]) { return .failure(refusal) }
        if let refusal = host.addProvisionedPartition(config) {
            _ = host.saveProvisioned(records)
            return .failure(refusal)
        }
        records.append(record)
        counters["provisioned", default: 0] += 1
        host.publishProvisioning("partition.provisioned", partition: config.name, data: .object(Self.describe(record)))
        var answer = Self.describe(record)
        answer["secret"] = .string(secret)
        return .success(.object(answer))
    }

    private func deprovision(_ command: ManagementCommand) -> Result<JSON, ManagementRefusal> {
        guard let host else { return .failure(ManagementRefusal("operation_unavailable", "the hub is stopping")) }
        let index: Int
        switch Provisioning.checkDeprovision(command, provisioned: records) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let found): index = found
        }
        var remaining = records
        let record = remaining.remove(at: index)
        // Forgotten on disk first: a partition the model dropped must not come back at the next start.
        if let refusal = host.saveProvisioned(remaining) { return .failure(refusal) }
        records = remaining
        var answer = host.removeProvisionedPartition(record.config.name).objectValue ?? JSONObject()
        answer["partition"] = .string(record.config.name)
        answer["authority"] = .string(record.authority)
        counters["deprovisioned", default: 0] += 1
        host.publishProvisioning("partition.deprovisioned", partition: record.config.name, data: .object(answer))
        return .success(.object(answer))
    }

    /// A provisioned partition as the answer, the events and `provisioning.status` show it (never its secret).
    package static func describe(_ record: ProvisionedPartition) -> JSONObject {
        let config = record.config
        var object = JSONObject()
        object["partition"] = .string(config.name)
        object["authority"] = .string(record.authority)
        object["counter"] = .string(String(record.counter))
        object["createdAtMs"] = .uint(record.createdAtMs)
        object["class"] = .string(config.schedulingClass.rawValue)
        object["priority"] = .int(Int64(config.priority))
        object["memoryBytes"] = .uint(config.memoryBytes)
        object["mayInterrupt"] = .array(config.mayInterrupt.map { .string($0) })
        object["mayMessage"] = .array(config.mayMessage.map { .string($0) })
        object["mayOpenLinks"] = .bool(config.mayOpenLinks)
        object["devices"] = .array(config.devices.map { .string($0.device) })
        return object
    }

    /// `partition.get`/`partition.list` `origin`: `configuration`, or who provisioned it.
    package func origin(of name: String) -> JSON {
        guard let record = record(named: name) else { return "configuration" }
        return ["provisionedBy": .string(record.authority), "counter": .string(String(record.counter))]
    }

    /// `provisioning.status`: each budget and its use, the provisioned partitions, the counters.
    package var statusJSON: JSON {
        let authorities = host?.configuration.management.authorities ?? []
        let budgets: [JSON] = authorities.compactMap { authority in
            guard let budget = authority.budget else { return nil }
            let mine = records.filter { $0.authority == authority.name }
            let memory = mine.reduce(UInt64(0)) { $0 &+ $1.config.memoryBytes }
            return [
                "authority": .string(authority.name), "namePrefix": .string(budget.namePrefix),
                "partitions": .int(Int64(mine.count)), "maxPartitions": .int(Int64(budget.maxPartitions)),
                "memoryBytes": .uint(memory), "maxMemoryBytes": .uint(budget.maxMemoryBytes),
            ]
        }
        var counterObject = JSONObject()
        for key in counters.keys.sorted() { counterObject[key] = .uint(counters[key] ?? 0) }
        return [
            "budgets": .array(budgets), "partitions": .array(records.map { .object(Self.describe($0)) }),
            "shadowed": .array(shadowed.map { .string($0) }), "counters": .object(counterObject),
        ]
    }
}
