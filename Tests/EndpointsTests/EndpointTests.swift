import Endpoints
import Testing

@Suite struct EndpointTests {
    @Test func parsesTextualForms() throws {
        #expect(try Endpoint(parsing: "tcp:127.0.0.1:7400") == .tcp(host: "127.0.0.1", port: 7400))
        #expect(try Endpoint(parsing: "tcp:[::1]:7400") == .tcp(host: "::1", port: 7400))
        #expect(try Endpoint(parsing: "tcp:[fe80::1:2]:0") == .tcp(host: "fe80::1:2", port: 0))
        #expect(try Endpoint(parsing: "tcp:[::ffff:10.0.0.1]:65535") == .tcp(host: "::ffff:10.0.0.1", port: 65535))
        #expect(try Endpoint(parsing: "tcp:localhost:1") == .tcp(host: "localhost", port: 1))
        #expect(
            try Endpoint(parsing: "tcp:modem-sim.example.org:7600") == .tcp(host: "modem-sim.example.org", port: 7600))
        #expect(try Endpoint(parsing: "unix:/tmp/x.sock") == .unix(path: "/tmp/x.sock"))
        #expect(try Endpoint(parsing: "unix:relative.sock") == .unix(path: "relative.sock"))
    }

    @Test func descriptionRoundTrips() throws {
        for text in ["tcp:127.0.0.1:7400", "tcp:[::1]:7400", "tcp:[2001:db8::5]:80", "unix:/tmp/x.sock", "tcp:h:0"] {
            #expect(try Endpoint(parsing: text).description == text)
        }
        #expect(Endpoint.tcp(host: "::1", port: 9).description == "tcp:[::1]:9")
    }

    @Test(arguments: [
        ("", "'' must start with 'tcp:' or 'unix:'"),
        ("udp:1.2.3.4:5", "'udp:1.2.3.4:5' must start with 'tcp:' or 'unix:'"),
        ("tcp:", "'tcp:' needs a port: tcp:HOST:PORT"),
        ("tcp:127.0.0.1", "'tcp:127.0.0.1' needs a port: tcp:HOST:PORT"),
        ("tcp::7400", "'tcp::7400' has an empty host"),
        ("tcp:127.0.0.1:", "port '' is not a number in 0...65535"),
        ("tcp:127.0.0.1:65536", "port '65536' is not a number in 0...65535"),
        ("tcp:127.0.0.1:-1", "port '-1' is not a number in 0...65535"),
        ("tcp:127.0.0.1:+80", "port '+80' is not a number in 0...65535"),
        ("tcp:127.0.0.1:80x", "port '80x' is not a number in 0...65535"),
        ("tcp:::1:7400", "IPv6 address in 'tcp:::1:7400' must be in brackets: tcp:[ADDRESS]:PORT"),
        ("tcp:[::1:7400", "'tcp:[::1:7400' has an unclosed '[' around the IPv6 address"),
        ("tcp:[::1]7400", "'tcp:[::1]7400' needs ':PORT' after ']'"),
        ("tcp:[nothex]:1", "'nothex' is not an IPv6 address"),
        ("tcp:[]:1", "'' is not an IPv6 address"),
        ("tcp:bad host:1", "'bad host' is not a valid host"),
        ("unix:", "unix endpoint has an empty path"),
        ("unix:/" + String(repeating: "x", count: 107), "unix path is 108 bytes, longer than 107"),
    ])
    func rejectsBadForms(text: String, reason: String) {
        #expect(throws: EndpointParseError(reason)) { try Endpoint(parsing: text) }
    }

    @Test func loopback() throws {
        for text in ["tcp:127.0.0.1:1", "tcp:127.1.2.3:1", "tcp:[::1]:1", "tcp:localhost:1", "unix:/x"] {
            #expect(try Endpoint(parsing: text).isLoopback, "\(text)")
        }
        for text in [
            "tcp:0.0.0.0:1", "tcp:[::]:1", "tcp:192.168.1.1:1", "tcp:127.0.0.1.example:1", "tcp:example.org:1",
        ] {
            #expect(try !Endpoint(parsing: text).isLoopback, "\(text)")
        }
    }
}
