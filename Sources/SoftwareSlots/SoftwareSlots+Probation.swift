import HubSystem
import JSON

/// Probation, as RAUC's boot attempts and "mark good" do for A/B systems (`Protocols/management.md`
/// §"Images", probation): an image on probation must attach, mark itself good where the guest supports it,
/// and stay up for `probationMs`, within `maxStartAttempts` starts; otherwise the previous slot comes back.
extension SoftwareSlots {
    /// The supervisor is about to start the partition: counts the attempt of an image on probation (journaled
    /// first, so starts a killed hub made count too) and answers the launch to use — the previous image's
    /// once the attempts are spent.
    package func willStart(partition: String) -> SlotLaunch? {
        guard var state = states[partition], state.probation else { return launch(for: partition) }
        generations[partition, default: 0] += 1
        if state.attempts >= settings.maxStartAttempts {
            try? rollBack(
                partition, reason: "not good after \(state.attempts) start attempts", automatic: true, relaunch: false)
            return launch(for: partition)
        }
        state.attempts += 1
        try? persist(partition, state, point: "probation.attempt")
        return launch(for: partition)
    }

    /// The partition's guest attached: its probation clock starts. A guest that negotiated `mark-good`
    /// (`marksGood`) must send `MARK_GOOD` before the clock runs out; one that did not passes by staying up.
    package func attached(partition: String, marksGood: Bool = false) {
        guard let state = states[partition], state.probation else { return }
        reach("probation.attached")
        let generation = generations[partition, default: 0]
        host.schedule(afterMilliseconds: settings.probationMs) { [weak self] in
            guard let self, self.generations[partition, default: 0] == generation else { return }
            let period = self.settings.probationMs
            if marksGood {
                self.host.failProbation(partition: partition, reason: "did not mark itself good within \(period) ms")
            } else {
                self.commit(partition, how: "stayed up for \(period) ms")
            }
        }
    }

    /// The guest said it is healthy (`MARK_GOOD`, `Protocols/guest.md`): probation ends at once.
    package func markGood(partition: String) {
        guard states[partition]?.probation == true else { return }
        generations[partition, default: 0] += 1
        commit(partition, how: "marked good by the guest")
    }

    /// The guest on probation crashed, hung or failed to attach: start it again while attempts remain,
    /// else fall back to the previous slot with the reason recorded.
    package func failed(partition: String, reason: String) -> FailureDecision {
        guard let state = states[partition], state.probation else { return .notOnProbation }
        generations[partition, default: 0] += 1
        guard state.attempts >= settings.maxStartAttempts else { return .retry(launch(for: partition)) }
        let why = "\(reason) (attempt \(state.attempts) of \(settings.maxStartAttempts))"
        guard (try? rollBack(partition, reason: why, automatic: true, relaunch: false)) != nil else {
            return .retry(launch(for: partition))
        }
        return .rolledBack(launch(for: partition))
    }

    private func commit(_ partition: String, how: String) {
        guard var state = states[partition], state.probation else { return }
        let image = state.images[state.active]
        state.probation = false
        state.attempts = 0
        if let version = image?.version { state.highestVersion = max(state.highestVersion ?? 0, version) }
        reach("probation.committing")
        guard (try? persist(partition, state, point: "probation.committed")) != nil else { return }
        counters.upgradesCommitted += 1
        host.publish(
            "software.upgraded", partition: partition,
            data: [
                "slot": .string(state.active.rawValue), "version": image.map { .uint($0.version) } ?? .null,
                "name": image.map { .string($0.name) } ?? .null, "how": .string(how),
            ])
    }

    /// Switches back to the previous slot, journaled, with the reason; restarts the partition unless the
    /// supervisor is about to start it anyway.
    func rollBack(_ partition: String, reason: String, automatic: Bool, relaunch: Bool = true) throws(SystemError) {
        guard let state = states[partition] else { return }
        generations[partition, default: 0] += 1
        let next = fallBack(state, reason: reason)
        reach("rollback.switching")
        try persist(partition, next, point: "rollback.switched")
        if automatic { counters.rollbacksAutomatic += 1 } else { counters.rollbacksRequested += 1 }
        host.publish(
            "software.rolledBack", partition: partition,
            data: [
                "reason": .string(reason), "from": .string(state.active.rawValue), "to": .string(next.active.rawValue),
                "automatic": .bool(automatic), "version": next.images[next.active].map { .uint($0.version) } ?? .null,
            ])
        if relaunch {
            host.relaunch(partition: partition, launch: launch(for: partition), reason: "rolled back: \(reason)")
        }
    }

    func restartOnProbation(_ partition: String, reason: String) {
        generations[partition, default: 0] += 1
        host.relaunch(partition: partition, launch: launch(for: partition), reason: reason)
    }

    func probationData(_ state: SlotState) -> JSON {
        [
            "slot": .string(state.active.rawValue),
            "version": state.images[state.active].map { .uint($0.version) } ?? .null,
            "probationMs": .int(Int64(settings.probationMs)),
            "maxStartAttempts": .int(Int64(settings.maxStartAttempts)),
        ]
    }
}
