import CHubSystem
import Glibc

/// Descriptors sent and received as `SCM_RIGHTS` ancillary data on Unix stream sockets (`unix(7)`); the
/// control-message layout (`CMSG_*` macros) is built in C.
package enum DescriptorPassing {
    /// Sends `bytes` on `socket` without blocking, `descriptor` riding on the first byte; returns the count
    /// sent (possibly short, never 0). The descriptor stays open here: the receiver gets its own. `wouldBlock` errors
    /// mean the socket buffer is full.
    package static func send(_ bytes: [UInt8], descriptor: Int32, over socket: Int32) throws(SystemError) -> Int {
        guard socket >= 0, descriptor >= 0, !bytes.isEmpty else { throw SystemError("sendmsg", code: EBADF) }
        // SAFETY: sendmsg reads at most bytes.count bytes from the array's storage, alive for the call.
        let sent = bytes.withUnsafeBytes { hub_send_with_descriptor(socket, $0.baseAddress, $0.count, descriptor) }
        guard sent >= 0 else { throw .last("sendmsg") }
        // Nothing taken of a non-empty buffer: the socket is full; try again later.
        guard sent > 0 else { throw SystemError("sendmsg", code: EAGAIN) }
        return sent
    }

    /// Receives up to `capacity` bytes (blocking unless the socket is non-blocking) and the first descriptor
    /// that came with them, close-on-exec (any further ones are closed). Empty bytes: the peer closed.
    package static func receive(over socket: Int32, capacity: Int) throws(SystemError)
        -> (bytes: [UInt8], descriptor: Int32?)
    {
        var buffer = [UInt8](repeating: 0, count: max(1, capacity))
        var descriptor: Int32 = -1
        // SAFETY: recvmsg writes at most buffer.count bytes into the array's storage, alive for the call.
        let count = buffer.withUnsafeMutableBytes {
            hub_receive_with_descriptor(socket, $0.baseAddress, $0.count, &descriptor)
        }
        guard count >= 0 else { throw .last("recvmsg") }
        return (Array(buffer[..<count]), descriptor >= 0 ? descriptor : nil)
    }
}
