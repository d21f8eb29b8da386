import Glibc
import Testing

@testable import HubSystem

/// `RotatingLogFile`, a launched guest's bounded `logFile` (`Deploy/config-reference.md`,
/// partitions[].launch.logFileMaxBytes): rotated once to `.1`, never past its bound, the newest output kept.
@Suite struct RotatingLogFileTests {
    /// A new directory under /tmp for one test, which removes it (`FileTree.removeTree`) when it ends.
    static func scratch() -> String {
        let directory = "/tmp/hubsystem-rotating-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileTree.makeDirectories(directory)
        return directory
    }

    static func read(_ path: String) -> String {
        (try? Files.readWhole(path, limit: 1 << 20)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    @Test func rotatesOnceAtTheBoundAndKeepsTheNewest() throws {
        let directory = Self.scratch()
        defer { try? FileTree.removeTree(directory) }
        let path = directory + "/guest.log"
        try Files.writeAtomically(path, Array("old.\n".utf8), permissions: 0o640)
        let file = try RotatingLogFile(path: path, maxBytes: 100)
        #expect(file.bytes == 5)  // what was there counts
        for n in 0..<100 { file.write(Array("line \(String(n + 1000))\n".utf8)[...]) }  // 10 bytes a line
        #expect(file.rotations >= 9 && file.lastError == nil)
        let current = Self.read(path)
        let previous = Self.read(path + ".1")
        #expect(current.utf8.count <= 100 && previous.utf8.count <= 100)
        #expect(current.hasSuffix("line 1099\n"), "\(current)")
        // `.1` is the file before, whole: the lines just before the current file's first.
        let lines = (previous + current).split(separator: "\n")
        #expect(lines == (1100 - lines.count..<1100).map { "line \($0)"[...] }, "\(lines)")
        #expect(file.bytes == current.utf8.count)
    }

    @Test func oneWriteLongerThanTheBoundKeepsItsEnd() throws {
        let directory = Self.scratch()
        defer { try? FileTree.removeTree(directory) }
        let path = directory + "/guest.log"
        let file = try RotatingLogFile(path: path, maxBytes: 8)
        file.write(Array("abc".utf8)[...])
        file.write(Array("0123456789".utf8)[...])
        #expect(Self.read(path) == "23456789" && Self.read(path + ".1") == "abc")
        #expect(file.rotations == 1 && file.bytes == 8)
    }
}
