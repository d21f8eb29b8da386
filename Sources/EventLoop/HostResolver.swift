import CUV
import Glibc

/// Host-name resolution through libuv's `uv_getaddrinfo`: `resolveNow` blocks the calling thread (for start,
/// before anything is served), `resolve` runs `getaddrinfo` on libuv's thread pool and calls back on the
/// loop's thread, so a slow resolver never holds the loop (`Sources/ARCHITECTURE.md`, "The loop's rules").
/// Numeric addresses are returned as they are, without a lookup.
package enum HostResolver {
    /// Which address family to ask for: the family of the socket the addresses are for.
    package enum Family: Sendable {
        case ipv4, ipv6

        var value: Int32 { self == .ipv4 ? AF_INET : AF_INET6 }
    }

    /// `host` as a literal address of `family`, or nil when it is a name.
    package static func numeric(_ host: String, port: UInt16, family: Family) -> InetAddress? {
        (try? makeSocketAddress(host: host, port: port)) != nil
            && host.contains(":") == (family == .ipv6) ? InetAddress(host: host, port: port) : nil
    }

    /// Resolves `host` on the calling thread (blocking). Errors carry libuv's `UV_EAI_*` code.
    package static func resolveNow(_ host: String, port: UInt16, family: Family) -> Result<[InetAddress], LoopError> {
        if let literal = numeric(host, port: port, family: family) { return .success([literal]) }
        // A loop of its own: uv_getaddrinfo without a callback runs synchronously and needs no running loop.
        let loop: Loop
        do {
            loop = try Loop()
        } catch {
            return .failure(error)
        }
        let request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        defer { request.deallocate() }
        var hints = addrinfo()
        hints.ai_family = family.value
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        let status = uv_getaddrinfo(loop.raw, request, nil, host, String(port), &hints)
        guard status == 0 else { return .failure(LoopError(code: status, operation: "resolve \(host)")) }
        // SAFETY: a synchronous uv_getaddrinfo leaves the list in request.addrinfo; freed right after reading.
        let addresses = collect(request.pointee.addrinfo, port: port)
        uv_freeaddrinfo(request.pointee.addrinfo)
        return .success(addresses)
    }

    /// Resolves `host` off the loop's thread; `completion` runs once, on the loop's thread, with the addresses or
    /// the error. Nothing cancels a lookup: a loop shutting down waits for `getaddrinfo` to return (at most the
    /// resolver's own timeout).
    package static func resolve(
        _ host: String, port: UInt16, family: Family, on loop: Loop,
        completion: @escaping (Result<[InetAddress], LoopError>) -> Void
    ) {
        if let literal = numeric(host, port: port, family: family) { return completion(.success([literal])) }
        let request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        let pending = PendingResolution(host: host, port: port, completion: completion)
        // SAFETY: retained until the callback, which is the only release (libuv calls it exactly once).
        request.pointee.data = Unmanaged.passRetained(pending).toOpaque()
        var hints = addrinfo()
        hints.ai_family = family.value
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        let status = uv_getaddrinfo(
            loop.raw, request,
            { request, status, list in
                // SAFETY: data holds the reference retained above; taken back once, here.
                let pending = Unmanaged<PendingResolution>.fromOpaque(request!.pointee.data).takeRetainedValue()
                request!.deallocate()
                guard status == 0 else {
                    if let list { uv_freeaddrinfo(list) }
                    return pending.completion(.failure(LoopError(code: status, operation: "resolve \(pending.host)")))
                }
                // SAFETY: the list is ours until uv_freeaddrinfo, right after reading it.
                let addresses = HostResolver.collect(list, port: pending.port)
                uv_freeaddrinfo(list)
                pending.completion(.success(addresses))
            }, host, String(port), &hints)
        if status != 0 {
            // SAFETY: the request was not queued, so no callback will release it: release it here.
            Unmanaged<PendingResolution>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            completion(.failure(LoopError(code: status, operation: "resolve \(host)")))
        }
    }

    /// The addresses of an `addrinfo` list, in order, without duplicates.
    static func collect(_ list: UnsafeMutablePointer<addrinfo>?, port: UInt16) -> [InetAddress] {
        var addresses: [InetAddress] = []
        var entry = list
        while let current = entry {
            // SAFETY: getaddrinfo fills ai_addr with an address of ai_family.
            if let address = current.pointee.ai_addr, let inet = inetAddress(from: address) {
                let found = InetAddress(host: inet.host, port: port)
                if !addresses.contains(found) { addresses.append(found) }
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }
}

/// What a queued resolution calls back with.
private final class PendingResolution {
    let host: String
    let port: UInt16
    let completion: (Result<[InetAddress], LoopError>) -> Void

    init(host: String, port: UInt16, completion: @escaping (Result<[InetAddress], LoopError>) -> Void) {
        self.host = host
        self.port = port
        self.completion = completion
    }
}
