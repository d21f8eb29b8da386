import CUV
import Endpoints
import Glibc

/// A listening TCP or Unix stream socket. Each accepted peer becomes a `Connection`.
package final class Listener: LoopHandle {
    package let kind: Connection.Kind
    /// The address actually bound: with port 0 in the request, the port the kernel chose.
    package private(set) var boundAddress: Endpoint
    private var onConnection: ((Connection) -> Void)?
    /// The last accept failure (EMFILE and friends), for diagnostics; accepting goes on.
    package private(set) var lastAcceptError: LoopError?
    /// Accept failures so far. Out of descriptors (EMFILE/ENFILE), libuv accepts the pending peer on a
    /// descriptor it keeps in reserve and closes it at once, so the listener does not spin on a full backlog.
    package private(set) var acceptErrors: UInt64 = 0
    /// Told about every accept failure (the hub counts them and logs at a bounded rate).
    package var onAcceptError: ((LoopError) -> Void)?
    /// Descriptors kept free below the open-file limit: a peer accepted on a descriptor inside this reserve is
    /// closed at once and reported as an accept failure (`EMFILE`). libuv's own last resort, at the limit itself,
    /// drops pending peers without telling anyone; this reserve keeps the hub short of it, so exhaustion is
    /// counted and logged, and what the reserve leaves (other listeners, files, timers' work) keeps working.
    /// Unix-socket listeners (the local administrator) use the last eighth of it.
    package var descriptorReserve = 0
    /// Peers accepted per loop pass at most (0: no bound). libuv accepts until the backlog is empty in one
    /// callback; a burst of thousands of connections would hold the loop for as long. Past the bound the listener
    /// leaves the next peer in the kernel's backlog (libuv stops watching the socket while a peer is pending) and
    /// takes it at the end of the pass, so the other handles are served between bursts.
    package var maxAcceptsPerPass = 0
    private var acceptedThisPass = 0
    private var acceptPending = false
    private var passEnd: EndOfPass?
    private let openFileLimit = Int(ProcessResources.openFileLimit().soft)
    private var unixPath: String?

    /// Binds and listens. Unix socket paths get their parent directory created (0700), a stale
    /// socket left by a dead process removed, and the socket's mode set to `unixMode`.
    package init(
        loop: Loop, address: Endpoint, backlog: Int32 = 511, unixMode: mode_t = 0o600,
        onConnection: @escaping (Connection) -> Void
    ) throws(LoopError) {
        self.boundAddress = address
        switch address {
        case .tcp: kind = .tcp
        case .unix: kind = .unix
        }
        super.init(loop: loop, type: kind == .tcp ? UV_TCP : UV_NAMED_PIPE)
        switch address {
        case .tcp(let host, let port):
            try LoopError.check(uv_tcp_init(loop.raw, pointer(as: uv_tcp_t.self)), "uv_tcp_init")
            didOpen()
            do {
                var storage = try makeSocketAddress(host: host, port: port)
                let result = withUnsafePointer(to: &storage) { pointer in
                    // SAFETY: storage holds the sockaddr_in or sockaddr_in6 built above.
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        uv_tcp_bind(self.pointer(as: uv_tcp_t.self), $0, 0)
                    }
                }
                try LoopError.check(result, "bind \(address)")
                try listen(backlog: backlog, address: address)
                if let port = localTCPPort() { boundAddress = .tcp(host: host, port: port) }
            } catch {
                close()
                throw error
            }
        case .unix(let path):
            try LoopError.check(uv_pipe_init(loop.raw, pointer(as: uv_pipe_t.self), 0), "uv_pipe_init")
            didOpen()
            do {
                try Listener.prepareUnixPath(path)
                try LoopError.check(uv_pipe_bind(pointer(as: uv_pipe_t.self), path), "bind \(address)")
                unixPath = path
                chmod(path, unixMode)
                try listen(backlog: backlog, address: address)
            } catch {
                close()
                throw error
            }
        }
        self.onConnection = onConnection
    }

    private func listen(backlog: Int32, address: Endpoint) throws(LoopError) {
        let result = uv_listen(pointer(as: uv_stream_t.self), backlog) { server, status in
            // SAFETY: uv_stream_t begins with the uv_handle_t fields; the owner lives until its close callback.
            let handle = UnsafeMutableRawPointer(server!).assumingMemoryBound(to: uv_handle_t.self)
            LoopHandle.owner(of: handle, as: Listener.self).accept(status: status)
        }
        try LoopError.check(result, "listen \(address)")
    }

    private func localTCPPort() -> UInt16? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { pointer in
            // SAFETY: sockaddr_storage is large enough for any address the kernel returns.
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                guard uv_tcp_getsockname(self.pointer(as: uv_tcp_t.self), address, &length) == 0 else { return nil }
                return inetAddress(from: address)?.port
            }
        }
    }

    private func accept(status: Int32) {
        guard status >= 0 else {
            acceptFailed(LoopError(code: status, operation: "accept"))
            return
        }
        if maxAcceptsPerPass > 0 {
            if acceptedThisPass >= maxAcceptsPerPass {
                // Not calling uv_accept leaves the peer pending and makes libuv stop reading the socket until
                // uv_accept is called: at the end of this pass.
                acceptPending = true
                return
            }
            acceptedThisPass += 1
            // Without an end-of-pass handle nothing would take a deferred peer: accept unbounded instead.
            if acceptedThisPass == 1 && !armPassEnd() { maxAcceptsPerPass = 0 }
        }
        takePeer()
    }

    @discardableResult
    private func armPassEnd() -> Bool {
        if passEnd == nil { passEnd = try? EndOfPass(loop: loop) }
        guard let passEnd else { return false }
        passEnd.arm { [unowned self] in self.passEnded() }
        return true
    }

    /// A new pass's budget; the peer left pending is taken now (uv_accept restarts watching the socket).
    private func passEnded() {
        acceptedThisPass = 0
        guard acceptPending, isOpen else { return }
        acceptPending = false
        acceptedThisPass = 1
        armPassEnd()
        takePeer()
    }

    private func takePeer() {
        do {
            let connection = try Connection(loop: loop, kind: kind)
            let result = uv_accept(pointer(as: uv_stream_t.self), connection.stream)
            if result < 0 {
                acceptFailed(LoopError(code: result, operation: "uv_accept"))
                connection.close()
                return
            }
            let reserve = kind == .unix ? descriptorReserve / 8 : descriptorReserve
            if reserve > 0, Int(connection.fileDescriptor) >= openFileLimit - reserve {
                acceptFailed(LoopError(code: Int32(UV_EMFILE.rawValue), operation: "accept (descriptor reserve)"))
                connection.close()
                return
            }
            if kind == .tcp { connection.enableNoDelay() }
            onConnection?(connection)
        } catch {
            acceptFailed(error)
        }
    }

    private func acceptFailed(_ error: LoopError) {
        lastAcceptError = error
        acceptErrors += 1
        onAcceptError?(error)
    }

    /// Creates the socket's directory and removes a socket file nobody listens on any more.
    /// A live socket is left alone so bind fails with EADDRINUSE instead of stealing it.
    static func prepareUnixPath(_ path: String) throws(LoopError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !directory.isEmpty { makeDirectories(directory) }
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return }
        if !unixSocketIsLive(path) { unlink(path) }
    }

    private static func makeDirectories(_ directory: String) {
        var prefix = ""
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if directory.hasPrefix("/") == false && prefix.hasPrefix("/") { prefix.removeFirst() }
            mkdir(prefix, 0o700)
        }
    }

    private static func unixSocketIsLive(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { Glibc.close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { return true }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) { pointer in
            // SAFETY: sockaddr_un is a valid sockaddr for AF_UNIX.
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0 || errno != ECONNREFUSED
    }

    override func willClose() {
        passEnd?.close()
        passEnd = nil
    }

    override func didClose() {
        onConnection = nil
        onAcceptError = nil
        if let unixPath { unlink(unixPath) }
    }
}

extension Connection {
    /// Connects to `address`; `completion` gets the open connection or the reason it failed.
    package static func connect(
        loop: Loop, to address: Endpoint, completion: @escaping (Result<Connection, LoopError>) -> Void
    ) {
        let connection: Connection
        do {
            switch address {
            case .tcp: connection = try Connection(loop: loop, kind: .tcp)
            case .unix: connection = try Connection(loop: loop, kind: .unix)
            }
        } catch {
            completion(.failure(error))
            return
        }
        let request = ConnectRequest(connection: connection, completion: completion)
        // SAFETY: balanced by `takeRetainedValue` in the connect callback.
        request.request.pointee.data = Unmanaged.passRetained(request).toOpaque()
        let callback: uv_connect_cb = { request, status in
            // SAFETY: `data` holds the retained ConnectRequest.
            let owned = Unmanaged<ConnectRequest>.fromOpaque(request!.pointee.data!).takeRetainedValue()
            owned.finish(status: status)
        }
        switch address {
        case .tcp(let host, let port):
            do {
                var storage = try makeSocketAddress(host: host, port: port)
                let result = withUnsafePointer(to: &storage) { pointer in
                    // SAFETY: storage holds the sockaddr built above; libuv copies it before returning.
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        uv_tcp_connect(request.request, connection.pointer(as: uv_tcp_t.self), $0, callback)
                    }
                }
                if result < 0 {
                    Unmanaged<ConnectRequest>.fromOpaque(request.request.pointee.data!).release()
                    connection.close()
                    completion(.failure(LoopError(code: result, operation: "connect \(address)")))
                }
            } catch {
                Unmanaged<ConnectRequest>.fromOpaque(request.request.pointee.data!).release()
                connection.close()
                completion(.failure(error))
            }
        case .unix(let path):
            uv_pipe_connect(request.request, connection.pointer(as: uv_pipe_t.self), path, callback)
        }
    }
}

final class ConnectRequest {
    let request: UnsafeMutablePointer<uv_connect_t>
    let connection: Connection
    let completion: (Result<Connection, LoopError>) -> Void

    init(connection: Connection, completion: @escaping (Result<Connection, LoopError>) -> Void) {
        request = .allocate(capacity: 1)
        request.initialize(to: uv_connect_t())
        self.connection = connection
        self.completion = completion
    }

    func finish(status: Int32) {
        if status < 0 {
            connection.close()
            completion(.failure(LoopError(code: status, operation: "connect")))
        } else {
            if connection.kind == .tcp { connection.enableNoDelay() }
            completion(.success(connection))
        }
    }

    deinit { request.deallocate() }
}
