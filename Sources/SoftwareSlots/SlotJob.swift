import HubSystem

/// A software operation as the signed-command layer (and the test hook) asks for it (`Protocols/management.md`
/// §"Images", operations).
package enum SlotRequest: Sendable, Equatable {
    case upgrade(bundle: String, digest: String, version: UInt64?, downgrade: Bool)
    case rollback(reason: String)
    case backup
    case install(bundle: String, digest: String)
    case remove(name: String)
}

/// Runs a job's file work where it may block and calls `done` with its outcome on the engine's thread (the hub:
/// libuv's thread pool, then the loop, through `EventLoop.LoopWork`). `SoftwareSlots` never imports the loop.
package protocol SlotWorkRunner: AnyObject {
    func run(_ job: SlotJob, done: @escaping (SlotJob.Outcome) -> Void)
}

/// How `SoftwareSlots.start` answers: at once (a refusal, or an operation with no long file work), or with the
/// file work to run before `finish`.
package enum SlotStart {
    case done(Result<SlotReport, SlotRefusal>)
    case work(SlotJob)
}

/// The long half of a software operation: reading and digesting the bundle, copying it, digesting the copy
/// (`Protocols/management.md` §"Images"). Built on the engine's thread by `SoftwareSlots.start` from a snapshot
/// of the partition's state; `run()` touches nothing but the files and these `Sendable` values, so it may run on
/// any thread; its `Outcome` goes back to `SoftwareSlots.finish` on the engine's thread, which makes the switch.
/// Why a worker and not chunks on the loop: the digest and the copy are a walk over files with the slot's
/// limits and kill points at fixed places; cut into pieces per pass they would need their state (open
/// descriptors, the hasher, the walk's position) kept between passes and every error path resumed, while on a
/// worker the same straight-line code runs and only its result crosses back.
package struct SlotJob: Sendable {
    package let partition: String
    let task: Task
    let files: SlotFiles

    enum Task: Sendable {
        /// `state`: the partition's state when the job started (no probation: `start` refused that).
        case upgrade(source: String, digest: String, version: UInt64?, downgrade: Bool, state: SlotState)
        /// Digest check of the slot a rollback returns to.
        case rollbackCheck(reason: String, slot: SlotName, image: SlotImage)
        /// Copy of the active slot into `backup/`.
        case backup(slot: SlotName, image: SlotImage)
        case install(source: String, digest: String)
    }

    /// What the file work found or did.
    package struct Outcome: Sendable {
        package let partition: String
        let result: Result<Done, SlotRefusal>
        /// The journal the work wrote (an upgrade's `writing`), which the engine's state takes over.
        let journaled: SlotState?
    }

    enum Done: Sendable {
        case upgraded(ImageManifest, SlotName)
        case rollbackChecked(reason: String, slot: SlotName, image: SlotImage, matches: Bool)
        case backedUp
        case installed
    }

    /// Runs the file work on the calling thread: blocking, up to the image limits' worth of reads and writes.
    package func run() -> Outcome {
        switch task {
        case .upgrade(let source, let digest, let version, let downgrade, let state):
            return upgrade(source, digest, version, downgrade, state)
        case .rollbackCheck(let reason, let slot, let image):
            let matches = files.verify(partition, slot, image)
            return outcome(.success(.rollbackChecked(reason: reason, slot: slot, image: image, matches: matches)))
        case .backup(let slot, let image):
            return outcome(backup(slot, image))
        case .install(let source, let digest):
            return outcome(install(source, digest))
        }
    }

    private func outcome(_ result: Result<Done, SlotRefusal>, journaled: SlotState? = nil) -> Outcome {
        Outcome(partition: partition, result: result, journaled: journaled)
    }

    /// Checks the image, journals the slot it writes, copies it there and checks the copy: everything of an
    /// upgrade but the switch.
    private func upgrade(
        _ source: String, _ digest: String, _ version: UInt64?, _ downgrade: Bool, _ before: SlotState
    ) -> Outcome {
        let bundle: String
        switch files.unpacked(source, partition: partition) {
        case .failure(let refusal): return outcome(.failure(refusal))
        case .success(let directory): bundle = directory
        }
        let manifest: ImageManifest
        let entries: [ListingEntry]
        switch files.checkedImage(bundle, digest) {
        case .failure(let refusal): return outcome(.failure(refusal))
        case .success(let checked): (manifest, entries) = checked
        }
        if let version, version != manifest.version {
            return outcome(.failure(.init(.versionMismatch, "command says \(version), manifest \(manifest.version)")))
        }
        if let highest = before.highestVersion, manifest.version < highest, !downgrade {
            return outcome(.failure(.init(.versionRollback, "version \(manifest.version) is below \(highest)")))
        }
        let target = before.active.other
        var state = before
        state.writing = target
        do {
            try files.writeJournal(partition, state, point: "upgrade.journaled")
        } catch {
            return outcome(.failure(.init(.storageFailed, "\(error)")))
        }
        files.reach("upgrade.journaled")
        do {
            try files.write(bundle, into: files.slotPath(partition, target), manifest: manifest, entries: entries)
        } catch {
            return outcome(.failure(.init(.storageFailed, "\(error)")), journaled: state)
        }
        guard files.verify(partition, target, SlotImage(manifest)) else {
            let refusal = SlotRefusal(.digestMismatch, "the copy in slot \(target.rawValue) does not match")
            return outcome(.failure(refusal), journaled: state)
        }
        files.reach("upgrade.verified")
        return outcome(.success(.upgraded(manifest, target)), journaled: state)
    }

    /// Copies the active image into `backup/`, replacing the last backup only once the copy is complete.
    private func backup(_ slot: SlotName, _ image: SlotImage) -> Result<Done, SlotRefusal> {
        let directory = files.directory(partition)
        let staging = "\(directory)/backup.incoming"
        let manifest = ImageManifest(
            name: image.name, version: image.version, launch: image.launch, digest: image.digest)
        do {
            try files.write(files.slotPath(partition, slot), into: staging, manifest: manifest)
            try FileTree.removeTree("\(directory)/backup")
            try Files.rename(staging, to: "\(directory)/backup")
            try FileTree.syncDirectory(directory)
        } catch { return .failure(.init(.storageFailed, "\(error)")) }
        return .success(.backedUp)
    }

    /// Checks an optional bundle and installs it under `optional/<name>` (staged, then renamed).
    private func install(_ source: String, _ digest: String) -> Result<Done, SlotRefusal> {
        let bundle: String
        switch files.unpacked(source, partition: partition) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let directory): bundle = directory
        }
        let manifest: ImageManifest
        let entries: [ListingEntry]
        switch files.checkedImage(bundle, digest) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let checked): (manifest, entries) = checked
        }
        let optional = "\(files.directory(partition))/optional"
        let staging = "\(optional)/.incoming-\(manifest.name)"
        do {
            try FileTree.makeDirectories(optional)
            try files.write(bundle, into: staging, manifest: manifest, entries: entries)
            try FileTree.removeTree("\(optional)/\(manifest.name)")
            try Files.rename(staging, to: "\(optional)/\(manifest.name)")
            try FileTree.syncDirectory(optional)
        } catch { return .failure(.init(.storageFailed, "\(error)")) }
        return .success(.installed)
    }
}
