import HubSystem
import JSON

/// The software slots' file work, with nothing but `Sendable` values: the state directory's software root, the
/// image limits and the test kill point. Everything here may block for as long as an image takes to read, digest
/// and copy (`maxImageBytes`), so the hub runs it off its loop (`SlotJob`); it never touches `SoftwareSlots`'
/// state, which only the engine's thread changes.
package struct SlotFiles: Sendable {
    let root: String
    let limits: ImageLimits
    /// A named point at which the process kills itself (tests only: `Protocols/management.md` §"Test hooks").
    let killPoint: String?

    func directory(_ partition: String) -> String { "\(root)/\(partition)" }
    func slotPath(_ partition: String, _ slot: SlotName) -> String { "\(directory(partition))/slot-\(slot.rawValue)" }

    func reach(_ point: String) {
        if point == killPoint { FileTree.killSelfForTest() }
    }

    /// Writes the partition's journal durably (temporary file, fsync, rename, fsync of the directory), with the
    /// kill points on either side of the rename. The caller keeps its in-memory state equal to what was written.
    func writeJournal(_ partition: String, _ state: SlotState, point: String) throws(SystemError) {
        let path = "\(directory(partition))/slots.json"
        try FileTree.writeDurably("\(path).tmp", state.journalJSON.serializedBytes(), permissions: 0o640)
        reach("\(point).temporaryWritten")
        try Files.rename("\(path).tmp", to: path)
        try FileTree.syncDirectory(directory(partition))
    }

    /// Whether the slot's content matches the digest recorded for it.
    func verify(_ partition: String, _ slot: SlotName, _ image: SlotImage?) -> Bool {
        guard let image else { return false }
        guard
            case .success(let (digest, _)) = ImageDigest.digest(
                root: slotPath(partition, slot), limits: limits,
                header: ImageDigest.header(name: image.name, version: image.version, launch: image.launch))
        else { return false }
        return digest == image.digest
    }

    /// Reads the bundle's manifest and digest within the limits; the manifest must carry `expectedDigest` and the
    /// content must match it. Answers the manifest and the bundle's entries as read.
    func checkedImage(_ bundle: String, _ expectedDigest: String) -> Result<
        (ImageManifest, [ListingEntry]), SlotRefusal
    > {
        let bytes: [UInt8]
        do {
            bytes = try FileTree.read("\(bundle)/\(ImageManifest.fileName)", limit: limits.maxManifestBytes)
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
        switch ImageManifest.parse(bytes, limits: limits) {
        case .failure(let image): return .failure(.init(.imageInvalid, image.description, image: image))
        case .success(let parsed): manifest = parsed
        }
        guard manifest.digest == expectedDigest else {
            let image = ImageError(.digestMismatch, "manifest digest \(manifest.digest), command \(expectedDigest)")
            return .failure(.init(.digestMismatch, image.detail, image: image))
        }
        switch ImageDigest.digest(root: bundle, limits: limits, header: ImageDigest.header(manifest)) {
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
            return .success((manifest, entries))
        }
    }

    /// Copies the bundle into `destination` (emptied first), file by file, each `fsync`ed. `entries`: the
    /// bundle's entries as `checkedImage` read them (nil: walk it again). Whatever changed in the bundle since is
    /// caught by the digest of the copy, which the caller checks.
    func write(
        _ bundle: String, into destination: String, manifest: ImageManifest, entries known: [ListingEntry]? = nil
    ) throws(SystemError) {
        try FileTree.removeTree(destination)
        try FileTree.makeDirectories(destination)
        reach("upgrade.cleared")
        let entries: [ListingEntry]
        if let known {
            entries = known
        } else {
            guard case .success(let scanned) = ImageDigest.scan(root: bundle, limits: limits) else {
                throw SystemError("scan \(bundle)", code: 5)
            }
            entries = scanned
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
            limit: limits.maxManifestBytes)
        try FileTree.syncDirectory(destination)
        reach("upgrade.copied")
    }

    /// The directory to read an image from: `bundle` itself, or where the tar file `bundle` was unpacked
    /// (the partition's `incoming/`).
    func unpacked(_ bundle: String, partition: String) -> Result<String, SlotRefusal> {
        guard FileTree.entry(bundle)?.kind == .file else { return .success(bundle) }
        let target = "\(directory(partition))/incoming"
        let failure: ImageError?
        do {
            try FileTree.removeTree(target)
            try FileTree.makeDirectories(target)
            failure = try TarWriter.unpack(bundle, into: target, limits: limits)
        } catch { return .failure(.init(.storageFailed, "\(error)")) }
        if let failure { return .failure(.init(.imageInvalid, failure.description, image: failure)) }
        return .success(target)
    }
}
