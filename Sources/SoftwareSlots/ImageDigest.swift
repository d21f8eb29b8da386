import Crypto
import HubSystem

/// One entry of an image's content listing (`Protocols/management.md` §"Images").
package struct ListingEntry: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        case directory
        case file(executable: Bool, size: UInt64, sha256: String)
    }
    package var path: String
    package var kind: Kind

    package init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    /// The entry's line: `D <path>` or `F <x|-> <size> <sha256> <path>`, ending in a line feed.
    package var line: String {
        switch kind {
        case .directory: return "D \(path)\n"
        case .file(let executable, let size, let sha256):
            return "F \(executable ? "x" : "-") \(size) \(sha256) \(path)\n"
        }
    }
}

/// The content digest of a bundle: SHA-256 over its canonical listing.
package enum ImageDigest {
    /// The listing's text: entries sorted by the bytes of their paths, one line each.
    package static func listing(_ entries: [ListingEntry]) -> String {
        entries.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }.map(\.line).joined()
    }

    package static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        hex(SHA256.hash(data: Array(bytes)))
    }

    static func hex(_ digest: SHA256.Digest) -> String { hexBytes(Array(digest)) }

    /// Walks the bundle at `root` within `limits`, without following links; the top-level `manifest.json` is
    /// not part of the content. Symbolic links and special files are refused wherever they point.
    package static func scan(root: String, limits: ImageLimits) -> Result<[ListingEntry], ImageError> {
        var walk = Walk(limits: limits)
        if let error = walk.visit(directory: root, relative: "") { return .failure(error) }
        return .success(walk.entries)
    }

    /// The listing's first lines: the manifest's name, version and launch arguments (each argument's UTF-8
    /// bytes in hex), so the digest binds them to the files: an image is one unit.
    package static func header(name: String, version: UInt64, launch: [String]) -> String {
        "N \(name)\nV \(version)\n" + launch.map { "A \(hexBytes(Array($0.utf8)))\n" }.joined()
    }

    package static func header(_ manifest: ImageManifest) -> String {
        header(name: manifest.name, version: manifest.version, launch: manifest.launch)
    }

    /// The digest of the bundle at `root` under the manifest `header`: the SHA-256 of the header and the listing.
    package static func digest(
        root: String, limits: ImageLimits, header: String
    ) -> Result<(String, [ListingEntry]), ImageError> {
        scan(root: root, limits: limits).map { entries in (sha256Hex((header + listing(entries)).utf8), entries) }
    }

    static func hexBytes(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private struct Walk {
        let limits: ImageLimits
        var entries: [ListingEntry] = []
        var bytes = 0

        init(limits: ImageLimits) { self.limits = limits }

        mutating func visit(directory: String, relative: String) -> ImageError? {
            let children: [FileTree.Entry]
            do { children = try FileTree.list(directory, limit: limits.maxImageFiles + 1) } catch {
                return error.code == FileTree.tooManyEntries
                    ? .init(.tooManyFiles, "more than \(limits.maxImageFiles) entries")
                    : .init(.unreadable, "\(error)")
            }
            for child in children {
                let path = relative.isEmpty ? child.name : "\(relative)/\(child.name)"
                if path == ImageManifest.fileName { continue }
                if let problem = BundlePath.problem(path) { return .init(.pathInvalid, "\(path): \(problem)") }
                guard entries.count < limits.maxImageFiles else {
                    return .init(.tooManyFiles, "more than \(limits.maxImageFiles) entries")
                }
                if let error = add(child, path: path, absolute: "\(directory)/\(child.name)") { return error }
            }
            return nil
        }

        mutating func add(_ child: FileTree.Entry, path: String, absolute: String) -> ImageError? {
            switch child.kind {
            case .directory:
                entries.append(ListingEntry(path: path, kind: .directory))
                return visit(directory: absolute, relative: path)
            case .file:
                bytes += Int(clamping: child.size)
                guard bytes <= limits.maxImageBytes else {
                    return .init(.imageTooLarge, "over \(limits.maxImageBytes) bytes")
                }
                var hasher = SHA256()
                do {
                    try FileTree.readChunks(absolute, limit: Int(clamping: child.size)) { hasher.update(data: $0) }
                } catch {
                    // Swapped for a link or a special file since it was listed.
                    return .init(error.code == FileTree.notRegularFile ? .fileKindRefused : .unreadable, "\(error)")
                }
                entries.append(
                    ListingEntry(
                        path: path,
                        kind: .file(executable: child.executable, size: child.size, sha256: hex(hasher.finalize()))))
                return nil
            case .symlink: return .init(.fileKindRefused, "\(path) is a symbolic link")
            case .other: return .init(.fileKindRefused, "\(path) is not a regular file or directory")
            }
        }
    }
}
