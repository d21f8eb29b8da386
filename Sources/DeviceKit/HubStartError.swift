import EventLoop
import PlatformConfig

/// Why `hubd` could not start. Each case names the configuration entry that caused it.
package enum HubStartError: Error, CustomStringConvertible {
    case loop(LoopError)
    case listen(entry: String, endpoint: Endpoint, LoopError)
    case readyFile(path: String, errno: Int32)
    case model(String)
    /// A device could not attach; the text names the configuration entry and what is missing.
    case device(String)

    package var description: String {
        switch self {
        case .loop(let error): return "event loop: \(error)"
        case .listen(let entry, let endpoint, let error):
            let hint = error.isAddressInUse ? " (another hubd running? pick another port or path)" : ""
            return "\(entry): cannot listen on \(endpoint): \(error)\(hint)"
        case .readyFile(let path, let code): return "--ready-file \(path): cannot write (errno \(code))"
        case .model(let reason): return "platform model: \(reason)"
        case .device(let reason): return reason
        }
    }
}

extension Endpoint {
    // The event loop now takes the same `Endpoint` the configuration holds (Sources/Endpoints); these two
    // identities keep the listeners' call sites as they were. Delete them once every caller passes the
    // endpoint itself.
    package var socketAddress: Endpoint { self }
    package var endpoint: Endpoint { self }
}
