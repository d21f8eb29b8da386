import CHubSystem
import Glibc

/// Anonymous shared memory files (`memfd_create(2)`) and their seals (`fcntl(2)`, "File Sealing").
package enum Memfd {
    /// File seals: what no one holding the file may do any more, once added.
    package struct Seals: OptionSet, Sendable {
        package let rawValue: UInt32
        package init(rawValue: UInt32) { self.rawValue = rawValue }

        /// No further seals may be added.
        package static let seal = Seals(rawValue: UInt32(HUB_SEAL_SEAL))
        /// The file cannot shrink (a holder's `ftruncate` would make the hub's mapping fault with SIGBUS).
        package static let shrink = Seals(rawValue: UInt32(HUB_SEAL_SHRINK))
        /// The file cannot grow.
        package static let grow = Seals(rawValue: UInt32(HUB_SEAL_GROW))
        /// The contents cannot be written (fails while a writable shared mapping exists).
        package static let write = Seals(rawValue: UInt32(HUB_SEAL_WRITE))
    }

    /// Creates an empty close-on-exec memfd that allows sealing, of `size` bytes (pages come on first touch).
    /// `name` shows in `/proc/PID/fd` and `/proc/PID/maps` as `memfd:NAME`.
    package static func create(name: String, size: UInt64) throws(SystemError) -> Int32 {
        guard size <= UInt64(Int64.max) else { throw SystemError("ftruncate", code: EFBIG) }
        let fd = hub_memfd_create(name)
        guard fd >= 0 else { throw .last("memfd_create") }
        guard ftruncate(fd, off_t(size)) == 0 else {
            let error = SystemError.last("ftruncate")
            Descriptors.close(fd)
            throw error
        }
        return fd
    }

    /// Adds `seals` to the memfd.
    package static func seal(_ fd: Int32, _ seals: Seals) throws(SystemError) {
        guard hub_memfd_add_seals(fd, seals.rawValue) == 0 else { throw .last("F_ADD_SEALS") }
    }

    /// The seals the memfd carries.
    package static func seals(of fd: Int32) throws(SystemError) -> Seals {
        let seals = hub_memfd_seals(fd)
        guard seals >= 0 else { throw .last("F_GET_SEALS") }
        return Seals(rawValue: UInt32(seals))
    }

    /// Keeps only the owner's read bit on the file's inode (`fchmod` 0400): reopening it through
    /// `/proc/PID/fd` is then refused to every other uid, and read-write to the owner too.
    package static func restrictToOwnerReading(_ fd: Int32) throws(SystemError) {
        guard fchmod(fd, S_IRUSR) == 0 else { throw .last("fchmod") }
    }

    /// A new, read-only open file description of the memfd (reopened through `/proc/self/fd`): nothing
    /// holding it can write the memory or map it writable.
    package static func openReadOnly(_ fd: Int32) throws(SystemError) -> Int32 {
        try Files.openForReading("/proc/self/fd/\(fd)")
    }
}

/// A shared (`MAP_SHARED`) read-write mapping of a whole file; unmapped when released.
package final class SharedMapping {
    /// The first byte; nil for an empty mapping (mmap refuses a zero length).
    package let base: UnsafeMutableRawPointer?
    package let count: Int

    /// Maps the first `count` bytes of `fd` read-write and shared.
    package init(fd: Int32, count: Int) throws(SystemError) {
        guard count > 0 else {
            base = nil
            self.count = 0
            return
        }
        let mapped = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let mapped, mapped != MAP_FAILED else { throw .last("mmap") }
        base = mapped
        self.count = count
    }

    deinit {
        // SAFETY: base and count are the mapping mmap returned; nothing reads it once its owner is released.
        if let base { munmap(base, count) }
    }

    /// The mapping's bytes (empty for a zero-size mapping), valid while `self` lives.
    package var bytes: UnsafeMutableRawBufferPointer {
        // SAFETY: the mapping covers `count` bytes from `base` until deinit.
        UnsafeMutableRawBufferPointer(start: base, count: base == nil ? 0 : count)
    }
}
