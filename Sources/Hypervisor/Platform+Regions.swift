extension Platform {
    /// Reads region bytes for a TCP guest; any grant allows reading.
    package func readRegion(
        session: SessionID, region name: String, offset: UInt64, length: Int, actions: inout [Action]
    )
        -> RegionReadOutcome
    {
        switch check(session: session, region: name, offset: offset, length: length, write: false, &actions) {
        case .success(let region):
            return .ok(region.backing.read(offset: offset, count: length))
        case .failure(let failure):
            switch failure.outcome {
            case .outOfGrant: return .outOfGrant
            case .outOfBounds: return .outOfBounds
            case .tooLarge: return .tooLarge
            default: return .noSuchRegion
            }
        }
    }

    /// Writes region bytes for a TCP guest; needs a read-write grant.
    package func writeRegion(
        session: SessionID, region name: String, offset: UInt64, bytes: some Collection<UInt8>, actions: inout [Action]
    ) -> RegionWriteOutcome {
        switch check(session: session, region: name, offset: offset, length: bytes.count, write: true, &actions) {
        case .success(let region):
            region.backing.write(offset: offset, bytes: bytes)
            return .ok
        case .failure(let failure): return failure.outcome
        }
    }

    /// Rings the region's doorbell: raises its line on every other granted partition.
    /// Needs a read-write grant (writers ring). Returns the answer per partition rung.
    package func ringDoorbell(session: SessionID, region name: String, actions: inout [Action])
        -> (outcome: RegionWriteOutcome, raised: [(partition: String, outcome: RaiseOutcome)])
    {
        switch check(session: session, region: name, offset: 0, length: 0, write: true, &actions) {
        case .failure(let failure): return (failure.outcome, [])
        case .success(let region):
            guard let line = region.config.doorbellLine else { return (.noDoorbell, []) }
            let ringer = sessions[session]!
            var raised: [(partition: String, outcome: RaiseOutcome)] = []
            for index in region.grants.keys.sorted() where index != ringer {
                let target = partitions[index]
                let outcome =
                    target.controller.isValid(line: line)
                    ? raiseLine(
                        on: target, line: line, originator: .partition(partitions[ringer].name), actions: &actions)
                    : .noSuchLine
                raised.append((target.name, outcome))
            }
            return (.ok, raised)
        }
    }

    private struct RegionFailure: Error { var outcome: RegionWriteOutcome }

    private func check(
        session: SessionID, region name: String, offset: UInt64, length: Int, write: Bool, _ actions: inout [Action]
    ) -> Result<RegionState, RegionFailure> {
        guard let partition = partitionState(of: session) else { return .failure(RegionFailure(outcome: .outOfGrant)) }
        guard let index = regionIndex[name] else { return .failure(RegionFailure(outcome: .noSuchRegion)) }
        let region = regions[index]
        guard let access = region.grants[partition.index], !write || access == .readWrite else {
            partition.counters.regionAccessRefused &+= 1
            actions.append(.event(.regionAccessRefused(partition: partition.name, region: name, write: write)))
            return .failure(RegionFailure(outcome: .outOfGrant))
        }
        // A write is bounded by the frame that carried it (`hub.limits.guestMaxFrameBytes`, up to 64 MiB); only
        // reads, whose answer the hub builds, have a length of their own (guest.md §8.1).
        guard length >= 0, write || length <= options.maxRegionAccessBytes else {
            return .failure(RegionFailure(outcome: .tooLarge))
        }
        let end = offset.addingReportingOverflow(UInt64(length))
        guard !end.overflow, end.partialValue <= region.backing.sizeBytes else {
            return .failure(RegionFailure(outcome: .outOfBounds))
        }
        return .success(region)
    }
}
