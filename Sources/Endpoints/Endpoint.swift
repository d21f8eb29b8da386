// The one type for a socket address written as text: the configuration's endpoints
// (`Deploy/config-reference.md`, "Endpoints"), the event loop's listeners and connections, the control
// client's `--hub` / `$HANDSETHUB_HUB` and the guest client's endpoint. Pure: parsing and printing only; turning
// a host name into a `sockaddr` stays with the code that opens the socket.

/// A place the hub listens on (or a remote peer it connects to).
///
/// Textual form: `tcp:HOST:PORT` (IPv6 hosts in brackets, `tcp:[::1]:7400`) or `unix:PATH`.
/// Clients also accept the shorter forms of ``init(parsingClientAddress:)``.
public enum Endpoint: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// A TCP address; `host` is an IPv4/IPv6 literal (IPv6 without brackets) or a host name.
    case tcp(host: String, port: UInt16)
    /// A Unix stream socket path.
    case unix(path: String)

    /// `sun_path` holds 108 bytes including the terminating NUL.
    public static let maxUnixPathBytes = 107

    /// Parses the textual form; see the type's documentation.
    public init(parsing text: String) throws(EndpointParseError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw EndpointParseError("unix endpoint has an empty path") }
            guard path.utf8.count <= Endpoint.maxUnixPathBytes else {
                throw EndpointParseError(
                    "unix path is \(path.utf8.count) bytes, longer than \(Endpoint.maxUnixPathBytes)")
            }
            guard !path.utf8.contains(0) else { throw EndpointParseError("unix path contains a NUL byte") }
            self = .unix(path: path)
            return
        }
        guard text.hasPrefix("tcp:") else {
            throw EndpointParseError("'\(text)' must start with 'tcp:' or 'unix:'")
        }
        let rest = Substring(text.dropFirst(4))
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw EndpointParseError("'\(text)' has an unclosed '[' around the IPv6 address")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { throw EndpointParseError("'\(text)' needs ':PORT' after ']'") }
            portText = after.dropFirst()
            guard Endpoint.isIPv6Literal(host) else {
                throw EndpointParseError("'\(host)' is not an IPv6 address")
            }
        } else {
            guard let colon = rest.lastIndex(of: ":") else {
                throw EndpointParseError("'\(text)' needs a port: tcp:HOST:PORT")
            }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
            if host.contains(":") {
                throw EndpointParseError("IPv6 address in '\(text)' must be in brackets: tcp:[ADDRESS]:PORT")
            }
            guard Endpoint.isHostName(host) else { throw EndpointParseError("'\(host)' is not a valid host") }
        }
        guard !host.isEmpty else { throw EndpointParseError("'\(text)' has an empty host") }
        guard !portText.isEmpty, portText.utf8.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = UInt16(portText)
        else {
            throw EndpointParseError("port '\(portText)' is not a number in 0...65535")
        }
        self = .tcp(host: String(host), port: port)
    }

    /// Parses an address given to a client on its command line or in its environment: every form of
    /// ``init(parsing:)``, and also a bare socket path (`/run/hub.sock`, `./hub.sock`) and `HOST:PORT` without
    /// the `tcp:` prefix. Errors are those of ``init(parsing:)`` for the form the text was taken to be.
    public init(parsingClientAddress text: String) throws(EndpointParseError) {
        if text.hasPrefix("unix:") || text.hasPrefix("tcp:") {
            try self.init(parsing: text)
        } else if text.hasPrefix("/") || text.hasPrefix("./") {
            try self.init(parsing: "unix:" + text)
        } else {
            try self.init(parsing: "tcp:" + text)
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port):
            return host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        case .unix(let path):
            return "unix:\(path)"
        }
    }

    /// True when only this machine can reach the endpoint: Unix sockets, `localhost`, 127.0.0.0/8 and `::1`.
    public var isLoopback: Bool {
        switch self {
        case .unix:
            return true
        case .tcp(let host, _):
            let lower = host.lowercased()
            if lower == "localhost" || lower.hasSuffix(".localhost") { return true }
            if lower == "::1" || lower == "0:0:0:0:0:0:0:1" { return true }
            let octets = lower.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        }
    }

    private static func isIPv6Literal(_ host: Substring) -> Bool {
        guard host.contains(":"), host.utf8.count <= 45 else { return false }
        return host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }

    private static func isHostName(_ host: Substring) -> Bool {
        guard host.utf8.count <= 253 else { return false }
        return host.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "." }
    }
}

/// Why a textual endpoint was rejected.
public struct EndpointParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
