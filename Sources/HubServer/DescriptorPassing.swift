import Glibc

/// A frame waiting to go out with a descriptor riding on its first byte: a `REGION_FD` (§8.5 of
/// `Protocols/guest.md`) or a device channel's frame (the framebuffer's `SURFACE`, `Protocols/framebuffer.md` §3.5).
struct PendingDescriptorFrame {
    var frame: [UInt8]
    var descriptor: Int32
    /// Descriptors opened for this send (read-only reopens, duplicates) are closed once sent or dropped;
    /// the memfd itself stays with its backing.
    var ownsDescriptor: Bool
}

/// Sends `bytes` on a stream socket with `descriptor` as `SCM_RIGHTS` ancillary data, without blocking.
/// The descriptor travels with the first byte sent. Returns the bytes sent (0 on failure, with errno).
func sendWithDescriptor(socket: Int32, bytes: [UInt8], descriptor: Int32) -> (count: Int, errno: Int32) {
    guard socket >= 0, !bytes.isEmpty else { return (0, EBADF) }
    // CMSG_SPACE(sizeof(int)): the header, the descriptor, padded to the header's alignment.
    // CMSG_* are macros Swift cannot import, so the layout is built by hand.
    let align = MemoryLayout<Int>.size
    let headerSize = (MemoryLayout<cmsghdr>.size + align - 1) & ~(align - 1)
    let dataSize = MemoryLayout<Int32>.size
    let space = headerSize + ((dataSize + align - 1) & ~(align - 1))
    var control = [UInt8](repeating: 0, count: space)
    var mutableBytes = bytes
    let result: Int = control.withUnsafeMutableBytes { controlRaw in
        var header = cmsghdr()
        header.cmsg_len = headerSize + dataSize
        header.cmsg_level = SOL_SOCKET
        header.cmsg_type = Int32(SCM_RIGHTS)
        // SAFETY: controlRaw holds `space` bytes: the header, then the descriptor at headerSize.
        controlRaw.storeBytes(of: header, toByteOffset: 0, as: cmsghdr.self)
        controlRaw.storeBytes(of: descriptor, toByteOffset: headerSize, as: Int32.self)
        return mutableBytes.withUnsafeMutableBytes { data in
            var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
            // SAFETY: the iovec and control buffer outlive the sendmsg call.
            return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                var message = msghdr()
                message.msg_iov = vectorPointer
                message.msg_iovlen = 1
                message.msg_control = controlRaw.baseAddress
                message.msg_controllen = space
                while true {
                    let sent = sendmsg(socket, &message, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                    if sent < 0 && errno == EINTR { continue }
                    return sent
                }
            }
        }
    }
    return result > 0 ? (result, 0) : (0, result == 0 ? EAGAIN : errno)
}
