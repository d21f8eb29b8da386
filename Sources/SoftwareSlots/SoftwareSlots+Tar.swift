import HubSystem

// Image bundles shipped as one ustar file (`Protocols/management.md` §"Images", tar bundles) are unpacked by
// `SlotFiles.unpacked` into the partition's `incoming/` directory through `TarReader`'s checks, then handled as a
// directory bundle (its digest checked, then copied into the slot), so a tar and a directory with the same content
// are the same image.

/// Writes what `TarReader` yields under `root` (every path already a checked bundle path; parents are
/// created as directories, so nothing is written through a link).
package struct TarWriter {
    let root: String
    private var fd: Int32 = -1

    init(root: String) { self.root = root }

    /// Unpacks the ustar file at `path` into the empty directory `target`; the refusal, or nil once done.
    package static func unpack(_ path: String, into target: String, limits: ImageLimits) throws(SystemError)
        -> ImageError?
    {
        var writer = TarWriter(root: target)
        defer { writer.close() }
        var reader = TarReader(limits: limits)
        var failure: ImageError?
        try FileTree.readChunks(path, limit: Int.max) { chunk in
            guard failure == nil else { return }
            do throws(ImageError) {
                try reader.feed(chunk) { event throws(ImageError) in try writer.apply(event) }
            } catch { failure = error }
        }
        if failure == nil {
            do throws(ImageError) { try reader.finish() } catch { failure = error }
        }
        return failure
    }

    mutating func apply(_ event: TarReader.Event) throws(ImageError) {
        do {
            switch event {
            case .directory(let path): try FileTree.makeDirectories("\(root)/\(path)")
            case .file(let path, _, let executable):
                try FileTree.makeDirectories(FileTree.parent(of: "\(root)/\(path)"))
                fd = try Files.openForWriting("\(root)/\(path)", .truncate(permissions: executable ? 0o750 : 0o640))
            case .data(let bytes): try Descriptors.writeAll(fd, Array(bytes))
            case .fileEnd: close()
            }
        } catch { throw ImageError(.unreadable, "\(error)") }
    }

    mutating func close() {
        if fd >= 0 { Descriptors.close(fd) }
        fd = -1
    }
}
