import PlatformConfig

/// Partitions added and removed while the hub runs (`provision` and `deprovision`, `Protocols/management.md`
/// §9). The policy was built and checked against the authority's budget before it reaches the model; here a
/// partition joins or leaves the model like a configured one, so every other path (attach, raise, send,
/// scheduling) is the same code.
///
/// Partition indices are positions that links, regions and the scheduling lists hold, so a removed
/// partition's slot stays in `partitions`, marked `removed` and unreachable by name, and the next added
/// partition takes it: the array never grows past the configured partitions plus the budgets' maxima.
extension Platform {
    /// Adds `config` as a new partition, detached, with default-deny policy beyond what `config` grants.
    package func addPartition(_ config: PartitionConfig) -> ProvisionOutcome {
        guard partitionIndex[config.name] == nil, linkIndex[config.name] == nil, regionIndex[config.name] == nil
        else { return .nameInUse }
        guard PartitionConfig.interruptLinesRange.contains(config.interruptLines) else { return .invalid }
        let index = partitions.firstIndex(where: \.removed) ?? partitions.count
        let quantum = config.schedulingClass == .fairShare ? max(1, config.weight) / quantumDivisor : 0
        let state = PartitionState(index: index, config: config, quantum: max(1, quantum))
        if index == partitions.count { partitions.append(state) } else { partitions[index] = state }
        partitionIndex[config.name] = index
        // The policy in force holds what the command granted, whatever profile is active: profiles name only
        // configured partitions (Protocols/policy.md §2), so a provisioned one keeps its own grants.
        policy.mayInterrupt[config.name] = Set(config.mayInterrupt)
        policy.mayMessage[config.name] = Set(config.mayMessage)
        policy.grants[config.name] = Dictionary(config.devices.map { ($0.device, $0.access) }) { _, last in last }
        if state.isRealTime { orderRealTime() }
        // The round robin was sized for the configuration and its budgets; a model driven past them (tests,
        // a budget shrunk while partitions it allowed persist) still gets room for every partition.
        if partitions.count > fairShareActive.capacity {
            var larger = RingBuffer<Int>(capacity: partitions.count)
            while let next = fairShareActive.removeFirst() { _ = larger.append(next) }
            fairShareActive = larger
        }
        return .added
    }

    /// Removes a partition added at run time: its session ends with reason `deprovisioned` (the server closes
    /// it), its timers stop, and every runtime link it is an end of is removed at once with what it held —
    /// the partition will never acknowledge again, so a closing link would never drain (`Protocols/guest.md`
    /// §7.8); the other end is told `LINK_CLOSED` `closed` and its sends on it are `no_such_link` from now on.
    /// A partition on a configured link or holding a configured region grant is refused: those name it in
    /// the configuration, so only a partition added at run time can go.
    package func removePartition(named name: String, actions: inout [Action]) -> DeprovisionOutcome {
        guard let index = partitionIndex[name] else { return .noSuchPartition }
        let partition = partitions[index]
        let configuredLink = links.contains { !$0.runtime && $0.sendingDirection(of: index) != nil }
        guard !configuredLink, !regions.contains(where: { $0.grants[index] != nil }) else { return .configured }
        var detached = false
        if let session = partition.session {
            endSession(of: partition, reason: .deprovisioned, actions: &actions)
            actions.append(.closeSession(session, reason: .deprovisioned))
            detached = true
        }
        cancelTimers(of: partition)
        let ownLinks = links.filter { $0.sendingDirection(of: index) != nil }
        for link in ownLinks {
            link.closing = true
            remove(link, notifyingAllBut: nil, actions: &actions)
        }
        partition.removed = true
        partitionIndex[name] = nil
        policy.mayInterrupt[name] = nil
        policy.mayMessage[name] = nil
        policy.grants[name] = nil
        runtimeLinks.awareSession[index] = nil
        runtimeLinks.deferred[index] = nil
        realTimeOrder.removeAll { $0 == index }
        if partition.inActiveList {
            var kept = RingBuffer<Int>(capacity: fairShareActive.capacity)
            while let next = fairShareActive.removeFirst() {
                if next != index { _ = kept.append(next) }
            }
            fairShareActive = kept
            partition.inActiveList = false
        }
        return .removed(detached: detached, linksRemoved: ownLinks.count)
    }

    /// Real-time partitions, highest priority first, configuration order (then slot order) among equals.
    private func orderRealTime() {
        realTimeOrder = partitions.filter { $0.isRealTime && !$0.removed }.sorted {
            ($0.config.priority, $0.index) < ($1.config.priority, $1.index)
        }.map(\.index)
    }
}

/// The answer to `addPartition`.
package enum ProvisionOutcome: Equatable, Sendable {
    case added
    /// A partition, link or region already has the name.
    case nameInUse
    /// The configuration is not one the model can hold (interrupt lines out of range).
    case invalid
}

/// The answer to `removePartition`.
package enum DeprovisionOutcome: Equatable, Sendable {
    /// Gone; `detached` when it had a session, `linksRemoved` runtime links went with it.
    case removed(detached: Bool, linksRemoved: Int)
    case noSuchPartition
    /// A configured link or region names it.
    case configured
}
