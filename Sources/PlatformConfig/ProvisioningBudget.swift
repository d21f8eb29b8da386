/// What an authority may provision at run time (`Deploy/config-reference.md`, management budget;
/// `Protocols/management.md` §9): how many partitions, how much guest memory in all, which scheduling
/// classes and priorities, which devices it may share with them, which partitions they may ever be granted
/// to interrupt or message, and the prefix every name it provisions starts with, so it can never take a
/// configured partition's name.
package struct ProvisioningBudget: Sendable, Equatable {
    /// Every partition this authority provisions is named `namePrefix` + something.
    package var namePrefix: String
    /// At most this many of its partitions exist at once.
    package var maxPartitions: Int
    /// The guest memory of all its partitions together.
    package var maxMemoryBytes: UInt64
    /// The scheduling classes its partitions may have.
    package var classes: [SchedulingClass]
    /// The priorities its partitions may have (0 is the highest).
    package var minPriority: Int
    package var maxPriority: Int
    /// Devices its partitions may be granted, always `shared` (a dedicated device stays its owner's).
    package var devices: [String]
    /// Partitions its partitions may be granted in `mayInterrupt` and `mayMessage`; nothing else.
    package var peers: [String]

    package init(
        namePrefix: String, maxPartitions: Int = 1, maxMemoryBytes: UInt64 = 64 << 20,
        classes: [SchedulingClass] = [.fairShare], minPriority: Int = 8, maxPriority: Int = 15,
        devices: [String] = [], peers: [String] = []
    ) {
        self.namePrefix = namePrefix
        self.maxPartitions = maxPartitions
        self.maxMemoryBytes = maxMemoryBytes
        self.classes = classes
        self.minPriority = minPriority
        self.maxPriority = maxPriority
        self.devices = devices
        self.peers = peers
    }

    /// Bounds of `maxPartitions` (each provisioned partition is a live partition of the model).
    package static let maxPartitionsRange = 1...64
    /// A prefix is 1...16 bytes of a name's characters and starts with a letter, like a name.
    package static let maxPrefixBytes = 16

    /// Whether `name` is one this budget may provision: the prefix, then at least one more character, and a
    /// valid partition name as a whole.
    package func admitsName(_ name: String) -> Bool {
        name.utf8.count > namePrefix.utf8.count && name.hasPrefix(namePrefix) && ConfigValidator.isValidName(name)
    }

    /// Every problem with the budget, paths as in the file.
    func validationIssues(_ path: String, configuration: PlatformConfiguration) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        func add(_ field: String, _ reason: String) { issues.append(ConfigIssue(path: path + field, reason: reason)) }
        if namePrefix.isEmpty || namePrefix.utf8.count > Self.maxPrefixBytes
            || !ConfigValidator.isValidName(namePrefix)
        {
            add(
                ".namePrefix",
                "'\(namePrefix)' must be 1...\(Self.maxPrefixBytes) bytes of a name, starting with a letter")
        }
        for partition in configuration.partitions where partition.name.hasPrefix(namePrefix) && !namePrefix.isEmpty {
            add(".namePrefix", "configured partition '\(partition.name)' starts with '\(namePrefix)'")
        }
        if !Self.maxPartitionsRange.contains(maxPartitions) {
            add(".maxPartitions", "\(maxPartitions) is outside \(Self.maxPartitionsRange)")
        }
        if maxMemoryBytes < PartitionConfig.memoryRange.lowerBound
            || maxMemoryBytes > PartitionConfig.memoryRange.upperBound
        {
            add(".maxMemoryBytes", "\(maxMemoryBytes) is outside \(PartitionConfig.memoryRange)")
        }
        if classes.isEmpty { add(".classes", "names no scheduling class") }
        if !PartitionConfig.priorityRange.contains(minPriority) || !PartitionConfig.priorityRange.contains(maxPriority)
            || minPriority > maxPriority
        {
            add(
                ".minPriority", "\(minPriority)...\(maxPriority) is not a range within \(PartitionConfig.priorityRange)"
            )
        }
        let deviceNames = Set(configuration.devices.allNames)
        for device in devices where !deviceNames.contains(device) { add(".devices", "'\(device)' is not a device") }
        // A dedicated device belongs to its one partition: it cannot also be shared with a provisioned one.
        for device in devices
        where configuration.partitions.contains(where: { $0.grant(for: device)?.access == .dedicated }) {
            add(".devices", "'\(device)' is dedicated to a partition")
        }
        let partitionNames = Set(configuration.partitions.map(\.name))
        for peer in peers where !partitionNames.contains(peer) { add(".peers", "'\(peer)' is not a partition") }
        return issues
    }
}

extension PartitionConfig {
    /// Whether `name` may name a partition (the configuration's rule, for partitions made at run time).
    package static func isValidName(_ name: String) -> Bool { ConfigValidator.isValidName(name) }
}
