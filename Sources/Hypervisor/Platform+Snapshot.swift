extension Platform {
    /// State and counters of every partition and link, for the control API.
    package func snapshot() -> PlatformSnapshot {
        PlatformSnapshot(
            partitions: partitions.filter { !$0.removed }.map(snapshot(of:)),
            links: links.map { link in
                LinkSnapshot(
                    name: link.config.name, id: link.id, maxMessageBytes: link.config.maxMessageBytes,
                    runtime: link.runtime, closing: link.closing, openedBy: link.openedBy,
                    aToB: snapshot(of: link, direction: 0),
                    bToA: snapshot(of: link, direction: 1))
            })
    }

    func snapshot(of partition: PartitionState) -> PartitionSnapshot {
        PartitionSnapshot(
            name: partition.name, realTime: partition.isRealTime, priority: partition.config.priority,
            weight: partition.config.weight, state: partition.state, suspended: partition.suspended,
            interruptLines: partition.controller.lineCount, pendingLines: partition.controller.pendingLines,
            counters: partition.counters)
    }

    func snapshot(of link: LinkState, direction: Int) -> LinkDirectionSnapshot {
        let queue = link.directions[direction]
        var snapshot = LinkDirectionSnapshot(
            from: partitions[link.sender(of: direction)].name, to: partitions[link.receiver(of: direction)].name,
            held: queue.count, inFlight: queue.inFlight, depth: queue.depth, receiveWindow: queue.window,
            senderCredit: queue.senderCredit, nextMessageID: queue.nextID, counters: queue.counters)
        // A copy of the budget: looking must not change what the sender may send.
        if var budget = queue.budget {
            snapshot.rateLimit = budget.limit
            (snapshot.burstMessages, snapshot.burstBytes) = (budget.messages?.burst, budget.bytes?.burst)
            (snapshot.availableMessages, snapshot.availableBytes) = budget.available(now: scheduler.now)
        }
        return snapshot
    }
}
