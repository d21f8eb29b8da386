import DeviceKit
import HubSystem
import Hypervisor
import JSON
import Management
import ManagementServer
import PlatformConfig

/// The hub's side of runtime provisioning (`Protocols/management.md` §9): the model, the live configuration,
/// events, and the state file (`ManagementServer.ProvisioningStore`). The executor and the budget check live in
/// `Management`.
extension Hub: ProvisioningHost {
    /// The executor with the partitions provisioned before this start; nil without a state directory. A file
    /// that exists but cannot be read stops the hub (`ProvisioningStore.load`).
    static func loadProvisioning(_ configuration: PlatformConfiguration) throws(HubStartError)
        -> ProvisioningExecutor?
    {
        guard let directory = configuration.hub.stateDirectory else { return nil }
        do throws(ManagementStoreError) {
            let records = try ProvisioningStore(stateDirectory: directory).load()
            return ProvisioningExecutor(records: records, configuration: configuration)
        } catch {
            throw .device("hub.stateDirectory: \(error.description)")
        }
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

    package func secretBytes(_ count: Int) -> [UInt8] { SecureRandom.bytes(count) }

    package func saveProvisioned(_ records: [ProvisionedPartition]) -> ManagementRefusal? {
        guard let directory = configuration.hub.stateDirectory else {
            return ManagementRefusal("operation_unavailable", "no hub.stateDirectory")
        }
        return ProvisioningStore(stateDirectory: directory).save(records)
    }
}
