import Glibc

/// The few file-system calls the hub makes outside the loop: small control files (`/sys`, cgroups), the
/// ready file, log and capture files, the PTY's symlink. All are blocking and made at start or on a control
/// request, never per frame.
package enum Files {
    /// How a file is opened for writing.
    package enum WriteMode {
        /// An existing file only (`/sys` and cgroup control files).
        case existing
        /// Created if needed and emptied (`O_CREAT | O_TRUNC`).
        case truncate(permissions: UInt32)
        /// Created if needed, every write at its end (`O_CREAT | O_APPEND`).
        case append(permissions: UInt32)
    }

    /// Opens `path` for writing, close-on-exec; the caller closes the descriptor (`Descriptors.close`).
    package static func openForWriting(_ path: String, _ mode: WriteMode) throws(SystemError) -> Int32 {
        let fd: Int32
        switch mode {
        case .existing: fd = open(path, O_WRONLY | O_CLOEXEC)
        case .truncate(let permissions): fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions)
        case .append(let permissions): fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, permissions)
        }
        guard fd >= 0 else { throw .last("open \(path)") }
        return fd
    }

    /// Opens `path` read-only, close-on-exec (a memfd reopened through `/proc/self/fd`, a counter file).
    package static func openForReading(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open \(path)") }
        return fd
    }

    /// The first `limit` bytes of a small file, read with one `read(2)`.
    package static func readSmall(_ path: String, limit: Int = 4096) throws(SystemError) -> [UInt8] {
        let fd = try openForReading(path)
        defer { Descriptors.close(fd) }
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = try Descriptors.read(fd, into: &buffer)
        return Array(buffer[..<count])
    }

    /// Writes `text` to an existing file in one `write(2)` (a cgroup or `/sys` control file, where each write
    /// is one command); fails unless all of it was taken.
    package static func writeControl(_ path: String, _ text: String) throws(SystemError) {
        let fd = try openForWriting(path, .existing)
        defer { Descriptors.close(fd) }
        let bytes = Array(text.utf8)
        let written = try Descriptors.write(fd, bytes)
        guard written == bytes.count else { throw SystemError("write \(path)", code: EIO) }
    }

    /// `mkdir(2)`; an existing directory is an error with `EEXIST`.
    package static func makeDirectory(_ path: String, permissions: UInt32 = 0o755) throws(SystemError) {
        guard mkdir(path, permissions) == 0 else { throw .last("mkdir \(path)") }
    }

    /// Whether `path` is a symbolic link (not followed); false when it does not exist.
    package static func isSymlink(_ path: String) -> Bool {
        var status = stat()
        // SAFETY: lstat writes one stat into the local for the call.
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK
    }

    /// Whether anything exists at `path` (not following a final symbolic link).
    package static func exists(_ path: String) -> Bool {
        var status = stat()
        // SAFETY: lstat writes one stat into the local for the call.
        return lstat(path, &status) == 0
    }

    /// Creates the symbolic link `path` pointing at `target`.
    package static func makeSymlink(_ path: String, to target: String) throws(SystemError) {
        guard symlink(target, path) == 0 else { throw .last("symlink \(path) -> \(target)") }
    }

    /// Removes `path` (a file or link); errors are ignored, as every caller cleans up best-effort.
    package static func remove(_ path: String) { _ = unlink(path) }

    /// `rename(2)`: atomically replaces `destination`.
    package static func rename(_ source: String, to destination: String) throws(SystemError) {
        guard Glibc.rename(source, destination) == 0 else { throw .last("rename \(source)") }
    }
}

extension Files {
    /// Opens a terminal device read-write without making it the controlling terminal, close-on-exec.
    package static func openTerminal(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open \(path)") }
        return fd
    }
}

extension Files {
    /// Replaces `path` with `bytes` so that a crash at any point leaves either the old or the new content, never
    /// a mix (`Protocols/management.md` §5): write a temporary file beside it, `fsync` it, rename it over
    /// `path`, then `fsync` the directory so the rename itself is durable. A failed step removes the temporary.
    package static func writeAtomically(_ path: String, _ bytes: [UInt8], permissions: UInt32 = 0o600)
        throws(SystemError)
    {
        let temporary = path + ".tmp"
        do throws(SystemError) {
            try FileTree.writeDurably(temporary, bytes, permissions: permissions)
            try rename(temporary, to: path)
        } catch {
            remove(temporary)
            throw error
        }
        try FileTree.syncDirectory(FileTree.parent(of: path))
    }

    /// The whole of a file of at most `limit` bytes; a longer file is an error (`EFBIG`) rather than a silently
    /// cut one. Nil when the file does not exist.
    package static func readWhole(_ path: String, limit: Int) throws(SystemError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .last("open \(path)")
        }
        defer { Descriptors.close(fd) }
        var content: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = try Descriptors.read(fd, into: &buffer)
            if count == 0 { return content }
            content += buffer[..<count]
            guard content.count <= limit else { throw SystemError("read \(path)", code: EFBIG) }
        }
    }
}
