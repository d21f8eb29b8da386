import ClientSocket
import Endpoints

/// The guest client's stream socket: the shared `BlockingSocket` with its errors in `GuestClientError`'s terms.
final class GuestSocket {
    private let socket: BlockingSocket

    var descriptor: Int32 { socket.descriptor }
    var isUnix: Bool { socket.isUnix }
    /// Descriptors received as ancillary data, oldest first; `REGION_FD` frames claim them in order.
    var receivedDescriptors: [Int32] {
        get { socket.receivedDescriptors }
        set { socket.receivedDescriptors = newValue }
    }

    init(descriptor: Int32, isUnix: Bool) {
        socket = BlockingSocket(adopting: descriptor, isUnix: isUnix)
    }

    private init(_ socket: BlockingSocket) {
        self.socket = socket
    }

    /// Connects to `endpoint` (`unix:PATH` or `tcp:HOST:PORT`, `Endpoint(parsing:)`).
    static func connect(endpoint: String) throws(GuestClientError) -> GuestSocket {
        guard let parsed = try? Endpoint(parsing: endpoint) else { throw .badEndpoint(endpoint) }
        do {
            return GuestSocket(try BlockingSocket.connect(to: parsed))
        } catch {
            throw Self.guestError(error)
        }
    }

    func writeAll(_ bytes: [UInt8]) throws(GuestClientError) {
        do {
            try socket.writeAll(bytes)
        } catch  where error.isPeerGone {
            throw .closed
        } catch {
            throw Self.guestError(error)
        }
    }

    /// Waits up to `timeout` seconds (nil = forever) for bytes; returns nil on timeout, [] never,
    /// and throws `.closed` at end of stream.
    func read(into buffer: inout [UInt8], timeout: Double?) throws(GuestClientError) -> Int? {
        let millis = timeout.map { Int(max(0, min($0 * 1000, Double(Int32.max)))) }
        let ready: Bool
        let count: Int
        do {
            ready = try socket.waitReadable(timeoutMs: millis)
            count = ready ? try socket.receive(into: &buffer, collectingDescriptors: true) : 0
        } catch {
            throw Self.guestError(error)
        }
        guard ready else { return nil }
        if count == 0 { throw .closed }
        return count
    }

    func close() { socket.close() }

    private static func guestError(_ error: BlockingSocketError) -> GuestClientError {
        switch error {
        case .resolve(let status, _): return .system(call: "getaddrinfo", errno: status)
        case .system(let call, let code): return .system(call: call, errno: code)
        case .connectTimedOut: return .timeout
        case .closed: return .closed
        }
    }
}
