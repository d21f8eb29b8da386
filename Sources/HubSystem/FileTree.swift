import Glibc

/// The directory-tree calls of the software slots (`Protocols/management.md` §"Images"): listing a bundle
/// without following links, reading files in bounded chunks, copying, removing trees, and the one durable
/// write the slot journal relies on (temporary file, `fsync`, `rename`, `fsync` of the directory). Blocking;
/// made on a management request or at start, never per frame.
package enum FileTree {
    /// What `lstat` says a path is.
    package enum Kind: Equatable, Sendable {
        case file, directory, symlink, other
    }

    /// One directory entry, not followed.
    package struct Entry: Equatable, Sendable {
        package var name: String
        package var kind: Kind
        package var size: UInt64
        /// Whether the owner may execute it (kept when a file is copied into a slot).
        package var executable: Bool
    }

    /// The error code of `list` when a directory holds more entries than its limit.
    package static let tooManyEntries = E2BIG
    /// The error code of `read`, `readChunks` and `copyFile` when the path is a symbolic link or anything but a
    /// regular file (a FIFO, device, socket or directory): refused before a byte is read, so no such file can
    /// hold the caller (a FIFO without a writer would block `open` and `read` for as long as it has none).
    /// `EINVAL`: Linux has no errno of its own for a wrong kind of file, and `open` and `read` give `EINVAL` for
    /// none of the regular files read here.
    package static let notRegularFile = EINVAL

    /// `lstat(2)` of `path`; nil when it does not exist.
    package static func entry(_ path: String) -> Entry? {
        var status = stat()
        // SAFETY: lstat writes one stat into the local for the call.
        guard lstat(path, &status) == 0 else { return nil }
        let kind: Kind
        switch status.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return Entry(
            name: name, kind: kind, size: UInt64(max(0, status.st_size)), executable: status.st_mode & S_IXUSR != 0)
    }

    /// The entries of a directory (without `.` and `..`), at most `limit` of them: a directory with more is
    /// refused with `E2BIG` rather than read whole.
    package static func list(_ path: String, limit: Int) throws(SystemError) -> [Entry] {
        guard let directory = opendir(path) else { throw .last("opendir \(path)") }
        defer { closedir(directory) }
        var names: [String] = []
        while let item = readdir(directory) {
            // SAFETY: d_name is a NUL-terminated array inside the dirent readdir returned, valid until the next call.
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            guard names.count < limit else { throw SystemError("list \(path)", code: E2BIG) }
            names.append(name)
        }
        return names.compactMap { entry("\(path)/\($0)") }
    }

    /// Reads a whole file of at most `limit` bytes; a longer one is refused with `EFBIG`.
    package static func read(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        var bytes: [UInt8] = []
        try readChunks(path, limit: limit) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Reads a regular file in chunks of up to 64 KiB, handing each to `body`; a file over `limit` bytes is
    /// refused with `EFBIG` as soon as the limit is passed, a link or any other kind of file with
    /// `notRegularFile`.
    package static func readChunks(
        _ path: String, limit: Int, _ body: (ArraySlice<UInt8>) -> Void
    ) throws(SystemError) {
        let fd = try openRegular(path)
        defer { Descriptors.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var total = 0
        while true {
            let count = try Descriptors.read(fd, into: &buffer)
            if count == 0 { return }
            total += count
            guard total <= limit else { throw SystemError("read \(path)", code: EFBIG) }
            body(buffer[..<count])
        }
    }

    /// Opens `path` for reading only if it is a regular file. `O_NONBLOCK` keeps `open` from waiting for a FIFO's
    /// writer, `O_NOFOLLOW` refuses a link; the kind is then read from the descriptor itself (`fstat`), so a
    /// file swapped after an earlier `lstat` is still caught. Reads of a regular file never block, with or
    /// without `O_NONBLOCK`.
    static func openRegular(_ path: String) throws(SystemError) -> Int32 {
        try openRegular(path, flags: O_RDONLY, permissions: 0)
    }

    /// Creates or empties `path` for writing, only as a regular file, as ``openRegular(_:)`` opens one for
    /// reading: a path a client names (a capture file) could be a FIFO, whose `open` would wait for a reader and
    /// whose writes wait for it to read, or a device. Writes to a regular file never wait for a peer.
    package static func createRegular(_ path: String, permissions: UInt32) throws(SystemError) -> Int32 {
        try openRegular(path, flags: O_WRONLY | O_CREAT | O_TRUNC, permissions: permissions)
    }

    private static func openRegular(_ path: String, flags: Int32, permissions: UInt32) throws(SystemError) -> Int32 {
        // Checked before opening too: opening a device node runs its driver's open, and a socket cannot be opened.
        var before = stat()
        // SAFETY: lstat writes one stat into the local for the call.
        if lstat(path, &before) == 0, before.st_mode & S_IFMT != S_IFREG {
            throw SystemError("open \(path): not a regular file", code: notRegularFile)
        }
        let fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, permissions)
        guard fd >= 0 else {
            // O_NOFOLLOW answers ELOOP when the last component is a link; a socket put there since answers ENXIO,
            // as does a FIFO opened for writing that has no reader.
            let code = errno
            guard code != ELOOP && code != ENXIO else {
                throw SystemError("open \(path): not a regular file", code: notRegularFile)
            }
            throw SystemError("open \(path)", code: code)
        }
        var status = stat()
        // SAFETY: fstat writes one stat into the local for the call, about the descriptor just opened.
        guard fstat(fd, &status) == 0 else {
            let error = SystemError.last("fstat \(path)")
            Descriptors.close(fd)
            throw error
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            Descriptors.close(fd)
            throw SystemError("open \(path): not a regular file", code: notRegularFile)
        }
        return fd
    }

    /// Creates (or empties) `path`, writes all of `bytes` and `fsync`s it.
    package static func writeDurably(_ path: String, _ bytes: [UInt8], permissions: UInt32) throws(SystemError) {
        let fd = try Files.openForWriting(path, .truncate(permissions: permissions))
        defer { Descriptors.close(fd) }
        try Descriptors.writeAll(fd, bytes)
        guard fsync(fd) == 0 else { throw .last("fsync \(path)") }
    }

    /// Appends all of `bytes` at the end of `path` (created if needed) with one `write(2)`, then `fsync`s it when
    /// `sync`: a log's append (`Protocols/errorlog.md` §4.1). Once written the bytes survive the hub's own crash
    /// (they are the kernel's); `fsync` makes them survive the machine's. A crash in the middle leaves at most a
    /// torn last record, which the log's reader skips.
    package static func append(_ path: String, _ bytes: [UInt8], permissions: UInt32, sync: Bool) throws(SystemError) {
        let fd = try Files.openForWriting(path, .append(permissions: permissions))
        defer { Descriptors.close(fd) }
        try Descriptors.writeAll(fd, bytes)
        if sync { guard fsync(fd) == 0 else { throw .last("fsync \(path)") } }
    }

    /// `fsync` of an existing file (what earlier appends without `sync` wrote).
    package static func syncFile(_ path: String) throws(SystemError) {
        let fd = try Files.openForWriting(path, .existing)
        defer { Descriptors.close(fd) }
        guard fsync(fd) == 0 else { throw .last("fsync \(path)") }
    }

    /// Copies a regular file (not following a link at `source`), owner-executable if `executable`, and
    /// `fsync`s the copy; at most `limit` bytes.
    package static func copyFile(
        _ source: String, to destination: String, executable: Bool, limit: Int
    ) throws(SystemError) {
        let fd = try Files.openForWriting(destination, .truncate(permissions: executable ? 0o750 : 0o640))
        defer { Descriptors.close(fd) }
        var failure: SystemError?
        try readChunks(source, limit: limit) { chunk in
            guard failure == nil else { return }
            do throws(SystemError) { try Descriptors.writeAll(fd, Array(chunk)) } catch { failure = error }
        }
        if let failure { throw failure }
        guard fsync(fd) == 0 else { throw .last("fsync \(destination)") }
    }

    /// `fsync` of a directory, so the names created or renamed in it are durable.
    package static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open \(path)") }
        defer { Descriptors.close(fd) }
        guard fsync(fd) == 0 else { throw .last("fsync \(path)") }
    }

    /// Creates `path` and its missing parents with `permissions` (existing directories are kept as they are).
    package static func makeDirectories(_ path: String, permissions: UInt32 = 0o750) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/\(part)"
            if entry(prefix)?.kind == .directory { continue }
            guard mkdir(prefix, permissions) == 0 || errno == EEXIST else { throw .last("mkdir \(prefix)") }
        }
    }

    /// Removes `path` and everything under it without following links; a missing path is not an error.
    package static func removeTree(_ path: String) throws(SystemError) {
        guard let found = entry(path) else { return }
        if found.kind == .directory {
            for child in try list(path, limit: Int.max) { try removeTree("\(path)/\(child.name)") }
            guard rmdir(path) == 0 else { throw .last("rmdir \(path)") }
        } else {
            guard unlink(path) == 0 || errno == ENOENT else { throw .last("unlink \(path)") }
        }
    }

    /// The directory part of `path` (`.` when it has none).
    package static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Ends this process at once with SIGKILL: the crash-safety tests' named kill points
    /// (`Protocols/management.md` §"Images", test hooks). Never returns.
    package static func killSelfForTest() -> Never {
        _ = Glibc.kill(getpid(), SIGKILL)
        fatalError("SIGKILL did not end the process")
    }
}
