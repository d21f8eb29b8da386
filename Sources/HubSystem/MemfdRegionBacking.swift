/// A shared region's bytes in a memfd (the hub's `RegionBacking` for regions; `HubServer` declares the
/// conformance) mapped `MAP_SHARED` into the hub, so that TCP guests'
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
package final class MemfdRegionBacking {
    package let sizeBytes: UInt64
    /// The read-write memfd. Sent as is for read-write grants.
    package let descriptor: Int32
    private let mapping: SharedMapping

    /// Creates and maps a memfd of `sizeBytes`; nil when the kernel refuses (the caller falls back to the heap).
    package init?(name: String, sizeBytes: UInt64) {
        guard sizeBytes <= UInt64(Int.max),
            let fd = try? Memfd.create(name: "handsethub:\(name)", size: sizeBytes)
        else { return nil }
        do {
            try Memfd.seal(fd, [.shrink, .grow, .seal])
            mapping = try SharedMapping(fd: fd, count: Int(sizeBytes))
            // The owner's read bit stays, so the hub (root or not) can still reopen it read-only for each grantee.
            try Memfd.restrictToOwnerReading(fd)
        } catch {
            Descriptors.close(fd)
            return nil
        }
        descriptor = fd
        self.sizeBytes = sizeBytes
    }

    deinit {
        Descriptors.close(descriptor)
    }

    package func read(offset: UInt64, count: Int) -> [UInt8] {
        let bytes = mapping.bytes
        guard bytes.count > 0, count > 0 else { return [] }
        // SAFETY: the model checked offset + count <= sizeBytes, the mapping's length, alive as long as self.
        return Array(bytes[Int(offset)..<(Int(offset) + count)])
    }

    package func write(offset: UInt64, bytes: some Collection<UInt8>) {
        let target = mapping.bytes
        guard target.count > 0, !bytes.isEmpty else { return }
        // SAFETY: the model checked offset + bytes.count <= sizeBytes, the mapping's length, alive as long as self.
        let slice = UnsafeMutableRawBufferPointer(rebasing: target[Int(offset)..<(Int(offset) + bytes.count)])
        _ = slice.initializeMemory(as: UInt8.self, from: bytes)
    }

    /// Calls `body` with the mapping (empty for a zero-size backing). Another process may be writing it
    /// meanwhile: readers must treat the bytes as untrusted and possibly torn.
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        // SAFETY: the mapping covers sizeBytes and lives as long as self; the seals keep the file that long.
        body(UnsafeRawBufferPointer(mapping.bytes))
    }

    /// A duplicate of the read-write descriptor, for a transfer that closes what it sends. -1 on failure.
    package func duplicateDescriptor() -> Int32 { (try? Descriptors.duplicate(descriptor)) ?? -1 }

    /// A new descriptor for the same memory that can only be mapped for reading: the memfd reopened
    /// `O_RDONLY` through `/proc/self/fd`, a fresh open file description per grantee (a shared one would
    /// share its file offset, status flags and OFD locks between guests). Sealing the memfd against writes
    /// is not an option, as the hub and read-write grantees write it. The caller closes the result.
    package func openReadOnly() throws(SystemError) -> Int32 {
        try Memfd.openReadOnly(descriptor)
    }
}
