import HubSystem
import JSON

/// The executor API the signed-command layer calls once a command is verified (`Protocols/management.md`
/// §"Images"). Nothing here checks a signature: the caller has, and says whether a downgrade is authorised.
extension SoftwareSlots {
    /// Writes the bundle at `bundle` into the partition's other slot, verifies it against `expectedDigest`
    /// (the digest the signed command carries), switches to it and restarts the partition on probation.
    package func upgrade(
        partition: String, bundle: String, expectedDigest: String, version: UInt64?,
        downgradeAuthorised: Bool = false
    ) -> Result<SlotReport, SlotRefusal> {
        let result = upgradeSteps(partition, bundle, expectedDigest, version, downgradeAuthorised)
        if case .failure(let refusal) = result { counters.refused(refusal.code) }
        return result
    }

    private func upgradeSteps(
        _ partition: String, _ source: String, _ expectedDigest: String, _ version: UInt64?, _ downgrade: Bool
    ) -> Result<SlotReport, SlotRefusal> {
        guard var state = states[partition] else { return .failure(.init(.notManaged, "\(partition) has no slots")) }
        guard !state.probation else { return .failure(.init(.busy, "\(partition) is on probation")) }
        let bundle: String
        switch unpacked(source, partition: partition) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let directory): bundle = directory
        }
        let manifest: ImageManifest
        switch checkedImage(bundle, expectedDigest) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let checked): manifest = checked
        }
        if let version, version != manifest.version {
            return .failure(.init(.versionMismatch, "command says \(version), manifest \(manifest.version)"))
        }
        if let highest = state.highestVersion, manifest.version < highest, !downgrade {
            return .failure(.init(.versionRollback, "version \(manifest.version) is below \(highest)"))
        }
        let target = state.active.other
        do {
            state.writing = target
            try persist(partition, state, point: "upgrade.journaled")
            try write(bundle, into: slotPath(partition, target), manifest: manifest)
            guard verify(partition, target, SlotImage(manifest)) else {
                return .failure(.init(.digestMismatch, "the copy in slot \(target.rawValue) does not match"))
            }
            reach("upgrade.verified")
            state.writing = nil
            state.images[target] = SlotImage(manifest)
            state.previous = state.active
            state.active = target
            state.probation = true
            state.attempts = 0
            try persist(partition, state, point: "upgrade.switched")
        } catch {
            return .failure(.init(.storageFailed, "\(error)"))
        }
        counters.upgradesStarted += 1
        host.publish("software.probation", partition: partition, data: probationData(state))
        restartOnProbation(partition, reason: "upgrade to \(manifest.name) \(manifest.version)")
        reach("upgrade.restarted")
        return .success(report(partition))
    }

    /// Reads the bundle's manifest and digest within the limits; the manifest must carry `expectedDigest`
    /// and the content must match it.
    func checkedImage(_ bundle: String, _ expectedDigest: String) -> Result<ImageManifest, SlotRefusal> {
        let bytes: [UInt8]
        do {
            bytes = try FileTree.read("\(bundle)/\(ImageManifest.fileName)", limit: settings.limits.maxManifestBytes)
        } catch {
            // A link or a special file is refused as it is anywhere in the bundle, before it is read.
            let code: ImageError.Code =
                error.code == FileTree.notRegularFile
                ? .fileKindRefused
                : FileTree.entry("\(bundle)/\(ImageManifest.fileName)") == nil ? .manifestMissing : .manifestTooLarge
            let image = ImageError(code, "\(error)")
            return .failure(.init(.imageInvalid, image.description, image: image))
        }
        let manifest: ImageManifest
        switch ImageManifest.parse(bytes, limits: settings.limits) {
        case .failure(let image): return .failure(.init(.imageInvalid, image.description, image: image))
        case .success(let parsed): manifest = parsed
        }
        guard manifest.digest == expectedDigest else {
            let image = ImageError(.digestMismatch, "manifest digest \(manifest.digest), command \(expectedDigest)")
            return .failure(.init(.digestMismatch, image.detail, image: image))
        }
        switch ImageDigest.digest(root: bundle, limits: settings.limits, header: ImageDigest.header(manifest)) {
        case .failure(let image): return .failure(.init(.imageInvalid, image.description, image: image))
        case .success(let (digest, entries)):
            guard digest == expectedDigest else {
                let image = ImageError(.digestMismatch, "content digest \(digest), expected \(expectedDigest)")
                return .failure(.init(.digestMismatch, image.detail, image: image))
            }
            guard entries.contains(where: { $0.path == manifest.launch[0] && $0.kind != .directory }) else {
                let image = ImageError(.launchMissing, "\(manifest.launch[0]) is not a file of the image")
                return .failure(.init(.imageInvalid, image.description, image: image))
            }
        }
        return .success(manifest)
    }

    /// Copies the bundle into `destination` (emptied first), file by file, each `fsync`ed.
    func write(_ bundle: String, into destination: String, manifest: ImageManifest) throws(SystemError) {
        try FileTree.removeTree(destination)
        try FileTree.makeDirectories(destination)
        reach("upgrade.cleared")
        guard case .success(let entries) = ImageDigest.scan(root: bundle, limits: settings.limits) else {
            throw SystemError("scan \(bundle)", code: 5)
        }
        var copied = 0
        for entry in entries.sorted(by: { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }) {
            let target = "\(destination)/\(entry.path)"
            switch entry.kind {
            case .directory: try FileTree.makeDirectories(target)
            case .file(let executable, let size, _):
                try FileTree.copyFile(
                    "\(bundle)/\(entry.path)", to: target, executable: executable, limit: Int(clamping: size))
                copied += 1
                if copied == 1 { reach("upgrade.copying") }
            }
        }
        try FileTree.copyFile(
            "\(bundle)/\(ImageManifest.fileName)", to: "\(destination)/\(ImageManifest.fileName)", executable: false,
            limit: settings.limits.maxManifestBytes)
        try FileTree.syncDirectory(destination)
        reach("upgrade.copied")
    }

    /// Makes the previous slot active again (a `rollback` command), without probation: it ran before.
    package func rollback(partition: String, reason: String) -> Result<SlotReport, SlotRefusal> {
        guard let state = states[partition] else { return refuse(.notManaged, "\(partition) has no slots") }
        guard let previous = state.previous, previous == .configured || state.images[previous] != nil else {
            return refuse(.noPrevious, "\(partition) has no previous image")
        }
        guard previous == .configured || verify(partition, previous, state.images[previous]) else {
            return refuse(.noPrevious, "the previous image of \(partition) does not match its digest")
        }
        do { try rollBack(partition, reason: reason, automatic: false) } catch {
            return refuse(.storageFailed, "\(error)")
        }
        return .success(report(partition))
    }

    /// Keeps a copy of the active image in `backup/` (replacing the last backup only once the copy is complete).
    package func backup(partition: String) -> Result<SlotReport, SlotRefusal> {
        guard let state = states[partition] else { return refuse(.notManaged, "\(partition) has no slots") }
        guard state.active != .configured, let image = state.images[state.active] else {
            return refuse(.nothingToBackUp, "\(partition) runs its configured command")
        }
        let staging = "\(directory(partition))/backup.incoming"
        let manifest = ImageManifest(
            name: image.name, version: image.version, launch: image.launch, digest: image.digest)
        do {
            try write(slotPath(partition, state.active), into: staging, manifest: manifest)
            try FileTree.removeTree("\(directory(partition))/backup")
            try Files.rename(staging, to: "\(directory(partition))/backup")
            try FileTree.syncDirectory(directory(partition))
        } catch { return refuse(.storageFailed, "\(error)") }
        counters.backups += 1
        return .success(report(partition))
    }

    /// Installs an optional software bundle of the partition under `optional/<name>` after verifying it.
    package func install(partition: String, bundle source: String, expectedDigest: String) -> Result<
        SlotReport, SlotRefusal
    > {
        guard states[partition] != nil else { return refuse(.notManaged, "\(partition) has no slots") }
        let bundle: String
        switch unpacked(source, partition: partition) {
        case .failure(let refusal):
            counters.refused(refusal.code)
            return .failure(refusal)
        case .success(let directory): bundle = directory
        }
        let manifest: ImageManifest
        switch checkedImage(bundle, expectedDigest) {
        case .failure(let refusal):
            counters.refused(refusal.code)
            return .failure(refusal)
        case .success(let checked): manifest = checked
        }
        let optional = "\(directory(partition))/optional"
        let staging = "\(optional)/.incoming-\(manifest.name)"
        do {
            try FileTree.makeDirectories(optional)
            try write(bundle, into: staging, manifest: manifest)
            try FileTree.removeTree("\(optional)/\(manifest.name)")
            try Files.rename(staging, to: "\(optional)/\(manifest.name)")
            try FileTree.syncDirectory(optional)
        } catch { return refuse(.storageFailed, "\(error)") }
        counters.installs += 1
        return .success(report(partition))
    }

    /// Removes the optional software `name` of the partition.
    package func remove(partition: String, name: String) -> Result<SlotReport, SlotRefusal> {
        guard states[partition] != nil else { return refuse(.notManaged, "\(partition) has no slots") }
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
        counters.refused(code)
        return .failure(.init(code, detail))
    }

    func report(_ partition: String) -> SlotReport {
        let state = states[partition] ?? SlotState()
        return SlotReport(
            partition: partition, active: state.active, version: state.images[state.active]?.version,
            probation: state.probation)
    }
}
