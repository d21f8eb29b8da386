/// A control endpoint address as written in configurations, the ready file and `--hub`:
/// `tcp:HOST:PORT` (IPv6 hosts in brackets: `tcp:[::1]:7400`), `unix:/path`, or a bare `/path`.
public enum HubAddress: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    /// The default control endpoint of the reference handset.
    public static let defaultAddress = HubAddress.tcp(host: "127.0.0.1", port: 7400)

    public init?(_ text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { return nil }
            self = .unix(path: path)
        } else if text.hasPrefix("/") || text.hasPrefix("./") {
            self = .unix(path: text)
        } else {
            var rest = Substring(text)
            if rest.hasPrefix("tcp:") { rest = rest.dropFirst(4) }
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...])
            else { return nil }
            var host = rest[..<colon]
            if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
            guard !host.isEmpty else { return nil }
            self = .tcp(host: String(host), port: port)
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): return host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }
}
