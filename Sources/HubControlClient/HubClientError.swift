import ControlWire

/// Why a control client call failed.
package enum HubClientError: Error, Sendable, CustomStringConvertible {
    /// The address is not `tcp:HOST:PORT` or `unix:/path`.
    case invalidAddress(String)
    /// Connecting failed (`errno` text included).
    case connectFailed(address: String, reason: String)
    /// Reading or writing the socket failed.
    case io(String)
    /// No answer within the time allowed.
    case timeout(milliseconds: Int)
    /// The hub closed the connection.
    case closed
    /// The hub sent something that is not protocol 1.
    case protocolViolation(String)
    /// The hub answered with an error.
    case server(ControlError)

    package var description: String {
        switch self {
        case .invalidAddress(let text): return "invalid hub address '\(text)' (expected tcp:HOST:PORT or unix:/PATH)"
        case .connectFailed(let address, let reason): return "cannot connect to \(address): \(reason)"
        case .io(let reason): return "I/O error: \(reason)"
        case .timeout(let ms): return "no answer from the hub within \(ms) ms"
        case .closed: return "the hub closed the connection"
        case .protocolViolation(let reason): return "protocol violation: \(reason)"
        case .server(let error): return error.description
        }
    }
}
