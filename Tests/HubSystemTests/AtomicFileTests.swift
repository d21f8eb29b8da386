import Glibc
import Testing

@testable import HubSystem

/// `Files.writeAtomically`, `readWhole` and `FileTree.makeDirectories`, which keep the management plane's trusted
/// state (`Protocols/management.md` §5), against the real file system.
@Suite struct AtomicFileTests {
    static func scratch() -> String { "/tmp/hubsystem-atomic-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    @Test func replacesWholeAndLeavesNoTemporary() throws {
        let directory = Self.scratch() + "/a/b"
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
        try FileTree.makeDirectories(directory + "/busy")
        #expect(throws: SystemError.self) { try Files.writeAtomically(directory + "/busy", [1, 2, 3]) }
        #expect(!Files.exists(directory + "/busy.tmp"))
        #expect(Files.exists(directory + "/busy"))
    }

    /// `FileTree.append` (the error logs' appends, `Protocols/errorlog.md` §4.1): each call adds at the end, the
    /// file is created with the permissions given; `syncFile` of a missing file names the operation.
    @Test func appendsAddAtTheEndAndSyncNamesItsFailure() throws {
        let directory = Self.scratch()
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
}
