import Endpoints
import Testing

/// The client forms (`--hub`, `$HANDSETHUB_HUB`) and hostile texts, on top of the configuration forms that
/// `EndpointTests` covers.
@Suite struct EndpointClientFormTests {
    @Test(arguments: [
        ("tcp:127.0.0.1:7400", Endpoint.tcp(host: "127.0.0.1", port: 7400)),
        ("tcp:[::1]:7400", .tcp(host: "::1", port: 7400)),
        ("unix:/run/hub.sock", .unix(path: "/run/hub.sock")),
        ("unix:relative.sock", .unix(path: "relative.sock")),
        ("/run/hub.sock", .unix(path: "/run/hub.sock")),
        ("./hub.sock", .unix(path: "./hub.sock")),
        ("127.0.0.1:7400", .tcp(host: "127.0.0.1", port: 7400)),
        ("[::1]:7400", .tcp(host: "::1", port: 7400)),
        ("localhost:0", .tcp(host: "localhost", port: 0)),
    ])
    func acceptsClientForms(text: String, expected: Endpoint) throws {
        #expect(try Endpoint(parsingClientAddress: text) == expected)
    }

    @Test(arguments: [
        ("", "'tcp:' needs a port: tcp:HOST:PORT"),
        ("localhost", "'tcp:localhost' needs a port: tcp:HOST:PORT"),
        (":7400", "'tcp::7400' has an empty host"),
        ("::1:7400", "IPv6 address in 'tcp:::1:7400' must be in brackets: tcp:[ADDRESS]:PORT"),
        ("unix:", "unix endpoint has an empty path"),
        ("udp:1.2.3.4:5", "IPv6 address in 'tcp:udp:1.2.3.4:5' must be in brackets: tcp:[ADDRESS]:PORT"),
    ])
    func rejectsBadClientForms(text: String, reason: String) {
        #expect(throws: EndpointParseError(reason)) { try Endpoint(parsingClientAddress: text) }
    }

    @Test func hugePortsAreRefusedBeforeConversion() throws {
        for port in ["65536", "99999", "100000", "18446744073709551616", String(repeating: "9", count: 10_000)] {
            #expect(throws: EndpointParseError("port '\(port)' is not a number in 0...65535")) {
                try Endpoint(parsing: "tcp:127.0.0.1:" + port)
            }
        }
        #expect(try Endpoint(parsing: "tcp:127.0.0.1:65535") == .tcp(host: "127.0.0.1", port: 65535))
        #expect(try Endpoint(parsing: "tcp:127.0.0.1:00080") == .tcp(host: "127.0.0.1", port: 80))
    }

    @Test func emptyHostsAreRefused() {
        #expect(throws: EndpointParseError("'tcp::1' has an empty host")) { try Endpoint(parsing: "tcp::1") }
        #expect(throws: EndpointParseError("'' is not an IPv6 address")) { try Endpoint(parsing: "tcp:[]:1") }
    }

    @Test func embeddedNULIsRefused() {
        #expect(throws: EndpointParseError("unix path contains a NUL byte")) {
            try Endpoint(parsing: "unix:/tmp/a\u{0}b")
        }
        #expect(throws: EndpointParseError("'exa\u{0}mple' is not a valid host")) {
            try Endpoint(parsing: "tcp:exa\u{0}mple:1")
        }
        #expect(throws: EndpointParseError("port '8\u{0}' is not a number in 0...65535")) {
            try Endpoint(parsing: "tcp:127.0.0.1:8\u{0}")
        }
        #expect(throws: EndpointParseError("unix path contains a NUL byte")) {
            try Endpoint(parsingClientAddress: "/tmp/\u{0}")
        }
    }

    @Test func unixPathLengthIsBoundedInBytes() throws {
        let longest = "/" + String(repeating: "x", count: Endpoint.maxUnixPathBytes - 1)
        #expect(try Endpoint(parsing: "unix:" + longest) == .unix(path: longest))
        #expect(try Endpoint(parsingClientAddress: longest) == .unix(path: longest))
        #expect(throws: EndpointParseError("unix path is 108 bytes, longer than 107")) {
            try Endpoint(parsingClientAddress: longest + "x")
        }
        // 54 two-byte characters: 54 characters but 108 bytes, one more than `sun_path` holds.
        #expect(throws: EndpointParseError("unix path is 108 bytes, longer than 107")) {
            try Endpoint(parsing: "unix:" + String(repeating: "é", count: 54))
        }
        let huge = String(repeating: "y", count: 1 << 20)
        #expect(throws: EndpointParseError("unix path is \(1 << 20) bytes, longer than 107")) {
            try Endpoint(parsing: "unix:" + huge)
        }
    }

    @Test func overlongHostsAreRefused() {
        let host = String(repeating: "a", count: 254)
        #expect(throws: EndpointParseError("'\(host)' is not a valid host")) { try Endpoint(parsing: "tcp:\(host):1") }
        let v6 = String(repeating: "1:", count: 23) + "1"
        #expect(throws: EndpointParseError("'\(v6)' is not an IPv6 address")) { try Endpoint(parsing: "tcp:[\(v6)]:1") }
    }

    @Test func printedFormParsesBack() throws {
        for endpoint in [Endpoint.tcp(host: "::1", port: 1), .tcp(host: "h", port: 65535), .unix(path: "./x")] {
            #expect(try Endpoint(parsing: endpoint.description) == endpoint)
            #expect(try Endpoint(parsingClientAddress: endpoint.description) == endpoint)
        }
    }
}
