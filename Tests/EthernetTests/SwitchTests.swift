import EthernetWire
import Foundation
import Testing
import VectorSupport

@testable import Ethernet

/// A frame from `source` to `destination` with a payload making it `length` bytes long.
func frame(_ destination: UInt64, _ source: UInt64, length: Int = 60, vid: UInt16? = nil) -> ArraySlice<UInt8> {
    var bytes = MACAddress(rawValue: destination).bytes + MACAddress(rawValue: source).bytes
    if let vid { bytes += [0x81, 0x00, UInt8(vid >> 8), UInt8(vid & 0xFF)] }
    bytes += [0x88, 0xB5]
    bytes += [UInt8](repeating: 0xAB, count: max(0, length - bytes.count))
    return bytes[...]
}

let broadcast: UInt64 = 0xFFFF_FFFF_FFFF
let macA: UInt64 = 0x0200_0000_000A
let macB: UInt64 = 0x0200_0000_000B
let macC: UInt64 = 0x0200_0000_000C

extension Switch {
    func drainAll() -> [PortID: [ArraySlice<UInt8>]] {
        var out: [PortID: [ArraySlice<UInt8>]] = [:]
        for id in takeReadyPorts() { out[id, default: []] += takeEgress(id) }
        return out
    }
}

@Suite struct SwitchLearningTests {
    @Test func floodsUnknownThenForwardsLearnedUnicast() {
        let sw = Switch(name: "lan0")
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        let c = sw.addPort(PortSettings(name: "c"))
        sw.receive(frame(macB, macA), from: a, now: 0)
        var out = sw.drainAll()
        #expect(out[b]?.count == 1 && out[c]?.count == 1 && out[a] == nil)
        sw.receive(frame(macA, macB), from: b, now: 1)
        out = sw.drainAll()
        #expect(out[a]?.count == 1 && out[c] == nil)
        sw.receive(frame(macB, macA), from: a, now: 2)
        out = sw.drainAll()
        #expect(out[b]?.count == 1 && out[c] == nil)
        #expect(sw.macEntries(now: 2).map(\.port) == [a, b])
        #expect(sw.counters(of: a)?.rxFrames == 2 && sw.counters(of: a)?.txFrames == 1)
        #expect(sw.counters(of: b)?.txBytes == 120)
    }

    @Test func broadcastAndMulticastAlwaysFlood() {
        let sw = Switch(name: "lan0")
        let ports = (0..<4).map { sw.addPort(PortSettings(name: "p\($0)")) }
        sw.receive(frame(macA, macB), from: ports[1], now: 0)
        _ = sw.drainAll()
        sw.receive(frame(broadcast, macA), from: ports[0], now: 1)
        #expect(sw.drainAll().keys.sorted() == [ports[1], ports[2], ports[3]])
        sw.receive(frame(0x0100_5E00_0001, macA), from: ports[0], now: 2)
        #expect(sw.drainAll().count == 3)
    }

    @Test func learnedAddressesAgeOut() {
        let sw = Switch(name: "lan0", macAgeingNs: 1_000)
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        let c = sw.addPort(PortSettings(name: "c"))
        sw.receive(frame(broadcast, macB), from: b, now: 0)
        _ = sw.drainAll()
        sw.receive(frame(macB, macA), from: a, now: 500)
        #expect(sw.drainAll().keys.sorted() == [b])
        sw.receive(frame(macB, macA), from: a, now: 2_000)
        #expect(sw.drainAll().keys.sorted() == [b, c])
        #expect(sw.macEntries(now: 2_000).map(\.mac) == [MACAddress(rawValue: macA)])
    }

    @Test func stationMovesToItsNewPort() {
        let sw = Switch(name: "lan0")
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        let c = sw.addPort(PortSettings(name: "c"))
        sw.receive(frame(broadcast, macC), from: b, now: 0)
        sw.receive(frame(broadcast, macC), from: c, now: 1)
        _ = sw.drainAll()
        sw.receive(frame(macC, macA), from: a, now: 2)
        #expect(sw.drainAll().keys.sorted() == [c])
    }

    /// A full table makes room for a new source by evicting the least recently seen address, counted on the port
    /// that learned; learning never stops (a full table used to stop learning, and rebuilt itself per frame).
    @Test func fullTableEvictsTheLeastRecentlySeenAndCounts() {
        let sw = Switch(name: "lan0", macTableLimit: 3)
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        for source in 1...3 as ClosedRange<UInt64> {
            sw.receive(frame(broadcast, 0x0200_0000_0000 + source), from: a, now: source)
        }
        // Station 1 is seen again: station 2 is now the least recently seen.
        sw.receive(frame(broadcast, 0x0200_0000_0001), from: a, now: 10)
        #expect(
            sw.macEntriesBySeen(now: 10).map(\.mac.rawValue) == [0x0200_0000_0002, 0x0200_0000_0003, 0x0200_0000_0001])
        sw.receive(frame(broadcast, 0x0200_0000_0004), from: b, now: 11)
        #expect(
            sw.macEntriesBySeen(now: 11).map(\.mac.rawValue) == [0x0200_0000_0003, 0x0200_0000_0001, 0x0200_0000_0004])
        #expect(sw.counters(of: b)?.drops[.macTableFull] == 1)
        #expect(sw.learnedMACs(of: a) == 2)
        #expect(sw.learnedMACs(of: b) == 1)
        // An entry that had aged out makes room without being counted.
        sw.macAgeingNs = 5
        sw.receive(frame(broadcast, 0x0200_0000_0005), from: b, now: 19)
        #expect(sw.counters(of: b)?.drops[.macTableFull] == 1)
        #expect(sw.macEntriesBySeen(now: 19).map(\.mac.rawValue) == [0x0200_0000_0005])
        #expect(sw.learnedMACs(of: b) == 2)
    }

    /// Eviction follows the order addresses were last seen through a long run of refreshes and new stations,
    /// checked against a reference model (a list kept in last-seen order).
    @Test func evictionOrderMatchesAReferenceModel() {
        let limit = 64
        let sw = Switch(name: "lan0", macTableLimit: limit, macLimitPerPort: 1 << 20)
        let a = sw.addPort(PortSettings(name: "a"))
        _ = sw.addPort(PortSettings(name: "b"))
        var model: [UInt64] = []
        var random = SplitMix64(seed: 7)
        for step in 1...5000 as ClosedRange<UInt64> {
            let station = 0x0200_0000_0000 + random.next() % 200
            sw.receive(frame(broadcast, station), from: a, now: step)
            model.removeAll { $0 == station }
            model.append(station)
            if model.count > limit { model.removeFirst() }
        }
        #expect(sw.macEntriesBySeen(now: 5000).map(\.mac.rawValue) == model)
        #expect(sw.learnedMACs(of: a) == limit)
    }

    /// Learning through heavy churn agrees at every step with a reference model of `Protocols/ethernet.md` §1.2:
    /// a full table evicting the least recently seen (counted `macTableFull` unless aged), per-port limits
    /// (counted `macLimit`, moves onto a port at its limit refused), stations moving between ports, expiry,
    /// a port's addresses forgotten when its link drops or it is removed (its id then reused), and the table
    /// flushed and filled again.
    @Test func learningMatchesAReferenceModelThroughChurn() {
        let limit = 48
        let perPort = 20
        let ageing: UInt64 = 400
        let sw = Switch(name: "lan0", macAgeingNs: ageing, macTableLimit: limit, macLimitPerPort: perPort)
        var ports = (0..<4).map { sw.addPort(PortSettings(name: "p\($0)")) }
        var order: [(key: UInt64, port: PortID, seen: UInt64)] = []
        var learned: [PortID: Int] = [:]
        var macLimit: [PortID: UInt64] = [:]
        var tableFull: [PortID: UInt64] = [:]
        var random = SplitMix64(seed: 11)
        var now: UInt64 = 0
        func check() {
            let valid = order.filter { now &- $0.seen <= ageing }
            #expect(sw.macEntriesBySeen(now: now).map { $0.mac.rawValue } == valid.map(\.key))
            #expect(sw.macEntriesBySeen(now: now).map(\.port) == valid.map(\.port))
            for id in ports {
                #expect(sw.learnedMACs(of: id) == learned[id, default: 0])
                #expect(sw.counters(of: id)?.drops[.macLimit] == macLimit[id])
                #expect(sw.counters(of: id)?.drops[.macTableFull] == tableFull[id])
            }
        }
        func forget(_ id: PortID) {
            order.removeAll { $0.port == id }
            learned[id] = 0
        }
        for step in 0..<20_000 {
            now += random.next() % 50 == 0 ? 300 : 1
            let id = ports[Int(random.next() % 4)]
            let key = 0x0200_0000_0000 + random.next() % 120
            sw.receive(frame(broadcast, key), from: id, now: now)
            if let position = order.firstIndex(where: { $0.key == key }) {
                let previous = order[position].port
                if previous != id {
                    if learned[id, default: 0] >= perPort {
                        macLimit[id, default: 0] += 1
                        continue
                    }
                    learned[previous, default: 0] -= 1
                    learned[id, default: 0] += 1
                }
                order.remove(at: position)
                order.append((key, id, now))
            } else if learned[id, default: 0] >= perPort {
                macLimit[id, default: 0] += 1
            } else {
                if order.count >= limit {
                    // A port holding its share (limit / 4 ports) evicts only its own or aged addresses.
                    let oldest = order[0]
                    let live = now &- oldest.seen <= ageing
                    if oldest.port != id && live && learned[id, default: 0] >= limit / ports.count {
                        tableFull[id, default: 0] += 1
                        continue
                    }
                    let evicted = order.removeFirst()
                    learned[evicted.port, default: 0] -= 1
                    if live { tableFull[id, default: 0] += 1 }
                }
                order.append((key, id, now))
                learned[id, default: 0] += 1
            }
            switch random.next() % 1_000 {
            case 0:
                sw.purgeAged(now: now)
                for entry in order where now &- entry.seen > ageing { learned[entry.port, default: 0] -= 1 }
                order.removeAll { now &- $0.seen > ageing }
            case 1:
                sw.setLink(id, up: false)
                sw.setLink(id, up: true)
                forget(id)
            case 2:
                sw.removePort(id)
                forget(id)
                let fresh = sw.addPort(PortSettings(name: "again"))
                #expect(fresh == id)
                macLimit[id] = nil
                tableFull[id] = nil
                ports[ports.firstIndex(of: id)!] = fresh
            case 3 where step % 3 == 0:
                sw.flushMACTable()
                order.removeAll()
                learned = [:]
            default:
                break
            }
            if step % 7 == 0 { check() }
        }
        check()
        _ = sw.drainAll()
    }

    /// Two ports flooding random sources, each within its per-port limit, filled the table between them and evicted
    /// every other port's stations (300,000 frames from two stream peers: the bystander's station gone, its unicast
    /// flooded). A port holding its share of the table (its size over the ports) now evicts only its own or aged
    /// addresses; a port below its share still makes room by evicting the least recently seen.
    @Test func floodersTogetherCannotEvictAnotherPortsStations() {
        let sw = Switch(name: "lan0", macTableLimit: 16, macLimitPerPort: 8)
        let a = sw.addPort(PortSettings(name: "a"))
        let t = sw.addPort(PortSettings(name: "t"))
        let b = sw.addPort(PortSettings(name: "b"))
        let c = sw.addPort(PortSettings(name: "c"))
        sw.receive(frame(broadcast, macB), from: b, now: 0)
        sw.receive(frame(broadcast, macC), from: c, now: 0)
        for station in 0..<1000 as Range<UInt64> {
            sw.receive(frame(broadcast, 0x0200_0001_0000 + station), from: a, now: 1 + 2 * station)
            sw.receive(frame(broadcast, 0x0200_0002_0000 + station), from: t, now: 2 + 2 * station)
        }
        _ = sw.drainAll()
        #expect(sw.macEntries(now: 2000).contains { $0.mac.rawValue == macB && $0.port == b })
        #expect(sw.macEntries(now: 2000).contains { $0.mac.rawValue == macC && $0.port == c })
        #expect(sw.learnedMACs(of: a) + sw.learnedMACs(of: t) == 14)
        // Unicast between the two stations still goes to its port only.
        sw.receive(frame(macB, macC), from: c, now: 2001)
        #expect(sw.drainAll().keys.sorted() == [b])
        // A port below its share (16 / 4 ports) still learns a new station: the least recently seen address, a
        // flooder's now that B and C were seen, makes room.
        sw.receive(frame(macC, macB), from: b, now: 2002)
        sw.receive(frame(broadcast, 0x0200_0000_000D), from: c, now: 2003)
        #expect(sw.learnedMACs(of: c) == 2)
        #expect(sw.learnedMACs(of: a) + sw.learnedMACs(of: t) == 13)
    }

    /// A port flooding random sources fills its own share of the table only: stations learned on other ports stay
    /// and keep being forwarded to, and every refused source is counted `macLimit`.
    @Test func perPortLimitKeepsAFlooderFromEvictingOthers() {
        let sw = Switch(name: "lan0", macTableLimit: 16, macLimitPerPort: 8)
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        let c = sw.addPort(PortSettings(name: "c"))
        sw.receive(frame(broadcast, macB), from: b, now: 0)
        for station in 0..<1000 as Range<UInt64> {
            sw.receive(frame(broadcast, 0x0200_0001_0000 + station), from: a, now: 1 + station)
        }
        _ = sw.drainAll()
        #expect(sw.learnedMACs(of: a) == 8)
        #expect(sw.counters(of: a)?.drops[.macLimit] == 992)
        #expect(sw.counters(of: a)?.drops[.macTableFull] == nil)
        #expect(sw.macEntries(now: 2000).contains { $0.mac.rawValue == macB && $0.port == b })
        // Unicast to B still goes to B only.
        sw.receive(frame(macB, macC), from: c, now: 2000)
        #expect(sw.drainAll().keys.sorted() == [b])
        // A station moving onto a port at its limit is refused there too (and stays where it was).
        sw.receive(frame(broadcast, macB), from: a, now: 2001)
        #expect(sw.counters(of: a)?.drops[.macLimit] == 993)
        #expect(sw.macEntries(now: 2001).contains { $0.mac.rawValue == macB && $0.port == b })
        // Forgetting a port's addresses gives its share back.
        sw.setLink(a, up: false)
        sw.setLink(a, up: true)
        #expect(sw.learnedMACs(of: a) == 0)
        sw.receive(frame(broadcast, macA), from: a, now: 2002)
        #expect(sw.learnedMACs(of: a) == 1)
    }

    /// The forwarding path caches the table slots of the latest source and destination; every change to the
    /// table's shape between two frames of one flow must be seen by the next frame.
    @Test func aFlowSeesEveryChangeToTheTableBetweenItsFrames() {
        let sw = Switch(name: "lan0", macAgeingNs: 1_000)
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        let c = sw.addPort(PortSettings(name: "c"))
        sw.receive(frame(macA, macB), from: b, now: 0)
        _ = sw.drainAll()
        sw.receive(frame(macB, macA), from: a, now: 1)
        #expect(sw.drainAll().keys.sorted() == [b])
        // The destination's port goes down: the entry is forgotten, so the flow floods to who is left.
        sw.setLink(b, up: false)
        sw.setLink(b, up: true)
        sw.receive(frame(macB, macA), from: a, now: 2)
        #expect(sw.drainAll().keys.sorted() == [b, c])
        // Learned again, then many new stations rehash the table under the cached slots.
        sw.receive(frame(macA, macB), from: b, now: 3)
        _ = sw.drainAll()
        for station in 0..<200 { sw.receive(frame(macA, 0x0200_0000_1000 + UInt64(station)), from: c, now: 4) }
        _ = sw.drainAll()
        sw.receive(frame(macB, macA), from: a, now: 5)
        #expect(sw.drainAll().keys.sorted() == [b])
        // The destination moves; then the source's entry is refreshed through its slot and keeps it alive.
        sw.receive(frame(macA, macB), from: c, now: 6)
        _ = sw.drainAll()
        sw.receive(frame(macB, macA), from: a, now: 7)
        #expect(sw.drainAll().keys.sorted() == [c])
        sw.receive(frame(macB, macA), from: a, now: 900)
        _ = sw.drainAll()
        #expect(sw.macEntries(now: 1_500).map(\.port) == [a])
        // Ageing purges the table; flushing empties it: both flood the next frame.
        sw.purgeAged(now: 2_000)
        sw.receive(frame(macB, macA), from: a, now: 2_000)
        #expect(sw.drainAll().keys.sorted() == [b, c])
        sw.receive(frame(macA, macB), from: b, now: 2_001)
        _ = sw.drainAll()
        sw.flushMACTable()
        sw.receive(frame(macB, macA), from: a, now: 2_002)
        #expect(sw.drainAll().keys.sorted() == [b, c])
        // A removed port's stations are forgotten.
        sw.receive(frame(macA, macB), from: b, now: 2_003)
        _ = sw.drainAll()
        sw.removePort(b)
        sw.receive(frame(macB, macA), from: a, now: 2_004)
        #expect(sw.drainAll().keys.sorted() == [c])
    }

    @Test func isolatedPortsReachOnlyTheUplink() {
        let sw = Switch(name: "lan0")
        let a = sw.addPort(PortSettings(name: "a", isolated: true))
        let b = sw.addPort(PortSettings(name: "b", isolated: true))
        let up = sw.addPort(PortSettings(name: "up"))
        sw.receive(frame(broadcast, macA), from: a, now: 0)
        #expect(sw.drainAll().keys.sorted() == [up])
        sw.receive(frame(broadcast, macC), from: up, now: 0)
        #expect(sw.drainAll().keys.sorted() == [a, b])
    }
}

@Suite struct SwitchLimitsTests {
    @Test func runtsOversizeAndLinkDownAreCounted() {
        let sw = Switch(name: "lan0", mtu: 100)
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        sw.receive([][...], from: a, now: 0)
        sw.receive(frame(broadcast, macA).prefix(13), from: a, now: 0)
        sw.receive(frame(broadcast, macA, length: 115), from: a, now: 0)
        sw.receive(frame(broadcast, macA, length: 114), from: a, now: 0)
        // A tag adds 4 bytes of allowance.
        sw.receive(frame(broadcast, macA, length: 118, vid: 0), from: a, now: 0)
        #expect(sw.drainAll()[b]?.count == 2)
        #expect(sw.counters(of: a)?.drops == [.runt: 2, .oversize: 1])
        sw.setLink(b, up: false)
        sw.receive(frame(broadcast, macA), from: a, now: 1)
        sw.receive(frame(broadcast, macB), from: b, now: 1)
        #expect(sw.drainAll().isEmpty)
        #expect(sw.counters(of: b)?.drops[.linkDown] == 2)
        sw.setLink(b, up: true)
        sw.receive(frame(broadcast, macA), from: a, now: 2)
        #expect(sw.drainAll()[b]?.count == 1)
    }

    @Test func fullEgressQueueTailDropsWithoutTouchingOthers() {
        let sw = Switch(name: "lan0")
        let a = sw.addPort(PortSettings(name: "a"))
        let slow = sw.addPort(PortSettings(name: "slow", queueFrames: 3))
        let fast = sw.addPort(PortSettings(name: "fast"))
        for index in 0..<10 { sw.receive(frame(broadcast, macA, length: 60 + index), from: a, now: 0) }
        #expect(sw.takeEgress(fast).count == 10)
        let kept = sw.takeEgress(slow)
        #expect(kept.map(\.count) == [60, 61, 62])
        #expect(sw.counters(of: slow)?.drops[.queueFull] == 7)
        #expect(sw.counters(of: fast)?.totalDrops == 0)
        let bytesLimited = sw.addPort(PortSettings(name: "bytes", queueBytes: 130))
        for _ in 0..<3 { sw.receive(frame(broadcast, macA), from: a, now: 0) }
        #expect(sw.takeEgress(bytesLimited).count == 2)
        #expect(sw.counters(of: bytesLimited)?.drops[.queueFull] == 1)
    }
}

@Suite struct SwitchVLANTests {
    @Test func accessPortsOnlySeeTheirVLANAndTrunksCarryTags() throws {
        let sw = Switch(name: "lan0")
        let a10 = sw.addPort(PortSettings(name: "a10", vlan: .access(vid: 10)))
        let b10 = sw.addPort(PortSettings(name: "b10", vlan: .access(vid: 10)))
        let c20 = sw.addPort(PortSettings(name: "c20", vlan: .access(vid: 20)))
        let trunk = sw.addPort(PortSettings(name: "trunk", vlan: .trunk(allowed: [10, 20], native: 1)))
        let plain = sw.addPort(PortSettings(name: "plain"))
        sw.receive(frame(broadcast, macA), from: a10, now: 0)
        var out = sw.drainAll()
        #expect(out.keys.sorted() == [b10, trunk])
        #expect(try EthernetHeader(parsing: out[trunk]![0]).tag?.vid == 10)
        #expect(try EthernetHeader(parsing: out[b10]![0]).tag == nil)
        // Tagged VLAN 20 from the trunk reaches c20 untagged.
        sw.receive(frame(broadcast, macB, vid: 20), from: trunk, now: 1)
        out = sw.drainAll()
        #expect(out.keys.sorted() == [c20])
        #expect(out[c20]![0] == frame(broadcast, macB, length: 56))
        // Untagged on the trunk is native VLAN 1, like the default access port.
        sw.receive(frame(broadcast, macB), from: trunk, now: 2)
        #expect(sw.drainAll().keys.sorted() == [plain])
        // VLAN 30 is not allowed on the trunk; a tag on an access port is refused.
        sw.receive(frame(broadcast, macB, vid: 30), from: trunk, now: 3)
        sw.receive(frame(broadcast, macA, vid: 10), from: a10, now: 3)
        #expect(sw.drainAll().isEmpty)
        #expect(sw.counters(of: trunk)?.drops[.vlan] == 1)
        #expect(sw.counters(of: a10)?.drops[.vlan] == 1)
        // A priority tag (VID 0) on an access port belongs to the port's VLAN.
        sw.receive(frame(broadcast, macA, vid: 0), from: a10, now: 4)
        out = sw.drainAll()
        #expect(out[b10]?.first.map { try? EthernetHeader(parsing: $0).tag } == .some(nil))
        #expect(try EthernetHeader(parsing: out[trunk]![0]).tag?.vid == 10)
    }

    /// The vector `name` of `Protocols/vectors/ethernet/frames.vectors` as bytes.
    static func vector(_ name: String) throws -> ArraySlice<UInt8> {
        try VectorSet.bytes("ethernet/frames.vectors", name)[...]
    }

    /// VLAN hopping (ethernet.md §4.7): a priority tag hiding a second tag is refused on an access port, and counted.
    @Test func accessPortRefusesATagBehindAPriorityTag() throws {
        let sw = Switch(name: "lan0")
        let access = sw.addPort(PortSettings(name: "access", vlan: .access(vid: 1)))
        let other = sw.addPort(PortSettings(name: "other", vlan: .access(vid: 1)))
        let trunk = sw.addPort(PortSettings(name: "trunk", vlan: .trunk(allowed: nil, native: 1)))
        for file in ["vlan-hop-priority-then-dot1q", "vlan-hop-priority-then-dot1ad"] {
            sw.receive(try Self.vector(file), from: access, now: 0)
        }
        // An 802.1ad tag in place of the priority tag is refused too.
        var serviceTagged = frame(broadcast, macA, vid: 20)
        serviceTagged[serviceTagged.startIndex + 12] = 0x88
        serviceTagged[serviceTagged.startIndex + 13] = 0xA8
        sw.receive(serviceTagged, from: access, now: 0)
        #expect(sw.drainAll().isEmpty)
        #expect(sw.counters(of: access)?.drops == [.nestedTag: 3])
        #expect(sw.macEntries(now: 0).isEmpty)
        // A plain priority-tagged frame still belongs to the port's VLAN.
        sw.receive(frame(broadcast, macA, vid: 0), from: access, now: 1)
        #expect(sw.drainAll().keys.sorted() == [other, trunk])
    }

    /// A frame classified into a trunk's native VLAN with a tag at the start of its payload is never sent untagged
    /// (the outer tag removed, the inner one would be read as the VLAN); tagged copies still go out, and the refusal
    /// is counted on the sending port.
    @Test func nothingLeavesUntaggedWithATagInItsPayload() throws {
        let sw = Switch(name: "lan0")
        let uplink = sw.addPort(PortSettings(name: "uplink", vlan: .trunk(allowed: nil, native: 1)))
        let native = sw.addPort(PortSettings(name: "native", vlan: .trunk(allowed: nil, native: 1)))
        let tagged = sw.addPort(PortSettings(name: "tagged", vlan: .trunk(allowed: [1, 20], native: nil)))
        let access = sw.addPort(PortSettings(name: "access", vlan: .access(vid: 1)))
        let hop = try Self.vector("vlan-hop-priority-then-dot1q")
        sw.receive(hop, from: uplink, now: 0)
        let out = sw.drainAll()
        #expect(out.keys.sorted() == [tagged])
        // The copy that leaves tagged carries VLAN 1 outside, the inner VLAN 20 tag behind it.
        #expect(try EthernetHeader(parsing: out[tagged]![0]).tag?.vid == 1)
        #expect(Array(out[tagged]![0].dropFirst(16).prefix(4)) == [0x81, 0x00, 0x00, 0x14])
        #expect(sw.counters(of: uplink)?.drops[.nestedTag] == 1)
        #expect(sw.counters(of: native)?.totalDrops == 0)
        // VLAN 20 tagged from a trunk with another tag inside: not handed untagged to the access port either.
        let access20 = sw.addPort(PortSettings(name: "access20", vlan: .access(vid: 20)))
        var inner = frame(broadcast, macB, vid: 20)
        inner.replaceSubrange((inner.startIndex + 16)..<(inner.startIndex + 18), with: [0x81, 0x00])
        sw.receive(inner, from: tagged, now: 1)
        #expect(sw.drainAll().keys.sorted() == [uplink, native])
        #expect(sw.counters(of: tagged)?.drops[.nestedTag] == 1)
        _ = (access, access20)
    }

    @Test func sameMACLearnedSeparatelyPerVLAN() {
        let sw = Switch(name: "lan0")
        let trunk = sw.addPort(PortSettings(name: "trunk", vlan: .trunk(allowed: nil, native: nil)))
        let a = sw.addPort(PortSettings(name: "a", vlan: .access(vid: 5)))
        sw.receive(frame(broadcast, macA, vid: 5), from: trunk, now: 0)
        sw.receive(frame(broadcast, macA, vid: 6), from: trunk, now: 0)
        #expect(sw.macEntries(now: 0).map(\.vid) == [5, 6])
        _ = sw.drainAll()
        sw.receive(frame(macA, macB), from: a, now: 1)
        #expect(sw.drainAll()[trunk]?.count == 1)
    }
}

@Suite struct MACTableTests {
    /// One step of a random script, applied to the table and to the model (`order`, least recently seen first):
    /// a known key is refreshed (`roll` below `refreshBelow`) or removed (below `removeBelow`); a new key is inserted,
    /// or evicts the least recently seen when the table is full. Every `portWideEvery` steps the key's port is
    /// removed wholesale, and at `resetAt` everything.
    static func applyRandomStep(
        _ table: MACTable, _ order: inout [(key: UInt64, port: Int)], key: UInt64, port: Int, now step: UInt64,
        roll: UInt64, refreshBelow: UInt64, removeBelow: UInt64, portWideEvery: UInt64, resetAt: UInt64
    ) {
        let known = order.firstIndex { $0.key == key }
        switch (known, roll) {
        case (let position?, 0..<refreshBelow):
            table.touch(table.slot(for: key)!, port: PortID(rawValue: port), now: step)
            order.remove(at: position)
            order.append((key, port))
        case (let position?, refreshBelow..<removeBelow):
            #expect(table.remove(table.slot(for: key)!).key == key)
            order.remove(at: position)
        case (nil, _) where order.count < table.capacity:
            table.insert(key, port: PortID(rawValue: port), now: step)
            order.append((key, port))
        case (nil, _):
            let replaced = table.replaceHead(with: key, port: PortID(rawValue: port), now: step)
            #expect(replaced?.evicted.key == order.first?.key)
            #expect(replaced.map { table[$0.slot].key } == key)
            order.removeFirst()
            order.append((key, port))
        default:
            break
        }
        if step % portWideEvery == portWideEvery - 1 {
            table.removeAll { $0.port.rawValue == port }
            order.removeAll { $0.port == port }
        }
        if step == resetAt {
            table.removeAll()
            order.removeAll()
        }
    }

    /// Random inserts, refreshes, evictions into a full table, removals, port-wide removals and full resets (long
    /// probe runs included: keys crowd a few VLANs and addresses) agree at every step with a model: a `Dictionary`
    /// for lookups and a list in last-seen order for the eviction order.
    @Test func agreesWithAReferenceModel() {
        let capacity = 300
        let table = MACTable(seed: 42, capacity: capacity)
        var order: [(key: UInt64, port: Int)] = []
        var random = SplitMix64(seed: 9)
        func check() {
            #expect(table.count == order.count)
            #expect(table.entries.map(\.key) == order.map(\.key))
            #expect(table.entries.map(\.port.rawValue) == order.map(\.port))
            for entry in order {
                guard let slot = table.slot(for: entry.key) else {
                    Issue.record("key \(entry.key) lost")
                    continue
                }
                #expect(table[slot].key == entry.key)
            }
        }
        for step in 0..<30_000 as Range<UInt64> {
            let key = (random.next() % 3) << 48 | (random.next() % 700)
            let port = Int(random.next() % 4)
            Self.applyRandomStep(
                table, &order, key: key, port: port, now: step, roll: random.next() % 100, refreshBelow: 40,
                removeBelow: 70, portWideEvery: 5_000, resetAt: 20_000)
            if step % 97 == 0 {
                check()
                for probe in 0..<800 as Range<UInt64> {
                    let key = (probe % 3) << 48 | probe
                    #expect(table.slot(for: key).map { table[$0].key } == order.first { $0.key == key }?.key)
                }
            }
        }
        check()
    }

    /// Keys crowded into a few buckets (chosen through the table's own hash, so this seed's buckets overflow:
    /// more keys share a home than it has lanes, the last bucket's overflow wrapping round to the first) agree
    /// with the same model through inserts, refreshes, evictions, removals and resets; at every check each
    /// bucket's overflow count is exactly the entries that passed it, so removals count overflows off again.
    @Test func crowdedBucketsAgreeWithAReferenceModel() {
        let capacity = 64
        let table = MACTable(seed: 5, capacity: capacity)
        let index = table.index
        let last = index.bucketCount - 1
        var wanted = [last: 14, 0: 10, 1: 6, 7: 12]
        var crowded: [UInt64] = []
        var key: UInt64 = 0x0200_0000_0000
        while !wanted.values.allSatisfy({ $0 == 0 }) {
            key += 1
            let home = index.homeBucket(of: key)
            if let left = wanted[home], left > 0 {
                wanted[home] = left - 1
                crowded.append(key)
            }
        }
        var random = SplitMix64(seed: 3)
        let pool = crowded + (0..<30).map { _ in 0x0400_0000_0000 | random.next() % 0xFFFF_FFFF }
        var order: [(key: UInt64, port: Int)] = []
        var mostOverflowing = 0
        var wrapped = false
        func check() {
            #expect(index.isConsistent)
            #expect(table.count == order.count)
            #expect(table.entries.map(\.key) == order.map(\.key))
            for key in pool {
                #expect(table.slot(for: key).map { table[$0].key } == order.first { $0.key == key }?.key)
            }
            mostOverflowing = max(mostOverflowing, index.overflowingEntries)
            // Each entry's slot knows where the index holds it (evictions go there without a lookup).
            for entry in order {
                guard let slot = table.slot(for: entry.key) else { continue }
                #expect(index.slot(at: Int(table[slot].place)) == slot)
            }
            for key in crowded.prefix(14) {
                guard let slot = table.slot(for: key) else { continue }
                if table[slot].place >> 3 != last { wrapped = true }
            }
        }
        for step in 0..<20_000 as Range<UInt64> {
            let key = random.next() % 4 == 0 ? pool[Int(random.next() % UInt64(pool.count))] : crowded[Int(step % 42)]
            let port = Int(random.next() % 3)
            Self.applyRandomStep(
                table, &order, key: key, port: port, now: step, roll: random.next() % 100, refreshBelow: 50,
                removeBelow: 80, portWideEvery: 4_000, resetAt: 15_000)
            if step % 53 == 0 { check() }
        }
        check()
        // The test reached what it is about: entries outside their home bucket, also past the last bucket.
        #expect(mostOverflowing >= 10)
        #expect(wrapped)
        for entry in order { table.remove(table.slot(for: entry.key)!) }
        #expect(index.isConsistent && index.overflowingEntries == 0 && table.count == 0)
    }

    /// Storage is written only as it is used (the index at the first insert): a table never inserted into answers
    /// lookups and resets without reading it, and works normally from its first insert, also after a reset.
    @Test func aTableUsedLateBehavesLikeOneUsedEarly() {
        let table = MACTable(seed: 7, capacity: 8192)
        for key in 0..<1000 as Range<UInt64> { #expect(table.slot(for: key) == nil) }
        #expect(table.replaceHead(with: 1, port: PortID(rawValue: 0), now: 0) == nil)
        table.removeAll { _ in true }
        table.removeAll()
        #expect(table.count == 0 && table.entries.isEmpty)
        let slot = table.insert(0x0200_0000_0001, port: PortID(rawValue: 3), now: 5)
        #expect(table.slot(for: 0x0200_0000_0001) == slot)
        #expect(table[slot].port == PortID(rawValue: 3))
        #expect(table.slot(for: 0x0200_0000_0002) == nil)
        table.removeAll()
        #expect(table.slot(for: 0x0200_0000_0001) == nil)
        let again = table.insert(0x0200_0000_0002, port: PortID(rawValue: 1), now: 6)
        #expect(table.slot(for: 0x0200_0000_0002) == again && table.count == 1)
    }

    /// A table of size one and an empty one: eviction reuses the only slot; an empty table has nothing to evict.
    @Test func tinyTables() {
        let one = MACTable(seed: 1, capacity: 1)
        one.insert(5, port: PortID(rawValue: 0), now: 0)
        #expect(one.replaceHead(with: 6, port: PortID(rawValue: 1), now: 1)?.evicted.key == 5)
        #expect(one.slot(for: 5) == nil)
        #expect(one.slot(for: 6).map { one[$0].port } == PortID(rawValue: 1))
        #expect(one.entries.map(\.key) == [6])
        let none = MACTable(seed: 1, capacity: 0)
        #expect(none.replaceHead(with: 6, port: PortID(rawValue: 1), now: 1) == nil)
        #expect(none.slot(for: 6) == nil)
    }
}

@Suite struct PortCountersTests {
    /// The drop table is sized by a literal: every reason must have a slot of its own, or counting one would trap
    /// (past the end) or count under another reason.
    @Test func everyDropReasonHasItsOwnSlot() {
        #expect(PortCounters.dropReasonSlots == DropReason.allCases.count)
        #expect(Set(DropReason.allCases.map(\.index)) == Set(0..<PortCounters.dropReasonSlots))
        var counters = PortCounters()
        for (position, reason) in DropReason.allCases.enumerated() {
            counters.drop(reason, count: UInt64(position + 1))
        }
        for (position, reason) in DropReason.allCases.enumerated() {
            #expect(counters.drops(reason) == UInt64(position + 1))
            #expect(counters.drops[reason] == UInt64(position + 1))
        }
        let count = DropReason.allCases.count
        #expect(counters.totalDrops == UInt64(count * (count + 1) / 2))
    }

    @Test func countersAreEqualOnlyWhenEveryDropCountIs() {
        var left = PortCounters()
        var right = PortCounters()
        left.rxFrames = 3
        right.rxFrames = 3
        #expect(left == right)
        for reason in DropReason.allCases {
            left.drop(reason)
            #expect(left != right, "a \(reason) drop must make the counters differ")
            right.drop(reason)
            #expect(left == right)
        }
        right.txBytes = 1
        #expect(left != right)
    }
}
