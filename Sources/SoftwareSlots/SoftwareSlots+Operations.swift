import HubSystem
import JSON

/// The executor API the signed-command layer calls once a command is verified (`Protocols/management.md`
/// §"Images"). Nothing here checks a signature: the caller has, and says whether a downgrade is authorised.
///
/// Each operation is three steps: `start` (the engine's thread: checks against the slot state, and the
/// partition marked running), the job's file work (`SlotJob.run`, anywhere: the hub runs it off its loop), and
/// `finish` (the engine's thread: the switch, the journal, the restart). `perform` runs all three, the file work
/// through a `SlotWorkRunner` or on the calling thread.
extension SoftwareSlots {
    /// Writes the bundle at `bundle` into the partition's other slot, verifies it against `expectedDigest`
    /// (the digest the signed command carries), switches to it and restarts the partition on probation.
    package func upgrade(
        partition: String, bundle: String, expectedDigest: String, version: UInt64?,
        downgradeAuthorised: Bool = false
    ) -> Result<SlotReport, SlotRefusal> {
        perform(
            .upgrade(bundle: bundle, digest: expectedDigest, version: version, downgrade: downgradeAuthorised),
            partition: partition)
    }

    /// Makes the previous slot active again (a `rollback` command), without probation: it ran before.
    package func rollback(partition: String, reason: String) -> Result<SlotReport, SlotRefusal> {
        perform(.rollback(reason: reason), partition: partition)
    }

    /// Keeps a copy of the active image in `backup/` (replacing the last backup only once the copy is complete).
    package func backup(partition: String) -> Result<SlotReport, SlotRefusal> {
        perform(.backup, partition: partition)
    }

    /// Installs an optional software bundle of the partition under `optional/<name>` after verifying it.
    package func install(partition: String, bundle: String, expectedDigest: String) -> Result<
        SlotReport, SlotRefusal
    > {
        perform(.install(bundle: bundle, digest: expectedDigest), partition: partition)
    }

    /// Removes the optional software `name` of the partition.
    package func remove(partition: String, name: String) -> Result<SlotReport, SlotRefusal> {
        perform(.remove(name: name), partition: partition)
    }

    /// Carries out `request` to its end on the calling thread, file work included (it blocks).
    package func perform(_ request: SlotRequest, partition: String) -> Result<SlotReport, SlotRefusal> {
        switch start(request, partition: partition) {
        case .done(let result): return result
        case .work(let job): return finish(job.run())
        }
    }

    /// Carries out `request`, its file work through `runner`; `completion` runs once with the answer, at once
    /// when there is no file work to do, else after `runner` called back.
    package func perform(
        _ request: SlotRequest, partition: String, runner: any SlotWorkRunner,
        completion: @escaping (Result<SlotReport, SlotRefusal>) -> Void
    ) {
        switch start(request, partition: partition) {
        case .done(let result): completion(result)
        case .work(let job): runner.run(job) { outcome in completion(self.finish(outcome)) }
        }
    }

    /// The first step: refuses what the slot state refuses, answers at once what needs no long file work
    /// (`remove`, a rollback to the configured command), and otherwise marks the partition running and returns
    /// the file work. While it runs, every other operation on the partition is refused `inProgress`.
    package func start(_ request: SlotRequest, partition: String) -> SlotStart {
        guard let state = states[partition] else { return .done(refuse(.notManaged, "\(partition) has no slots")) }
        guard !running.contains(partition) else {
            return .done(refuse(.inProgress, "a software operation on \(partition) is still running"))
        }
        let task: SlotJob.Task
        switch request {
        case .upgrade(let bundle, let digest, let version, let downgrade):
            guard !state.probation else { return .done(refuse(.busy, "\(partition) is on probation")) }
            task = .upgrade(source: bundle, digest: digest, version: version, downgrade: downgrade, state: state)
        case .rollback(let reason):
            guard let previous = state.previous, previous == .configured || state.images[previous] != nil else {
                return .done(refuse(.noPrevious, "\(partition) has no previous image"))
            }
            guard previous != .configured, let image = state.images[previous] else {
                return .done(commitRollback(partition, reason: reason).mapError(counted))
            }
            task = .rollbackCheck(reason: reason, slot: previous, image: image)
        case .backup:
            guard state.active != .configured, let image = state.images[state.active] else {
                return .done(refuse(.nothingToBackUp, "\(partition) runs its configured command"))
            }
            task = .backup(slot: state.active, image: image)
        case .install(let bundle, let digest):
            task = .install(source: bundle, digest: digest)
        case .remove(let name):
            return .done(removeNow(partition, name))
        }
        running.insert(partition)
        return .work(SlotJob(partition: partition, task: task, files: files))
    }

    /// The last step, on the engine's thread: takes over the journal the file work wrote and makes the switch it
    /// prepared (the upgrade's new slot active, on probation; the rollback), or answers its refusal.
    package func finish(_ outcome: SlotJob.Outcome) -> Result<SlotReport, SlotRefusal> {
        let partition = outcome.partition
        running.remove(partition)
        if let journaled = outcome.journaled { states[partition] = journaled }
        let result: Result<SlotReport, SlotRefusal>
        switch outcome.result {
        case .failure(let refusal): result = .failure(refusal)
        case .success(.upgraded(let manifest, let target)): result = commitUpgrade(partition, manifest, target)
        case .success(.rollbackChecked(let reason, let slot, let image, let matches)):
            if !matches {
                result = .failure(.init(.noPrevious, "the previous image of \(partition) does not match its digest"))
            } else if states[partition]?.previous != slot || states[partition]?.images[slot] != image {
                // Only a probation's automatic fallback changes the slots meanwhile (every command waits).
                result = .failure(.init(.busy, "the slots of \(partition) changed while the rollback was checked"))
            } else {
                result = commitRollback(partition, reason: reason)
            }
        case .success(.backedUp):
            counters.backups += 1
            result = .success(report(partition))
        case .success(.installed):
            counters.installs += 1
            result = .success(report(partition))
        }
        return result.mapError(counted)
    }

    private func commitUpgrade(_ partition: String, _ manifest: ImageManifest, _ target: SlotName) -> Result<
        SlotReport, SlotRefusal
    > {
        guard var state = states[partition] else { return .failure(.init(.notManaged, "\(partition) has no slots")) }
        guard !stopping else {
            return .failure(
                .init(.interrupted, "the hub stopped before switching to slot \(target.rawValue); nothing changed"))
        }
        state.writing = nil
        state.images[target] = SlotImage(manifest)
        state.previous = state.active
        state.active = target
        state.probation = true
        state.attempts = 0
        do { try persist(partition, state, point: "upgrade.switched") } catch {
            return .failure(.init(.storageFailed, "\(error)"))
        }
        counters.upgradesStarted += 1
        host.publish("software.probation", partition: partition, data: probationData(state))
        restartOnProbation(partition, reason: "upgrade to \(manifest.name) \(manifest.version)")
        reach("upgrade.restarted")
        return .success(report(partition))
    }

    private func commitRollback(_ partition: String, reason: String) -> Result<SlotReport, SlotRefusal> {
        guard !stopping else { return .failure(.init(.interrupted, "the hub stopped before the rollback")) }
        do { try rollBack(partition, reason: reason, automatic: false) } catch {
            return .failure(.init(.storageFailed, "\(error)"))
        }
        return .success(report(partition))
    }

    private func removeNow(_ partition: String, _ name: String) -> Result<SlotReport, SlotRefusal> {
        let path = "\(directory(partition))/optional/\(name)"
        guard ImageManifest.isName(name), FileTree.entry(path)?.kind == .directory else {
            return refuse(.notInstalled, "\(name) is not installed on \(partition)")
        }
        do {
            try Files.rename(path, to: "\(directory(partition))/optional/.removing-\(name)")
            try FileTree.syncDirectory("\(directory(partition))/optional")
            try FileTree.removeTree("\(directory(partition))/optional/.removing-\(name)")
        } catch { return refuse(.storageFailed, "\(error)") }
        counters.removals += 1
        return .success(report(partition))
    }

    /// The optional software installed for the partition.
    package func optionalSoftware(_ partition: String) -> [String] {
        let entries = (try? FileTree.list("\(directory(partition))/optional", limit: 4096)) ?? []
        return entries.filter { $0.kind == .directory && ImageManifest.isName($0.name) }.map(\.name).sorted()
    }

    func refuse(_ code: SlotRefusal.Code, _ detail: String) -> Result<SlotReport, SlotRefusal> {
        .failure(counted(.init(code, detail)))
    }

    /// Counts a refusal (each once, where it is answered).
    func counted(_ refusal: SlotRefusal) -> SlotRefusal {
        counters.refused(refusal.code)
        return refusal
    }

    func report(_ partition: String) -> SlotReport {
        let state = states[partition] ?? SlotState()
        return SlotReport(
            partition: partition, active: state.active, version: state.images[state.active]?.version,
            probation: state.probation)
    }
}
