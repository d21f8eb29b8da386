import Glibc

/// Reads, writes and closes of raw descriptors the loop does not own (a tap, a capture file, a memfd on its
/// way to a guest). A descriptor stays an `Int32`, the type `EventLoop` and the guest protocol code use.
package enum Descriptors {
    /// Closes `fd` if it is one (negative values are ignored). A close is not retried on EINTR: on Linux the
    /// descriptor is released whatever the result.
    package static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// A close-on-exec duplicate of `fd`.
    package static func duplicate(_ fd: Int32) throws(SystemError) -> Int32 {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw .last("F_DUPFD_CLOEXEC") }
        return copy
    }

    /// One `read(2)` into `buffer` (EINTR retried); the count, 0 at end of file.
    package static func read(_ fd: Int32, into buffer: inout [UInt8]) throws(SystemError) -> Int {
        while true {
            // SAFETY: read(2) writes at most buffer.count bytes into the array's storage, alive for the call.
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count >= 0 { return count }
            if errno != EINTR { throw .last("read") }
        }
    }

    /// One `write(2)` of `bytes` (EINTR retried); the count written, which may be short.
    package static func write(_ fd: Int32, _ bytes: ArraySlice<UInt8>) throws(SystemError) -> Int {
        while true {
            // SAFETY: write(2) reads at most the slice's count bytes from storage alive for the call.
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count >= 0 { return count }
            if errno != EINTR { throw .last("write") }
        }
    }

    /// One `write(2)` of `bytes` (EINTR retried); the count written, which may be short.
    package static func write(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) -> Int {
        try write(fd, bytes[...])
    }

    /// Writes all of `bytes`, continuing after short writes (for blocking files: logs, captures, cgroup files).
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            offset += try write(fd, bytes[offset...])
        }
    }
}
