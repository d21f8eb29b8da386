import PlatformConfig
import YAML

/// `management:` (`Deploy/config-reference.md`, management): shapes and types only; names, keys, thresholds
/// and grants are checked by the validator.
extension ConfigDecoder {
    func management(_ node: Node, _ path: String) -> ManagementConfig {
        var management = ManagementConfig()
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: ["authorities", "auditMaxEntries", "auditSegmentEntries", "maxCommandLifetimeMs"])
        else {
            return management
        }
        management.auditMaxEntries = fields.read("auditMaxEntries", reader.int) ?? management.auditMaxEntries
        management.auditSegmentEntries =
            fields.read("auditSegmentEntries", reader.int) ?? management.auditSegmentEntries
        management.maxCommandLifetimeMs =
            fields.read("maxCommandLifetimeMs", reader.int) ?? management.maxCommandLifetimeMs
        if let node = fields.optional("authorities") {
            management.authorities = (reader.sequence(node, at: fields.path("authorities")) ?? []).map {
                authority($0.node, $0.path) ?? ManagementAuthorityConfig(name: "", keys: [])
            }
        }
        return management
    }

    private func authority(_ node: Node, _ path: String) -> ManagementAuthorityConfig? {
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["name", "keys", "threshold", "grants", "mayDowngrade", "budget"])
        else { return nil }
        var authority = ManagementAuthorityConfig(
            name: fields.readRequired("name", reader.string) ?? "",
            keys: fields.readRequired("keys", reader.stringList) ?? [])
        authority.threshold = fields.read("threshold", reader.int) ?? 1
        authority.mayDowngrade = fields.read("mayDowngrade", reader.bool) ?? false
        if let node = fields.optional("budget") { authority.budget = budget(node, fields.path("budget")) }
        if let node = fields.optional("grants") {
            authority.grants = (reader.sequence(node, at: fields.path("grants")) ?? []).map {
                grant($0.node, $0.path) ?? ManagementGrant(operations: [], partitions: [])
            }
        }
        return authority
    }

    private func grant(_ node: Node, _ path: String) -> ManagementGrant? {
        guard let fields = reader.mapping(node, at: path, allowed: ["operations", "partitions"]) else { return nil }
        return ManagementGrant(
            operations: fields.readRequired("operations", reader.stringList) ?? [],
            partitions: fields.readRequired("partitions", reader.stringList) ?? [])
    }

    /// `budget:` of an authority (`Deploy/config-reference.md`, management): ranges are the validator's.
    private func budget(_ node: Node, _ path: String) -> ProvisioningBudget? {
        let keys = [
            "namePrefix", "maxPartitions", "maxMemoryBytes", "classes", "minPriority", "maxPriority", "devices",
            "peers",
        ]
        guard let fields = reader.mapping(node, at: path, allowed: keys) else { return nil }
        var budget = ProvisioningBudget(namePrefix: fields.readRequired("namePrefix", reader.string) ?? "")
        budget.maxPartitions = fields.read("maxPartitions", reader.int) ?? budget.maxPartitions
        budget.maxMemoryBytes = fields.read("maxMemoryBytes", reader.size) ?? budget.maxMemoryBytes
        if let node = fields.optional("classes") {
            budget.classes = (reader.sequence(node, at: fields.path("classes")) ?? []).compactMap {
                reader.choice($0.node, at: $0.path, as: SchedulingClass.self)
            }
        }
        budget.minPriority = fields.read("minPriority", reader.int) ?? budget.minPriority
        budget.maxPriority = fields.read("maxPriority", reader.int) ?? budget.maxPriority
        budget.devices = fields.read("devices", reader.stringList) ?? []
        budget.peers = fields.read("peers", reader.stringList) ?? []
        return budget
    }
}
