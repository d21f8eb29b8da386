import Ethernet
import Testing

/// A VXLAN port's learned hosts (`Protocols/ethernet.md` §3, vxlan): at most `limit`, each forgotten after
/// `idleNanoseconds` without a datagram, newcomers refused while the table is full of live hosts.
@Suite struct LearnedHostsTests {
    static let second: UInt64 = 1_000_000_000

    @Test func aHostSilentForTheIdleTimeIsForgotten() {
        var hosts = LearnedHosts<String>(limit: 4, idleNanoseconds: 10 * Self.second)
        hosts.heard("a", now: 0)
        hosts.heard("b", now: 5 * Self.second)
        hosts.expire(now: 10 * Self.second - 1)
        #expect(hosts.addresses == ["a", "b"])
        hosts.expire(now: 10 * Self.second)
        #expect(hosts.addresses == ["b"] && hosts.expired == 1)
        // Heard again before its time: kept.
        hosts.heard("b", now: 14 * Self.second)
        hosts.expire(now: 20 * Self.second)
        #expect(hosts.addresses == ["b"] && hosts.live(at: 24 * Self.second) == [])
        hosts.expire(now: 24 * Self.second)
        #expect(hosts.addresses.isEmpty && hosts.expired == 2)
    }

    @Test func aFullTableRefusesNewcomersUntilAHostAgesOut() {
        var hosts = LearnedHosts<String>(limit: 2, idleNanoseconds: 10 * Self.second)
        let first = hosts.heard("a", now: 0)
        let second = hosts.heard("b", now: Self.second)
        let third = hosts.heard("c", now: 2 * Self.second)
        #expect(first && second && !third)
        #expect(hosts.addresses == ["a", "b"] && hosts.refused == 1)
        // "a" ages out: the newcomer takes its place; "b" is still live and stays.
        let later = hosts.heard("c", now: 10 * Self.second)
        #expect(later)
        #expect(hosts.addresses == ["b", "c"] && hosts.refused == 1 && hosts.expired == 1)
        var none = LearnedHosts<String>(limit: 0, idleNanoseconds: Self.second)
        let learned = none.heard("a", now: 0)
        #expect(!learned && none.addresses.isEmpty)
    }

    /// Random traffic from 40 hosts into a table of 8: never more than 8 held, no host forgotten while heard within
    /// the idle time, none kept past it by more than a second (sweeps are at most once a second), refusals only
    /// when the table was full of live hosts.
    @Test func neverExceedsItsLimitAndAgesHostsOnTime() {
        let idle = 3 * Self.second
        var hosts = LearnedHosts<Int>(limit: 8, idleNanoseconds: idle)
        var generator = SplitMix64(seed: 7)
        var lastHeard: [Int: UInt64] = [:]
        var now: UInt64 = 0
        for _ in 0..<20_000 {
            now += generator.next(upTo: Self.second / 20)
            let host = Int(generator.next(upTo: 39))
            let wasHeld = hosts.addresses.contains(host)
            let refusedBefore = hosts.refused
            let held = hosts.heard(host, now: now)
            #expect(hosts.count <= 8)
            if wasHeld { #expect(held) }
            if hosts.refused > refusedBefore {
                #expect(hosts.count == 8)
                #expect(hosts.addresses.allSatisfy { now < lastHeard[$0]! + idle + Self.second })
            }
            if held { lastHeard[host] = now }
            if generator.next(upTo: 9) == 0 { hosts.expire(now: now) }
            for address in hosts.addresses { #expect(now < lastHeard[address]! + idle + Self.second) }
            for (address, heard) in lastHeard where now < heard + idle {
                #expect(hosts.addresses.contains(address), "host \(address) forgotten early")
            }
        }
    }
}
