extension Platform {
    /// Produces up to `budget` deliveries (interrupts and messages), to be called once per
    /// loop pass after the pass's commands (`Deploy/config-reference.md`, partitions).
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
    package func drainDeliveries(budget: Int, fairShareBudget: Int = .max, into actions: inout [Action]) {
        var budget = budget
        for index in realTimeOrder {
            let partition = partitions[index]
            while budget > 0, let (action, count) = nextDelivery(for: partition, limit: budget) {
                actions.append(action)
                budget -= count
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
            // Alone in the round, a partition shares with nobody: its turn is the rest of the budget, so its
            // messages go out in a few large batches instead of one batch per quantum (weights 100 and 50 make
            // quanta of 2 and 1).
            if fairShareActive.count == 1 { partition.deficit = max(partition.deficit, budget) }
            while budget > 0, partition.deficit > 0,
                let (action, count) = nextDelivery(for: partition, limit: min(budget, partition.deficit))
            {
                actions.append(action)
                budget -= count
                partition.deficit -= count
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
    package var hasPendingDeliveries: Bool {
        hasRealTimeDeliveries
            || (0..<fairShareActive.count).contains { hasDeliverable(partitions[fairShareActive[$0]]) }
    }

    /// Whether a real-time partition has something to deliver now (the server hands those out at once).
    package var hasRealTimeDeliveries: Bool {
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

    /// The partition's next delivery and how many deliveries it counts for: one interrupt, or up to `limit`
    /// messages of one link (links take turns batch by batch).
    func nextDelivery(for partition: PartitionState, limit: Int) -> (Action, Int)? {
        guard let session = partition.receivingSession, limit > 0 else { return nil }
        if let irq = partition.controller.takeNext() {
            partition.counters.interruptsDelivered &+= 1
            let action = Action.deliverInterrupt(
                session: session, line: irq.line, priority: irq.priority, coalesced: irq.coalesced)
            return (action, 1)
        }
        let count = partition.incoming.count
        for step in 0..<count {
            let position = (partition.nextIncoming + step) % count
            let (linkIndex, direction) = partition.incoming[position]
            let link = links[linkIndex]
            guard let batch = link.directions[direction].takeBatch(limit: limit) else { continue }
            partition.nextIncoming = (position + 1) % count
            partition.counters.messagesDelivered &+= UInt64(batch.count)
            partition.counters.bytesDelivered &+= batch.bytes
            partition.counters.messagesRedelivered &+= UInt64(batch.redelivered)
            let action = Action.deliverMessages(
                MessageBatch(
                    session: session, linkID: link.id, firstID: batch.firstID, count: batch.count,
                    redelivered: batch.redelivered, position: linkIndex, direction: direction))
            return (action, batch.count)
        }
        return nil
    }

    /// Calls `body` with each message of `batch`, in order, read in place from the link's queue. Nothing is
    /// called for messages no longer queued (acknowledged since, or the link is gone).
    package func forEachMessage(
        in batch: MessageBatch,
        _ body: (
            _ id: UInt64, _ sender: Originator, _ correlation: UInt64?, _ payload: [UInt8], _ identity: String?
        ) -> Void
    ) {
        guard links.indices.contains(batch.position), links[batch.position].id == batch.linkID else { return }
        links[batch.position].directions[batch.direction].forEach(from: batch.firstID, count: batch.count) { entry in
            body(entry.id, entry.sender, entry.correlation, entry.payload, entry.identity)
        }
    }

    /// The messages of `batch` as values (for tests and tools; the server encodes with `forEachMessage`).
    package func messages(in batch: MessageBatch) -> [MessageDelivery] {
        let name = links.indices.contains(batch.position) ? links[batch.position].config.name : ""
        var messages: [MessageDelivery] = []
        forEachMessage(in: batch) { id, sender, correlation, payload, identity in
            var delivery = MessageDelivery(
                session: batch.session, link: name, linkID: batch.linkID, messageID: id, sender: sender,
                correlation: correlation, payload: payload, redelivery: id < batch.firstID + UInt64(batch.redelivered))
            delivery.identity = identity
            messages.append(delivery)
        }
        return messages
    }
}
