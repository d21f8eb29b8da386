extension Platform {
    /// Produces up to `budget` deliveries (interrupts and messages), to be called once per
    /// loop pass after the pass's commands (issue 3 §7).
    ///
    /// Real-time partitions are served first, highest priority first, until they have nothing
    /// deliverable. The remaining budget goes to fair-share partitions by deficit round robin:
    /// each turn a partition may take as many deliveries as its quantum (its weight divided
    /// by the common divisor of all fair-share weights), so a partition with a flood of
    /// traffic gets its share and no more, and a light partition is served within one round.
    /// Round-robin state carries over between calls. Within a partition, deliverable
    /// interrupts come first (highest line priority), then messages round robin over its links.
    ///
    /// `fairShareBudget` bounds the fair-share part of the pass on its own, so that a pass that hands a
    /// flood to fair-share partitions stays short and the next pass soon serves real-time partitions again.
    public func drainDeliveries(budget: Int, fairShareBudget: Int = .max, into actions: inout [Action]) {
        var budget = budget
        for index in realTimeOrder {
            let partition = partitions[index]
            while budget > 0, let action = nextDelivery(for: partition) {
                actions.append(action)
                budget -= 1
            }
            if budget == 0 { return }
        }
        budget = min(budget, fairShareBudget)
        while budget > 0, let index = fairShareActive.first {
            let partition = partitions[index]
            if !partition.quantumGranted {
                partition.deficit += partition.quantum
                partition.quantumGranted = true
            }
            while budget > 0, partition.deficit > 0, let action = nextDelivery(for: partition) {
                actions.append(action)
                budget -= 1
                partition.deficit -= 1
            }
            let hasWork = hasDeliverable(partition)
            // Out of budget in the middle of a turn: keep the place for the next pass.
            if budget == 0, hasWork, partition.deficit > 0 { return }
            fairShareActive.removeFirst()
            partition.quantumGranted = false
            if hasWork {
                _ = fairShareActive.append(index)
            } else {
                partition.inActiveList = false
                partition.deficit = 0
            }
        }
    }

    /// Whether `drainDeliveries` has something to deliver now (the server schedules another
    /// pass while this holds).
    public var hasPendingDeliveries: Bool {
        realTimeOrder.contains { hasDeliverable(partitions[$0]) }
            || (0..<fairShareActive.count).contains { hasDeliverable(partitions[fairShareActive[$0]]) }
    }

    /// Whether a real-time partition has something to deliver now (the server hands those out at once).
    public var hasRealTimeDeliveries: Bool {
        realTimeOrder.contains { hasDeliverable(partitions[$0]) }
    }

    /// Something may have become deliverable for `partition`; fair-share partitions join the
    /// round-robin list (real-time ones are scanned every pass).
    func markReady(_ partition: PartitionState) {
        guard !partition.isRealTime, !partition.inActiveList else { return }
        partition.inActiveList = true
        _ = fairShareActive.append(partition.index)
    }

    func hasDeliverable(_ partition: PartitionState) -> Bool {
        guard partition.receivingSession != nil else { return false }
        if partition.controller.hasDeliverable { return true }
        return partition.incoming.contains { links[$0.link].directions[$0.direction].canDeliver }
    }

    func nextDelivery(for partition: PartitionState) -> Action? {
        guard let session = partition.receivingSession else { return nil }
        if let irq = partition.controller.takeNext() {
            partition.counters.interruptsDelivered &+= 1
            return .deliverInterrupt(session: session, line: irq.line, priority: irq.priority, coalesced: irq.coalesced)
        }
        let count = partition.incoming.count
        for step in 0..<count {
            let position = (partition.nextIncoming + step) % count
            let (linkIndex, direction) = partition.incoming[position]
            let link = links[linkIndex]
            guard let (entry, redelivery) = link.directions[direction].takeNext() else { continue }
            partition.nextIncoming = (position + 1) % count
            partition.counters.messagesDelivered &+= 1
            partition.counters.bytesDelivered &+= UInt64(entry.payload.count)
            if redelivery { partition.counters.messagesRedelivered &+= 1 }
            return .deliverMessage(
                MessageDelivery(
                    session: session, link: link.config.name, linkID: link.id, messageID: entry.id,
                    sender: entry.sender,
                    correlation: entry.correlation, payload: entry.payload, redelivery: redelivery))
        }
        return nil
    }
}
