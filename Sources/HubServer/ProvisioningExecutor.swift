import ControlWire
import DeviceKit
import HubSystem
import Hypervisor
import JSON
import Management
import ManagementWire
import PlatformConfig

/// Carries out `provision` and `deprovision` (`Protocols/management.md` §9) and hands every other verified
/// command to the executor it wraps (the software slots'). The budget check and the policy are
/// `Management.Provisioning`'s; this adds the partition to the model and to the hub's configuration, issues
/// its secret, and keeps every provisioned partition in `hub.stateDirectory`/`provisioning/partitions.json`
/// (mode 0600, replaced atomically) so it survives restarts.
package final class ProvisioningExecutor: ManagementOperationExecutor {
    weak var hub: Hub?
    var next: any ManagementOperationExecutor = UnavailableOperationExecutor()
    private(set) var records: [ProvisionedPartition]
    let path: String
    /// Records on disk whose name the configuration now gives a configured partition: kept on disk, not loaded.
    private(set) var shadowed: [String] = []
    var counters: [String: UInt64] = ["provisioned": 0, "deprovisioned": 0, "refused": 0]
    /// A state file larger than this is not ours (64 partitions at most per budget, a few hundred bytes each).
    static let maxFileBytes = 4 << 20
    /// Secrets are 32 bytes from the system's CSPRNG, written as 64 hex digits.
    static let secretBytes = 32

    /// Reads the provisioned partitions of `configuration`'s state directory; nil without one. A file that
    /// exists but cannot be read stops the hub: forgetting it would let a name and its budget be issued twice.
    static func load(_ configuration: PlatformConfiguration) throws(HubStartError) -> ProvisioningExecutor? {
        guard let directory = configuration.hub.stateDirectory else { return nil }
        let path = directory + "/provisioning/partitions.json"
        let bytes: [UInt8]?
        do { bytes = try Files.readWhole(path, limit: maxFileBytes) } catch {
            throw .device("hub.stateDirectory: provisioned partitions: \(error.description)")
        }
        var records: [ProvisionedPartition] = []
        if let bytes {
            guard let json = try? JSON.parse(bytes), let read = Provisioning.records(from: json) else {
                throw .device("hub.stateDirectory: \(path) is not a list of provisioned partitions")
            }
            records = read
        }
        return ProvisioningExecutor(path: path, records: records, configuration: configuration)
    }

    private init(path: String, records: [ProvisionedPartition], configuration: PlatformConfiguration) {
        self.path = path
        let configured = Set(configuration.partitions.map(\.name))
        self.records = records.filter { !configured.contains($0.config.name) }
        shadowed = records.filter { configured.contains($0.config.name) }.map(\.config.name)
    }

    /// `configuration` with the provisioned partitions added after the configured ones.
    func merged(into configuration: PlatformConfiguration) -> PlatformConfiguration {
        var merged = configuration
        merged.partitions += records.map(\.config)
        return merged
    }

    func record(named name: String) -> ProvisionedPartition? { records.first { $0.config.name == name } }

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

    private func provision(_ command: ManagementCommand) -> Result<JSON, ManagementRefusal> {
        guard let hub else { return .failure(ManagementRefusal("operation_unavailable", "the hub is stopping")) }
        let budget = hub.configuration.management.authorities.first { $0.name == command.authority }?.budget
        let secret = HexKey.text(secureRandomBytes(Self.secretBytes))
        let existing = Set(hub.configuration.partitions.map(\.name))
        let config: PartitionConfig
        switch Provisioning.plan(command, budget: budget, existing: existing, provisioned: records, secret: secret) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let planned): config = planned
        }
        switch hub.platform.addPartition(config) {
        case .added: break
        case .nameInUse: return .failure(ManagementRefusal("name_taken", "a link or region is named '\(config.name)'"))
        case .invalid: return .failure(ManagementRefusal("bad_parameters", "the model cannot hold '\(config.name)'"))
        }
        let record = ProvisionedPartition(
            config: config, authority: command.authority, counter: command.counter,
            createdAtMs: hub.wallClockNanos / 1_000_000)
        if let refusal = save(records + [record]) {
            var actions: [Action] = []
            _ = hub.platform.removePartition(named: config.name, actions: &actions)
            hub.perform(&actions)
            return .failure(refusal)
        }
        records.append(record)
        hub.configuration.partitions.append(config)
        counters["provisioned", default: 0] += 1
        _ = hub.publish("partition.provisioned", partition: config.name, data: .object(Self.describe(record)))
        var answer = Self.describe(record)
        answer["secret"] = .string(secret)
        return .success(.object(answer))
    }

    private func deprovision(_ command: ManagementCommand) -> Result<JSON, ManagementRefusal> {
        guard let hub else { return .failure(ManagementRefusal("operation_unavailable", "the hub is stopping")) }
        let index: Int
        switch Provisioning.checkDeprovision(command, provisioned: records) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let found): index = found
        }
        var remaining = records
        let record = remaining.remove(at: index)
        // Forgotten on disk first: a partition the model dropped must not come back at the next start.
        if let refusal = save(remaining) { return .failure(refusal) }
        records = remaining
        var actions: [Action] = []
        let outcome = hub.platform.removePartition(named: record.config.name, actions: &actions)
        hub.perform(&actions)
        hub.configuration.partitions.removeAll { $0.name == record.config.name }
        hub.partitionDetached(record.config.name)
        counters["deprovisioned", default: 0] += 1
        var detached = false
        var linksRemoved = 0
        if case .removed(let wasAttached, let links) = outcome { (detached, linksRemoved) = (wasAttached, links) }
        let answer: JSON = [
            "partition": .string(record.config.name), "authority": .string(record.authority),
            "detached": .bool(detached), "linksRemoved": .int(Int64(linksRemoved)),
        ]
        _ = hub.publish("partition.deprovisioned", partition: record.config.name, data: answer)
        return .success(answer)
    }

    /// Writes the records atomically (0600: the file holds the secrets); a failure is `storage_failed` and
    /// nothing changes.
    private func save(_ records: [ProvisionedPartition]) -> ManagementRefusal? {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        do {
            try FileTree.makeDirectories(directory, permissions: 0o700)
            try Files.writeAtomically(path, Provisioning.json(records).serializedBytes(), permissions: 0o600)
        } catch {
            return ManagementRefusal("storage_failed", error.description)
        }
        return nil
    }

    /// A provisioned partition as `partition.get`, the events and the answer show it (never its secret).
    static func describe(_ record: ProvisionedPartition) -> JSONObject {
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

    /// `partition.get`/`partition.list` `origin`: `configuration`, or the authority and budget use of a
    /// provisioned partition.
    func origin(of name: String) -> JSON {
        guard let record = record(named: name) else { return "configuration" }
        return ["provisionedBy": .string(record.authority), "counter": .string(String(record.counter))]
    }

    /// `provisioning.status`: each budget and its use, the provisioned partitions, the counters.
    var statusJSON: JSON {
        let authorities = hub?.configuration.management.authorities ?? []
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
