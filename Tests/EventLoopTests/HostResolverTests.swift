import EventLoop
import Testing

/// `HostResolver` over libuv's `getaddrinfo`: names the machine's own resolver knows (`localhost`, from
/// `/etc/hosts`), literals without a lookup, and a name that cannot exist (`.invalid`, RFC 6761).
@Suite struct HostResolverTests {
    @Test func localhostResolvesNowToLoopback() throws {
        let addresses = try HostResolver.resolveNow("localhost", port: 4789, family: .ipv4).get()
        #expect(addresses.contains(InetAddress(host: "127.0.0.1", port: 4789)))
    }

    @Test func literalsAreReturnedAsTheyAre() throws {
        #expect(HostResolver.numeric("192.0.2.7", port: 1, family: .ipv4) == InetAddress(host: "192.0.2.7", port: 1))
        #expect(HostResolver.numeric("::1", port: 1, family: .ipv6) == InetAddress(host: "::1", port: 1))
        #expect(HostResolver.numeric("localhost", port: 1, family: .ipv4) == nil)
        #expect(HostResolver.numeric("::1", port: 1, family: .ipv4) == nil)
    }

    @Test func anInvalidNameFails() {
        guard case .failure(let error) = HostResolver.resolveNow("no-such-host.invalid", port: 1, family: .ipv4) else {
            Issue.record("no-such-host.invalid resolved")
            return
        }
        #expect(error.description.contains("no-such-host.invalid"))
    }

    @Test func resolvingLaterAnswersOnTheLoopThread() throws {
        var answer: Result<[InetAddress], LoopError>?
        try withLoop { loop, finish in
            HostResolver.resolve("localhost", port: 9, family: .ipv4, on: loop) { result in
                answer = result
                finish()
            }
        }
        let addresses = try #require(try answer?.get())
        #expect(addresses.contains(InetAddress(host: "127.0.0.1", port: 9)))
    }
}
