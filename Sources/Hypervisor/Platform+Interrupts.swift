extension Platform {
    /// Raises `line` on partition `target` (`Protocols/guest.md` §6.1–§6.2).
    ///
    /// A session may raise only on partitions its policy lists in `mayInterrupt` (or on
    /// itself); injectors and devices bypass the policy but are named in the events. The
    /// policy is checked before the line number, so a refused sender learns nothing about
    /// the target.
    package func raise(from source: CommandSource, to target: String, line: Int, actions: inout [Action])
        -> RaiseOutcome
    {
        let originator: Originator
        var sender: PartitionState? = nil
        switch source {
        case .session(let session):
            guard let partition = partitionState(of: session) else { return .notPermitted }
            sender = partition
            originator = .partition(partition.name)
        case .injector(let name): originator = .injector(name)
        case .device(let name): originator = .device(name)
        }
        let targetIndex: Int
        if let cached = sender?.lastRaiseTarget, cached.name == target, partitions[cached.index].name == target,
            !partitions[cached.index].removed
        {
            targetIndex = cached.index
            if !cached.permitted { return refuse(.notPermitted, sender, originator, target, line, &actions) }
        } else {
            guard let index = partitionIndex[target] else {
                return refuse(.noSuchPartition, sender, originator, target, line, &actions)
            }
            targetIndex = index
            if let sender {
                let permitted = sender.index == index || sender.mayInterrupt.contains(target)
                sender.lastRaiseTarget = (target, index, permitted)
                if !permitted { return refuse(.notPermitted, sender, originator, target, line, &actions) }
            }
        }
        guard partitions[targetIndex].controller.isValid(line: line) else {
            return refuse(.noSuchLine, sender, originator, target, line, &actions)
        }
        return raiseLine(on: partitions[targetIndex], line: line, originator: originator, actions: &actions)
    }

    private func refuse(
        _ outcome: RaiseOutcome, _ sender: PartitionState?, _ originator: Originator, _ target: String, _ line: Int,
        _ actions: inout [Action]
    ) -> RaiseOutcome {
        sender?.counters.raisesRefused &+= 1
        actions.append(.event(.interruptRefused(source: originator, target: target, line: line, reason: outcome)))
        return outcome
    }

    /// Sets the line pending on the target's controller; the line number is valid.
    /// Timer raises are not published as events (a periodic timer would flood subscribers).
    func raiseLine(on target: PartitionState, line: Int, originator: Originator, actions: inout [Action])
        -> RaiseOutcome
    {
        let coalesced = target.controller.raise(line: line) == .coalesced
        if coalesced { target.counters.interruptsCoalesced &+= 1 }
        let publish = originator != .timer
        guard target.receivingSession != nil else {
            target.counters.interruptsLatched &+= 1
            if publish {
                actions.append(.event(.interruptLatched(source: originator, target: target.name, line: line)))
            }
            return .latched
        }
        target.counters.interruptsRaised &+= 1
        markReady(target)
        if publish {
            actions.append(
                .event(.interruptRaised(source: originator, target: target.name, line: line, coalesced: coalesced)))
        }
        return .delivered
    }

    /// The guest finished handling `line`; it may fire again.
    package func endOfInterrupt(session: SessionID, line: Int) -> LineOutcome {
        guard let partition = partitionState(of: session) else { return .notAttached }
        guard partition.controller.isValid(line: line) else { return .noSuchLine }
        guard partition.controller.endOfInterrupt(line: line) else { return .invalid }
        markReady(partition)
        return .ok
    }

    /// Masks or unmasks a line; a pending line is delivered once unmasked.
    package func setMasked(session: SessionID, line: Int, masked: Bool) -> LineOutcome {
        guard let partition = partitionState(of: session) else { return .notAttached }
        guard partition.controller.setMasked(line: line, masked) else { return .noSuchLine }
        if !masked { markReady(partition) }
        return .ok
    }

    /// Sets a line's priority (0 highest … 15).
    package func setPriority(session: SessionID, line: Int, priority: UInt8) -> LineOutcome {
        guard let partition = partitionState(of: session) else { return .notAttached }
        guard partition.controller.isValid(line: line) else { return .noSuchLine }
        guard partition.controller.setPriority(line: line, priority) else { return .invalid }
        return .ok
    }

    /// A copy of a partition's interrupt controller (for inspection and tests).
    package func interruptController(ofPartition name: String) -> InterruptController? {
        partitionIndex[name].map { partitions[$0].controller }
    }
}
