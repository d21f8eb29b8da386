import GuestWire
import Wire

/// Why a `GuestClient` call failed.
public enum GuestClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The endpoint is not `unix:/path` or `tcp:host:port`.
    case badEndpoint(String)
    /// A system call failed with `errno`.
    case system(call: String, errno: Int32)
    /// The hub closed the connection (or `close()` was called).
    case closed
    /// The hub answered with `ERROR` (during the handshake: the attach was refused).
    case rejected(code: GuestErrorCode, reason: String)
    /// No answer within the timeout.
    case timeout
    /// The hub sent bytes this client cannot decode.
    case malformed(String)
    /// The hub answered with a frame that does not answer the request.
    case unexpected(GuestFrameType)
    /// A value the caller passed that the protocol cannot carry (checked before anything is sent).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .badEndpoint(let endpoint): return "bad endpoint \(endpoint) (want unix:/path or tcp:host:port)"
        case .system(let call, let errno): return "\(call) failed: errno \(errno)"
        case .closed: return "connection closed"
        case .rejected(let code, let reason): return "hub error \(code): \(reason)"
        case .timeout: return "timed out"
        case .malformed(let detail): return "malformed frame from the hub: \(detail)"
        case .unexpected(let type): return "unexpected answer \(type)"
        case .invalidArgument(let detail): return "invalid argument: \(detail)"
        }
    }
}
