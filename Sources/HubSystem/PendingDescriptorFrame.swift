/// A frame waiting to go out with a descriptor riding on its first byte: a `REGION_FD` (§8.5 of
/// `Protocols/guest.md`) or a device channel's frame (the framebuffer's `SURFACE`, `Protocols/framebuffer.md` §3.5).
package struct PendingDescriptorFrame {
    package var frame: [UInt8]
    package var descriptor: Int32
    /// Descriptors opened for this send (read-only reopens, duplicates) are closed once sent or dropped;
    /// the memfd itself stays with its backing.
    package var ownsDescriptor: Bool

    package init(frame: [UInt8], descriptor: Int32, ownsDescriptor: Bool) {
        self.frame = frame
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
    }
}

/// Sends `bytes` on a stream socket with `descriptor` as `SCM_RIGHTS` ancillary data, without blocking.
/// The descriptor travels with the first byte sent. Returns the bytes sent (0 on failure, with the error).
package func sendWithDescriptor(socket: Int32, bytes: [UInt8], descriptor: Int32) -> (count: Int, error: SystemError?) {
    do {
        return (try DescriptorPassing.send(bytes, descriptor: descriptor, over: socket), nil)
    } catch {
        return (0, error)
    }
}
