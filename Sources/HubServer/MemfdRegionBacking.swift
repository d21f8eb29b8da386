import Glibc
import Hypervisor

/// A shared region's bytes in a memfd mapped `MAP_SHARED` into the hub, so that TCP guests'
/// `REGION_READ`/`REGION_WRITE` and Unix-socket guests' own mappings of the descriptor
/// (`Protocols/guest.md` §8.5) see the same bytes.
///
/// Pages are allocated by the kernel on first touch, so an unused region costs no resident memory.
/// The framebuffer's shared-memory surfaces (`Protocols/framebuffer.md` §3.5) use the same backing.
///
/// The memfd is sealed against shrinking and growing: a guest holding the descriptor could otherwise
/// `ftruncate` it, and the hub's next access to its mapping would die of `SIGBUS`.
///
/// Read-only grantees get a descriptor opened `O_RDONLY` (no `write`, `ftruncate`, `fallocate`, writable
/// shared `mmap` or `mprotect(PROT_WRITE)` through it), and the memfd's inode keeps only its owner's read
/// bit (mode 0400) once the hub holds its read-write descriptor and mapping: reopening `/proc/self/fd/N`
/// is an open by path, checked against the inode's mode, so it fails for every other uid without
/// `CAP_DAC_OVERRIDE` (and read-write for the owner too), and only the hub's uid owns the inode and could
/// give bits back. `Protocols/guest.md` §8.5 says which guests this holds against and why a seal cannot.
final class MemfdRegionBacking: RegionBacking {
    let sizeBytes: UInt64
    /// The read-write memfd. Sent as is for read-write grants.
    let descriptor: Int32
    private let base: UnsafeMutableRawPointer?

    /// Creates and maps a memfd of `sizeBytes`; nil when the kernel refuses (the caller falls back to the heap).
    init?(name: String, sizeBytes: UInt64) {
        guard sizeBytes <= UInt64(Int.max) else { return nil }
        let fd = hubMemfdCreate("handsethub:\(name)", UInt32(MFD_CLOEXEC | MFD_ALLOW_SEALING))
        guard fd >= 0 else { return nil }
        guard ftruncate(fd, off_t(sizeBytes)) == 0,
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0
        else {
            close(fd)
            return nil
        }
        var mapping: UnsafeMutableRawPointer? = nil
        if sizeBytes > 0 {
            let mapped = mmap(nil, Int(sizeBytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
            guard let mapped, mapped != MAP_FAILED else {
                close(fd)
                return nil
            }
            mapping = mapped
        }
        // The owner's read bit stays, so the hub (root or not) can still reopen it read-only for each grantee.
        guard fchmod(fd, S_IRUSR) == 0 else {
            if let mapping { munmap(mapping, Int(sizeBytes)) }
            close(fd)
            return nil
        }
        base = mapping
        descriptor = fd
        self.sizeBytes = sizeBytes
    }

    deinit {
        if let base { munmap(base, Int(sizeBytes)) }
        close(descriptor)
    }

    func read(offset: UInt64, count: Int) -> [UInt8] {
        guard let base, count > 0 else { return [] }
        // SAFETY: the model checked offset + count <= sizeBytes, the mapping's length.
        return Array(UnsafeRawBufferPointer(start: base + Int(offset), count: count))
    }

    func write(offset: UInt64, bytes: some Collection<UInt8>) {
        guard let base, !bytes.isEmpty else { return }
        // SAFETY: the model checked offset + bytes.count <= sizeBytes, the mapping's length.
        let target = UnsafeMutableRawBufferPointer(start: base + Int(offset), count: bytes.count)
        _ = target.initializeMemory(as: UInt8.self, from: bytes)
    }

    /// Calls `body` with the mapping (empty for a zero-size backing). Another process may be writing it
    /// meanwhile: readers must treat the bytes as untrusted and possibly torn.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        // SAFETY: the mapping covers sizeBytes and lives as long as self; the seals keep the file that long.
        body(UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : Int(sizeBytes)))
    }

    /// A duplicate of the read-write descriptor, for a transfer that closes what it sends. -1 on failure.
    func duplicateDescriptor() -> Int32 { fcntl(descriptor, F_DUPFD_CLOEXEC, 0) }

    /// A new descriptor for the same memory that can only be mapped for reading: the memfd reopened
    /// `O_RDONLY` through `/proc/self/fd`, a fresh open file description per grantee (a shared one would
    /// share its file offset, status flags and OFD locks between guests). Sealing the memfd against writes
    /// is not an option, as the hub and read-write grantees write it. The caller closes the result. -1 with
    /// errno set on failure.
    func openReadOnly() -> Int32 {
        open("/proc/self/fd/\(descriptor)", O_RDONLY | O_CLOEXEC)
    }
}

/// `memfd_create(2)`; declared here because Glibc's Swift overlay hides it behind `_GNU_SOURCE`.
@_silgen_name("memfd_create")
private func hubMemfdCreate(_ name: UnsafePointer<CChar>, _ flags: UInt32) -> Int32

/// Flags of `memfd_create(2)` and file seals of `fcntl(2)` (linux/memfd.h, linux/fcntl.h), hidden by the overlay.
private let MFD_CLOEXEC: Int32 = 1
private let MFD_ALLOW_SEALING: Int32 = 2
private let F_ADD_SEALS: Int32 = 1033
private let F_SEAL_SEAL: Int32 = 1
private let F_SEAL_SHRINK: Int32 = 2
private let F_SEAL_GROW: Int32 = 4
