import Glibc

/// A launched guest's `logFile` (`Deploy/config-reference.md`, partitions[].launch.logFile), bounded: output is
/// appended until the next write would take the file past `maxBytes`; then the file is renamed to `PATH.1`
/// (replacing an older one) and a new, empty `PATH` is begun. So the guest's output takes at most twice
/// `maxBytes` on disk, and the newest of it is always at the end of `PATH`. One write longer than `maxBytes`
/// keeps only its last `maxBytes`. Blocking file calls, made as the guest's output is read.
package final class RotatingLogFile {
    package let path: String
    package let maxBytes: Int
    /// Bytes in the current file (what it held when opened, then what was written).
    package private(set) var bytes = 0
    /// Times the file was rotated to `PATH.1` since the hub opened it.
    package private(set) var rotations: UInt64 = 0
    /// The last write, rename or open that failed, as the operation and errno's wording; nil when none has.
    package private(set) var lastError: SystemError?
    private var fd: Int32
    private let permissions: UInt32

    /// Opens (creates) `path` for appending; a file already there counts towards `maxBytes` from its size.
    package init(path: String, maxBytes: Int, permissions: UInt32 = 0o640) throws(SystemError) {
        self.path = path
        self.maxBytes = max(1, maxBytes)
        fd = try Files.openForWriting(path, .append(permissions: permissions))
        let end = lseek(fd, 0, SEEK_END)
        bytes = end > 0 ? Int(end) : 0
        self.permissions = permissions
    }

    deinit { Descriptors.close(fd) }

    /// Appends `output`, rotating first when it would not fit below `maxBytes`.
    package func write(_ output: ArraySlice<UInt8>) {
        guard !output.isEmpty else { return }
        let kept = output.count > maxBytes ? output.suffix(maxBytes) : output
        if bytes + kept.count > maxBytes && bytes > 0 { rotate() }
        guard fd >= 0 else { return }
        var offset = kept.startIndex
        while offset < kept.endIndex {
            do {
                let written = try Descriptors.write(fd, kept[offset...])
                guard written > 0 else { break }
                offset += written
                bytes += written
            } catch {
                lastError = error
                return
            }
        }
    }

    /// `PATH` → `PATH.1`, then a new `PATH`. Should the rename fail, `PATH` is emptied in place instead, so
    /// the bound holds either way.
    private func rotate() {
        Descriptors.close(fd)
        fd = -1
        rotations += 1
        var mode = Files.WriteMode.append(permissions: permissions)
        do {
            try Files.rename(path, to: path + ".1")
        } catch {
            lastError = error
            mode = .truncate(permissions: permissions)
        }
        do {
            fd = try Files.openForWriting(path, mode)
            bytes = 0
        } catch {
            lastError = error
        }
    }
}
