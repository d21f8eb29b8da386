/// Memory a device shares with a guest by passing its descriptor (`SCM_RIGHTS`), such as the framebuffer's
/// shared surfaces (`Protocols/framebuffer.md` §3.5). The hub makes it (`DeviceHost.makeSharedMemory`, a sealed
/// memfd), so device modules make no operating-system call of their own.
package protocol SharedMemory: AnyObject {
    /// Bytes mapped.
    var sizeBytes: UInt64 { get }
    /// A new descriptor for the memory, for a transfer that closes what it sends; -1 on failure.
    func duplicateDescriptor() -> Int32
    /// Calls `body` with the mapping. The guest may be writing it meanwhile: the bytes are untrusted and may be
    /// torn.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R
}
