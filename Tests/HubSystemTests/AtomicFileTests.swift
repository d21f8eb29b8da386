import Glibc
import Testing

@testable import HubSystem

/// `Files.writeAtomically`, `readWhole` and `FileTree.makeDirectories`, which keep the management plane's trusted
/// state (`Protocols/management.md` §5), against the real file system.
@Suite struct AtomicFileTests {
    /// A fresh path under /tmp for one test, which removes it (`FileTree.removeTree`) when it ends.
    static func scratch() -> String { "/tmp/hubsystem-atomic-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    @Test func replacesWholeAndLeavesNoTemporary() throws {
        let scratch = Self.scratch()
        defer { try? FileTree.removeTree(scratch) }
        let directory = scratch + "/a/b"
        try FileTree.makeDirectories(directory)
        try FileTree.makeDirectories(directory)  // existing directories are kept
        let path = directory + "/state.json"
        #expect(try Files.readWhole(path, limit: 100) == nil)
        try Files.writeAtomically(path, Array("first, longer".utf8))
        try Files.writeAtomically(path, Array("second".utf8))
        #expect(try Files.readWhole(path, limit: 100) == Array("second".utf8))
        #expect(!Files.exists(path + ".tmp"))
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
        #expect(throws: SystemError("read \(path)", code: EFBIG)) { _ = try Files.readWhole(path, limit: 3) }
    }

    /// A destination that cannot be replaced (a directory) is an error, and the temporary file is removed;
    /// the old content is untouched.
    @Test func failedReplacementKeepsTheOld() throws {
        let directory = Self.scratch()
        defer { try? FileTree.removeTree(directory) }
        try FileTree.makeDirectories(directory + "/busy")
        #expect(throws: SystemError.self) { try Files.writeAtomically(directory + "/busy", [1, 2, 3]) }
        #expect(!Files.exists(directory + "/busy.tmp"))
        #expect(Files.exists(directory + "/busy"))
    }

    /// `FileTree.append` (the error logs' appends, `Protocols/errorlog.md` §4.1): each call adds at the end, the
    /// file is created with the permissions given; `syncFile` of a missing file names the operation.
    @Test func appendsAddAtTheEndAndSyncNamesItsFailure() throws {
        let directory = Self.scratch()
        defer { try? FileTree.removeTree(directory) }
        try FileTree.makeDirectories(directory)
        let path = directory + "/linux.log"
        try FileTree.append(path, [1, 2], permissions: 0o600, sync: false)
        try FileTree.append(path, [3], permissions: 0o600, sync: true)
        try FileTree.syncFile(path)
        #expect(try Files.readWhole(path, limit: 100) == [1, 2, 3])
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
        #expect(throws: SystemError("open \(directory)/missing.log", code: ENOENT)) {
            try FileTree.syncFile(directory + "/missing.log")
        }
    }

    /// `AppendOnlyFile` (the management audit log's segments): appends at the end, knows its size, cuts a torn
    /// tail off, and refuses a FIFO (without waiting for a writer) or a symbolic link before opening it.
    @Test func appendOnlyFileAppendsAndRefusesWhatIsNotARegularFile() throws {
        let directory = Self.scratch()
        defer { try? FileTree.removeTree(directory) }
        try FileTree.makeDirectories(directory)
        let path = directory + "/log.jsonl"
        #expect(throws: SystemError.self) { _ = try AppendOnlyFile(path, create: false) }
        let file = try AppendOnlyFile(path, create: true)
        try file.append(Array("one\n".utf8))
        try file.append(Array("two\n".utf8))
        try file.sync()
        #expect(file.size == 8)
        #expect(try Files.readWhole(path, limit: 100) == Array("one\ntwo\n".utf8))
        try file.truncate(to: 4)
        try file.append(Array("three\n".utf8))
        file.close()
        #expect(try Files.readWhole(path, limit: 100) == Array("one\nthree\n".utf8))
        #expect(try AppendOnlyFile(path, create: false).size == 10)
        let fifo = directory + "/fifo.jsonl"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: SystemError("open \(fifo): not a regular file", code: FileTree.notRegularFile)) {
            _ = try AppendOnlyFile(fifo, create: true)
        }
        let link = directory + "/link.jsonl"
        try Files.makeSymlink(link, to: path)
        #expect(throws: SystemError("open \(link): not a regular file", code: FileTree.notRegularFile)) {
            _ = try AppendOnlyFile(link, create: true)
        }
    }

    /// A path a client names (a capture file) is created only as a regular file: a FIFO, whose `open` for writing
    /// waits for a reader and whose writes wait for it to read, a device and a link are refused without waiting.
    @Test func createRegularRefusesWhatIsNotARegularFile() throws {
        let directory = Self.scratch()
        defer { try? FileTree.removeTree(directory) }
        try FileTree.makeDirectories(directory)
        let path = directory + "/capture.pcap"
        try Files.writeAtomically(path, Array("old contents".utf8), permissions: 0o600)
        let fd = try FileTree.createRegular(path, permissions: 0o644)
        #expect(try Descriptors.write(fd, Array("new".utf8)) == 3)
        Descriptors.close(fd)
        #expect(try Files.readWhole(path, limit: 100) == Array("new".utf8))
        let fifo = directory + "/fifo.pcap"
        #expect(mkfifo(fifo, 0o600) == 0)
        // With a reader holding it open a plain open(2) would succeed and the writes would wait for that reader.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        #expect(throws: SystemError("open \(fifo): not a regular file", code: FileTree.notRegularFile)) {
            _ = try FileTree.createRegular(fifo, permissions: 0o644)
        }
        close(reader)
        // Without a reader a plain open(2) would wait for one for ever.
        #expect(throws: SystemError("open \(fifo): not a regular file", code: FileTree.notRegularFile)) {
            _ = try FileTree.createRegular(fifo, permissions: 0o644)
        }
        #expect(throws: SystemError("open /dev/null: not a regular file", code: FileTree.notRegularFile)) {
            _ = try FileTree.createRegular("/dev/null", permissions: 0o644)
        }
        let link = directory + "/link.pcap"
        try Files.makeSymlink(link, to: path)
        #expect(throws: SystemError("open \(link): not a regular file", code: FileTree.notRegularFile)) {
            _ = try FileTree.createRegular(link, permissions: 0o644)
        }
        #expect(try Files.readWhole(path, limit: 100) == Array("new".utf8))
    }
}
