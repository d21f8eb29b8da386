import Glibc

/// A regular file kept open for appending records, each with one `write(2)`: the management audit log's
/// segments (`Protocols/management.md` §5). Opened without following a link and without waiting (a FIFO put in
/// its place is refused, as `FileTree.openRegular` refuses one for reading), and checked to be a regular file
/// on the descriptor itself. A record is never left half written behind the next one: a failed or short write
/// is cut off again (`ftruncate` to the size before it), and if even that fails the next append cuts it first.
package final class AppendOnlyFile {
    package let path: String
    private var fd: Int32
    /// Bytes up to the end of the last whole record.
    package private(set) var size: Int
    /// Set when a failed write could not be cut off: the next append first truncates to `size`.
    private var needsCut = false

    /// Opens `path` for appending; `create` makes it (mode `permissions`) when it does not exist.
    package init(_ path: String, permissions: UInt32 = 0o600, create: Bool) throws(SystemError) {
        self.path = path
        var before = stat()
        // SAFETY: lstat writes one stat into the local for the call.
        if lstat(path, &before) == 0, before.st_mode & S_IFMT != S_IFREG {
            throw SystemError("open \(path): not a regular file", code: FileTree.notRegularFile)
        }
        let flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (create ? O_CREAT : 0)
        let opened = open(path, flags, permissions)
        guard opened >= 0 else {
            let code = errno
            guard code != ELOOP && code != ENXIO else {
                throw SystemError("open \(path): not a regular file", code: FileTree.notRegularFile)
            }
            throw SystemError("open \(path)", code: code)
        }
        var status = stat()
        // SAFETY: fstat writes one stat into the local for the call, about the descriptor just opened.
        guard fstat(opened, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            Descriptors.close(opened)
            throw SystemError("open \(path): not a regular file", code: FileTree.notRegularFile)
        }
        fd = opened
        size = Int(status.st_size)
    }

    deinit { Descriptors.close(fd) }

    /// Appends `bytes` with one `write(2)`; on failure (a short write: the disk is full) nothing of them stays.
    package func append(_ bytes: [UInt8]) throws(SystemError) {
        guard fd >= 0 else { throw SystemError("write \(path): closed", code: EBADF) }
        if needsCut {
            guard ftruncate(fd, off_t(size)) == 0 else { throw .last("ftruncate \(path)") }
            needsCut = false
        }
        let written: Int
        do { written = try Descriptors.write(fd, bytes) } catch {
            cut()
            throw SystemError("write \(path)", code: error.code)
        }
        guard written == bytes.count else {
            cut()
            throw SystemError("write \(path)", code: ENOSPC)
        }
        size += written
    }

    private func cut() {
        needsCut = ftruncate(fd, off_t(size)) != 0
    }

    /// Cuts the file to `length` bytes (a torn last record found when it was read) and `fsync`s it.
    package func truncate(to length: Int) throws(SystemError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw .last("ftruncate \(path)") }
        size = length
        try sync()
    }

    /// `fsync`: every record appended so far survives the machine's crash, not only the hub's.
    package func sync() throws(SystemError) {
        guard fsync(fd) == 0 else { throw .last("fsync \(path)") }
    }

    package func close() {
        Descriptors.close(fd)
        fd = -1
    }
}
