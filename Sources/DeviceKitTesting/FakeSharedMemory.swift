import DeviceKit
import Glibc

/// Heap memory standing in for the hub's memfd (`DeviceHost.makeSharedMemory`): the test writes into it with
/// `withUnsafeMutableBytes` as the guest would into its mapping. Its descriptors are `/dev/null` opened anew, so
/// passing one (which closes it) has something real to close.
package final class FakeSharedMemory: SharedMemory {
    package let name: String
    package let sizeBytes: UInt64
    private let base: UnsafeMutableRawBufferPointer

    package init(name: String, sizeBytes: Int) {
        self.name = name
        self.sizeBytes = UInt64(sizeBytes)
        // SAFETY: allocated here, freed once in deinit; nothing else owns it.
        base = .allocate(byteCount: sizeBytes, alignment: 16)
        base.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        // SAFETY: the buffer was allocated in init and no view of it outlives a `withUnsafe…` call.
        base.deallocate()
    }

    package func duplicateDescriptor() -> Int32 { open("/dev/null", O_RDONLY | O_CLOEXEC) }

    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        // SAFETY: the view lives only for the call; the buffer outlives it.
        body(UnsafeRawBufferPointer(base))
    }

    /// The guest's side: writes into the memory.
    package func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R { body(base) }
}
