import CUV
import Endpoints

/// An IP address and port as seen on a datagram or a connected socket.
package struct InetAddress: Hashable, Sendable, CustomStringConvertible {
    package var host: String
    package var port: UInt16

    package init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Builds a `sockaddr_storage` for `host:port` (IPv6 when the host contains a colon).
func makeSocketAddress(host: String, port: UInt16) throws(LoopError) -> sockaddr_storage {
    var storage = sockaddr_storage()
    let result: Int32 = withUnsafeMutablePointer(to: &storage) { pointer in
        // SAFETY: sockaddr_storage is large and aligned enough for both sockaddr_in and sockaddr_in6.
        if host.contains(":") {
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, Int32(port), $0) }
        }
        return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) }
    }
    try LoopError.check(result, "parse address \(host):\(port)")
    return storage
}

/// Reads host and port out of a socket address filled in by the kernel.
func inetAddress(from pointer: UnsafePointer<sockaddr>) -> InetAddress? {
    var name = [CChar](repeating: 0, count: 64)
    switch Int32(pointer.pointee.sa_family) {
    case AF_INET:
        // SAFETY: the family says the storage holds a sockaddr_in.
        return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
            _ = uv_ip4_name(sin, &name, name.count)
            return InetAddress(host: cString(name), port: UInt16(bigEndian: sin.pointee.sin_port))
        }
    case AF_INET6:
        // SAFETY: the family says the storage holds a sockaddr_in6.
        return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
            _ = uv_ip6_name(sin6, &name, name.count)
            return InetAddress(host: cString(name), port: UInt16(bigEndian: sin6.pointee.sin6_port))
        }
    default:
        return nil
    }
}

/// Decodes a NUL-terminated C buffer as UTF-8.
func cString(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
