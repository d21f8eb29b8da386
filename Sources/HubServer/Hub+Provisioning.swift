import DeviceKit
import HubSystem
import Hypervisor
import JSON
import Management
import PlatformConfig

/// The hub's side of runtime provisioning (`Protocols/management.md` §9): the model, the live configuration,
/// events and the state file `hub.stateDirectory`/`provisioning/partitions.json` (mode 0600: it holds the
/// secrets; replaced atomically). The executor and the budget check live in `Management`.
extension Hub: ProvisioningHost {
    /// A state file larger than this is not ours (64 partitions per budget, a few hundred bytes each).
    static let maxProvisioningFileBytes = 4 << 20

    static func provisioningPath(_ configuration: PlatformConfiguration) -> String? {
        configuration.hub.stateDirectory.map { $0 + "/provisioning/partitions.json" }
    }

    /// The executor with the partitions provisioned before this start; nil without a state directory. A file
    /// that exists but cannot be read stops the hub: forgetting it would issue a name and its budget twice.
    static func loadProvisioning(_ configuration: PlatformConfiguration) throws(HubStartError)
        -> ProvisioningExecutor?
    {
        guard let path = provisioningPath(configuration) else { return nil }
        let bytes: [UInt8]?
        do { bytes = try Files.readWhole(path, limit: maxProvisioningFileBytes) } catch {
            throw .device("hub.stateDirectory: provisioned partitions: \(error.description)")
        }
        var records: [ProvisionedPartition] = []
        if let bytes {
            guard let json = try? JSON.parse(bytes), let read = Provisioning.records(from: json) else {
                throw .device("hub.stateDirectory: \(path) is not a list of provisioned partitions")
            }
            records = read
        }
        return ProvisioningExecutor(records: records, configuration: configuration)
    }

    package func addProvisionedPartition(_ config: PartitionConfig) -> ManagementRefusal? {
        switch platform.addPartition(config) {
        case .added: break
        case .nameInUse: return ManagementRefusal("name_taken", "a link or region is named '\(config.name)'")
        case .invalid: return ManagementRefusal("bad_parameters", "the model cannot hold '\(config.name)'")
        }
        configuration.partitions.append(config)
        return nil
    }

    package func removeProvisionedPartition(_ name: String) -> JSON {
        var actions: [Action] = []
        let outcome = platform.removePartition(named: name, actions: &actions)
        perform(&actions)
        configuration.partitions.removeAll { $0.name == name }
        partitionDetached(name)
        guard case .removed(let detached, let links) = outcome else { return ["detached": false, "linksRemoved": 0] }
        return ["detached": .bool(detached), "linksRemoved": .int(Int64(links))]
    }

    package func publishProvisioning(_ kind: String, partition: String, data: JSON) {
        _ = publish(kind, partition: partition, data: data)
    }

    package var provisioningNowMs: UInt64 { wallClockNanos / 1_000_000 }

    package func secretBytes(_ count: Int) -> [UInt8] { secureRandomBytes(count) }

    package func saveProvisioned(_ records: [ProvisionedPartition]) -> ManagementRefusal? {
        guard let directory = configuration.hub.stateDirectory else {
            return ManagementRefusal("operation_unavailable", "no hub.stateDirectory")
        }
        do {
            try FileTree.makeDirectories(directory + "/provisioning", permissions: 0o700)
            try Files.writeAtomically(
                directory + "/provisioning/partitions.json", Provisioning.json(records).serializedBytes(),
                permissions: 0o600)
        } catch {
            return ManagementRefusal("storage_failed", error.description)
        }
        return nil
    }
}
