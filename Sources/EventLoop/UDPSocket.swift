import CUV
import Glibc

/// A UDP socket: one datagram per `onDatagram` call, sends addressed per datagram.
package final class UDPSocket: LoopHandle {
    /// A received datagram and who sent it.
    package var onDatagram: ((ArraySlice<UInt8>, InetAddress) -> Void)?
    /// Receive errors (ICMP-induced ECONNREFUSED and the like); receiving goes on.
    package var onError: ((LoopError) -> Void)?
    package private(set) var boundAddress: InetAddress
    package private(set) var datagramsSent: UInt64 = 0
    package private(set) var sendFailures: UInt64 = 0
    /// Bytes of datagrams libuv may hold queued while the socket is busy (the kernel's buffer is full): libuv's
    /// queue has no bound of its own, so a sender faster than the network would grow it without end. A datagram
    /// that would take the queue past this is refused (``UDPSendOutcome/refused``).
    package var sendQueueLimitBytes = Int.max
    /// Datagrams refused because the send queue held `sendQueueLimitBytes`.
    package private(set) var sendQueueRefusals: UInt64 = 0
    private var receiving = false
    /// Parsed peers, so a hot sender to a few peers does not reparse text per datagram.
    private var addressCache: [InetAddress: sockaddr_storage] = [:]

    /// Binds to `host:port` (port 0 picks one). `reuseAddress` lets several sockets share a multicast port.
    package init(loop: Loop, host: String, port: UInt16, reuseAddress: Bool = false) throws(LoopError) {
        boundAddress = InetAddress(host: host, port: port)
        super.init(loop: loop, type: UV_UDP)
        let family = host.contains(":") ? AF_INET6 : AF_INET
        try LoopError.check(uv_udp_init_ex(loop.raw, pointer(as: uv_udp_t.self), UInt32(family)), "uv_udp_init")
        didOpen()
        do {
            var storage = try makeSocketAddress(host: host, port: port)
            let flags: UInt32 = reuseAddress ? UInt32(UV_UDP_REUSEADDR.rawValue) : 0
            let result = withUnsafePointer(to: &storage) { pointer in
                // SAFETY: storage holds the sockaddr built above.
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    uv_udp_bind(self.pointer(as: uv_udp_t.self), $0, flags)
                }
            }
            try LoopError.check(result, "bind udp \(boundAddress)")
            var local = sockaddr_storage()
            var length = Int32(MemoryLayout<sockaddr_storage>.size)
            let bound: InetAddress? = withUnsafeMutablePointer(to: &local) { pointer in
                // SAFETY: sockaddr_storage is large enough for any address the kernel returns.
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    uv_udp_getsockname(self.pointer(as: uv_udp_t.self), address, &length) == 0
                        ? inetAddress(from: address) : nil
                }
            }
            if let bound { boundAddress = bound }
        } catch {
            close()
            throw error
        }
    }

    package func startReceiving() throws(LoopError) {
        guard isOpen, !receiving else { return }
        let result = uv_udp_recv_start(
            pointer(as: uv_udp_t.self),
            { handle, _, buffer in
                // SAFETY: the owner is alive while the handle is open; its loop's read buffer outlives it.
                let owner = LoopHandle.owner(of: handle!, as: UDPSocket.self)
                buffer!.pointee = uv_buf_init(
                    owner.loop.readBuffer.baseAddress!.assumingMemoryBound(to: CChar.self),
                    UInt32(owner.loop.readBuffer.count))
            },
            { udp, count, buffer, address, _ in
                // SAFETY: uv_udp_t begins with the uv_handle_t fields.
                let handle = UnsafeMutableRawPointer(udp!).assumingMemoryBound(to: uv_handle_t.self)
                let owner = LoopHandle.owner(of: handle, as: UDPSocket.self)
                if count < 0 {
                    owner.onError?(LoopError(code: Int32(count), operation: "udp receive"))
                    return
                }
                // count == 0 with no address means "nothing more this time"; with an address it is an empty datagram.
                guard let address, let sender = inetAddress(from: address), let base = buffer?.pointee.base else {
                    return
                }
                // SAFETY: libuv filled `count` bytes of the loop's read buffer; we copy them before returning.
                let bytes = Array(UnsafeRawBufferPointer(start: base, count: count))
                owner.onDatagram?(bytes[...], sender)
            })
        try LoopError.check(result, "uv_udp_recv_start")
        receiving = true
    }

    package func stopReceiving() {
        guard receiving, isOpen else { return }
        uv_udp_recv_stop(pointer(as: uv_udp_t.self))
        receiving = false
    }

    /// Bytes of datagrams waiting in libuv's send queue (the socket was busy when they were sent).
    package var sendQueueBytes: Int { isOpen ? Int(uv_udp_get_send_queue_size(pointer(as: uv_udp_t.self))) : 0 }

    /// Datagrams waiting in libuv's send queue.
    package var sendQueueDatagrams: Int {
        isOpen ? Int(uv_udp_get_send_queue_count(pointer(as: uv_udp_t.self))) : 0
    }

    /// Sends one datagram. Tries an immediate send first; when the socket is busy the bytes are
    /// copied into a request that libuv completes later, unless that would take the queue past
    /// `sendQueueLimitBytes`.
    @discardableResult
    package func send(_ bytes: some Collection<UInt8>, to destination: InetAddress) -> UDPSendOutcome {
        guard isOpen else { return .failed }
        var storage: sockaddr_storage
        if let cached = addressCache[destination] {
            storage = cached
        } else {
            guard let parsed = try? makeSocketAddress(host: destination.host, port: destination.port) else {
                sendFailures += 1
                return .failed
            }
            if addressCache.count > 4096 { addressCache.removeAll(keepingCapacity: true) }
            addressCache[destination] = parsed
            storage = parsed
        }
        let request = UDPSendRequest(bytes: bytes)
        var buffer = uv_buf_init(
            request.bytes.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(request.byteCount))
        let immediate = withUnsafePointer(to: &storage) { pointer in
            // SAFETY: storage holds a parsed sockaddr; the buffer points at the request's private copy.
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                uv_udp_try_send(self.pointer(as: uv_udp_t.self), &buffer, 1, $0)
            }
        }
        if immediate >= 0 {
            datagramsSent += 1
            return .sent
        }
        guard immediate == Int32(UV_EAGAIN.rawValue) else {
            sendFailures += 1
            return .failed
        }
        guard sendQueueBytes + request.byteCount <= sendQueueLimitBytes else {
            sendQueueRefusals += 1
            return .refused
        }
        // SAFETY: balanced by `takeRetainedValue` in the send callback.
        request.request.pointee.data = Unmanaged.passRetained(request).toOpaque()
        let result = withUnsafePointer(to: &storage) { pointer in
            // SAFETY: as above; libuv copies the address before returning.
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                uv_udp_send(request.request, self.pointer(as: uv_udp_t.self), &buffer, 1, $0) { request, status in
                    // SAFETY: `data` holds the retained request; the handle's owner lives until its close callback.
                    let owned = Unmanaged<UDPSendRequest>.fromOpaque(request!.pointee.data!).takeRetainedValue()
                    let handle = UnsafeMutableRawPointer(request!.pointee.handle!).assumingMemoryBound(
                        to: uv_handle_t.self)
                    let owner = LoopHandle.owner(of: handle, as: UDPSocket.self)
                    if status < 0 { owner.sendFailures += 1 } else { owner.datagramsSent += 1 }
                    _ = owned
                }
            }
        }
        if result < 0 {
            Unmanaged<UDPSendRequest>.fromOpaque(request.request.pointee.data!).release()
            sendFailures += 1
            return .failed
        }
        return .queued
    }

    /// Joins a multicast group, optionally on the interface with address `interfaceAddress`.
    package func joinMulticast(group: String, interfaceAddress: String? = nil) throws(LoopError) {
        try LoopError.check(
            uv_udp_set_membership(pointer(as: uv_udp_t.self), group, interfaceAddress, UV_JOIN_GROUP),
            "join multicast \(group)")
    }

    /// Enables sending to broadcast addresses.
    package func setBroadcast(_ enabled: Bool) throws(LoopError) {
        try LoopError.check(uv_udp_set_broadcast(pointer(as: uv_udp_t.self), enabled ? 1 : 0), "uv_udp_set_broadcast")
    }

    override func willClose() { receiving = false }

    override func didClose() {
        onDatagram = nil
        onError = nil
    }
}

/// What became of one datagram given to ``UDPSocket/send(_:to:)``.
package enum UDPSendOutcome: Sendable, Equatable {
    /// Handed to the kernel at once.
    case sent
    /// The socket was busy: queued in libuv, sent when the socket has room (a later failure counts in
    /// `sendFailures`).
    case queued
    /// The socket was busy and its send queue already held `sendQueueLimitBytes`: not sent.
    case refused
    /// Not sent: the address did not parse or the kernel refused it (counted in `sendFailures`).
    case failed

    /// Whether the datagram was sent or will be.
    package var isAccepted: Bool { self == .sent || self == .queued }
}

final class UDPSendRequest {
    let request: UnsafeMutablePointer<uv_udp_send_t>
    let bytes: UnsafeMutableRawBufferPointer
    let byteCount: Int

    init(bytes source: some Collection<UInt8>) {
        request = .allocate(capacity: 1)
        request.initialize(to: uv_udp_send_t())
        byteCount = source.count
        bytes = .allocate(byteCount: max(source.count, 1), alignment: 16)
        copyBytes(source, into: UnsafeMutableRawBufferPointer(rebasing: bytes[0..<source.count]))
    }

    deinit {
        request.deallocate()
        bytes.deallocate()
    }
}
