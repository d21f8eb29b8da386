/// The remote hosts a VXLAN port learned from the datagrams it heard (`Protocols/ethernet.md` §3, vxlan): every
/// frame the port sends goes to each of them as well as to its configured remotes.
///
/// Bounded like a MAC table: at most `limit` hosts (`hub.limits.vxlanLearnedHosts`), each forgotten once it has
/// sent nothing for `idleNanoseconds` (`hub.limits.vxlanLearnedIdleMs`), so a host that went away stops costing a
/// datagram per frame. A host heard while the table is full of live hosts is not learned (its datagrams counted in
/// `refused`), so a stream of strangers cannot push out the hosts the port talks to; its frames are still switched.
///
/// Expiry is lazy and cheap: the table knows the earliest time any entry can have aged (a refresh only makes an
/// entry younger), sweeps only once that time has come and at most once a second, and otherwise costs a comparison.
/// Pure: the caller passes the time.
public struct LearnedHosts<Address: Hashable> {
    /// Most hosts held.
    public let limit: Int
    /// A host silent this long is forgotten.
    public let idleNanoseconds: UInt64
    /// The hosts held, in the order they were learned (what frames are sent to).
    public private(set) var addresses: [Address] = []
    /// When each held host was last heard.
    private var lastHeard: [Address: UInt64] = [:]
    /// No entry can have aged before this: the next sweep is not due earlier.
    private var nextSweep: UInt64 = .max
    /// Datagrams from hosts not learned because the table was full of hosts that had not aged.
    public private(set) var refused: UInt64 = 0
    /// Hosts forgotten after `idleNanoseconds` of silence.
    public private(set) var expired: UInt64 = 0

    /// A sweep finds little to do more often than this (a host then ages out up to this much late).
    static var sweepIntervalNanoseconds: UInt64 { 1_000_000_000 }

    public init(limit: Int, idleNanoseconds: UInt64) {
        self.limit = max(0, limit)
        self.idleNanoseconds = max(1, idleNanoseconds)
    }

    public var count: Int { addresses.count }

    /// A datagram from `address` arrived at `now`: refreshes the host, or learns it when there is room (after
    /// forgetting those that aged). Returns whether the host is held.
    @discardableResult
    public mutating func heard(_ address: Address, now: UInt64) -> Bool {
        if lastHeard[address] != nil {
            lastHeard[address] = now
            return true
        }
        expire(now: now)
        guard addresses.count < limit else {
            refused &+= 1
            return false
        }
        lastHeard[address] = now
        addresses.append(address)
        nextSweep = min(nextSweep, Self.deadline(now, idleNanoseconds))
        return true
    }

    /// The held hosts that have not aged at `now` (what a sweep due then would keep), for listing.
    public func live(at now: UInt64) -> [Address] {
        addresses.filter { now < Self.deadline(lastHeard[$0] ?? 0, idleNanoseconds) }
    }

    /// Forgets the hosts silent for `idleNanoseconds` or more at `now`, if a sweep is due.
    public mutating func expire(now: UInt64) {
        guard now >= nextSweep else { return }
        var earliest = UInt64.max
        var kept: [Address] = []
        kept.reserveCapacity(addresses.count)
        for address in addresses {
            let heard = lastHeard[address] ?? 0
            if now >= Self.deadline(heard, idleNanoseconds) {
                lastHeard[address] = nil
                expired &+= 1
            } else {
                kept.append(address)
                earliest = min(earliest, heard)
            }
        }
        addresses = kept
        nextSweep =
            earliest == .max
            ? .max : max(Self.deadline(earliest, idleNanoseconds), now &+ Self.sweepIntervalNanoseconds)
    }

    private static func deadline(_ heard: UInt64, _ idle: UInt64) -> UInt64 {
        heard > UInt64.max - idle ? .max : heard + idle
    }
}
