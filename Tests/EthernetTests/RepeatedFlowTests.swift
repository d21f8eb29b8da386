import EthernetWire
import Testing

@testable import Ethernet

/// A frame whose header repeats the previous one's reuses that frame's forwarding decision (`Switch.repeatFlow`).
/// It must change nothing a frame does: the same random scripts run through a switch that reuses decisions and one
/// that decides every frame afresh, and everything observable is compared after every step — queued and written
/// frames, per-port counters and drops by reason, learned addresses and their order, pressure.
@Suite struct RepeatedFlowTests {
    /// Two switches fed the same calls.
    final class Pair {
        let fast: Switch
        let reference: Switch
        var random: SplitMix64
        var now: UInt64 = 1
        var ports: [PortID] = []
        /// Frames the fast switch could have reused a decision for (same header and port as the frame before).
        var repeatedHeaders = 0
        var previous: (PortID, ArraySlice<UInt8>)?
        var lastRun: (PortID, [UInt8])?

        init(seed: UInt64) {
            random = SplitMix64(seed: seed)
            // Small limits so runs meet full queues, a full table, the per-port limit and ageing.
            func make() -> Switch {
                Switch(name: "lan0", mtu: 200, macAgeingNs: 2_000, macTableLimit: 6, macLimitPerPort: 3, seed: 7)
            }
            fast = make()
            reference = make()
            reference.repeatsFlows = false
            for index in 0..<5 { ports.append(addPort(index)) }
        }

        func addPort(_ index: Int) -> PortID {
            let settings = Pair.settings(index, variant: 0)
            let id = fast.addPort(settings)
            #expect(reference.addPort(settings) == id)
            return id
        }

        static func settings(_ index: Int, variant: UInt64) -> PortSettings {
            let vlan: PortSettings.VLANMode =
                switch (index + Int(variant)) % 5 {
                case 3: .trunk(allowed: nil, native: 1)
                case 4: .access(vid: 2)
                default: .access(vid: 1)
                }
            return PortSettings(
                name: "p\(index)", vlan: vlan, isolated: variant % 3 == 1 && index < 3,
                queueFrames: index == 0 ? 3 : 6 + Int(variant % 4), queueBytes: index == 1 ? 400 : 1 << 20)
        }

        func both(_ body: (Switch) -> Void) {
            body(fast)
            body(reference)
        }

        func pick(_ count: Int) -> Int { Int(random.next() % UInt64(count)) }

        static let macs: [UInt64] = [
            0x0200_0000_0001, 0x0200_0000_0002, 0x0200_0000_0003, 0x0200_0000_0004, 0x0200_0000_0005,
            0x0200_0000_0006, 0x0200_0000_0007, 0x0200_0000_0008, 0xFFFF_FFFF_FFFF, 0x0100_5E00_0001,
        ]

        /// A header: mostly two unicast stations from a small pool (so they repeat and move between ports),
        /// sometimes broadcast, multicast, a group source, a VLAN tag or a tag type in the type field.
        func header() -> [UInt8] {
            let destination = Pair.macs[pick(10)]
            let source = pick(12) == 0 ? Pair.macs[9] : Pair.macs[pick(8)]
            var bytes = MACAddress(rawValue: destination).bytes + MACAddress(rawValue: source).bytes
            switch pick(12) {
            case 0: bytes += [0x81, 0x00, 0x00, UInt8(pick(3))]
            case 1: bytes += [0x88, 0xA8]
            default: bytes += pick(2) == 0 ? [0x08, 0x00] : [0x88, 0xB5]
            }
            return bytes
        }

        func length() -> Int {
            switch pick(20) {
            case 0: [0, 6, 13, 14, 15, 16, 17][pick(7)]
            case 1: [213, 214, 215, 218, 219, 300][pick(6)]
            default: 60 + pick(40)
            }
        }

        /// A run of frames with one header from one port, as a QEMU sender writes them, in one or several reads.
        func run() {
            // Half the runs resume the previous run's sender and header, so a change between runs meets a remembered
            // decision it invalidates.
            let resume = lastRun.flatMap { ports.contains($0.0) && pick(2) == 0 ? $0 : nil }
            let from = resume?.0 ?? ports[pick(ports.count)]
            let head = resume?.1 ?? header()
            lastRun = (from, head)
            let frames = 1 + pick(12)
            let sameTime = pick(2) == 0
            for index in 0..<frames {
                var bytes = head
                let total = length()
                if total < bytes.count {
                    bytes.removeLast(bytes.count - total)
                } else {
                    bytes += (0..<(total - bytes.count)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
                }
                if !sameTime { now += UInt64(pick(700)) }
                if let previous, previous.0 == from, previous.1.prefix(14) == bytes[...].prefix(14) {
                    repeatedHeaders += 1
                }
                previous = (from, bytes[...])
                both { $0.receive(bytes[...], from: from, now: now) }
                #expect(fast.pressureHits == reference.pressureHits)
                if pick(6) == 0 { drain(ports[pick(ports.count)]) }
            }
        }

        func drain(_ id: PortID) {
            #expect(fast.takeEgress(id) == reference.takeEgress(id))
        }

        /// Something between frames that changes what a frame's decision must be.
        func change() {
            let id = ports[pick(ports.count)]
            switch pick(11) {
            case 0: both { $0.flushMACTable() }
            case 1:
                let up = pick(2) == 0
                both { $0.setLink(id, up: up) }
            case 2:
                let settings = Pair.settings(pick(5), variant: random.next() % 12)
                both { $0.updateSettings(id, settings) }
            case 3:
                let impairments = pick(2) == 0 ? Impairments.none : Impairments(loss: 0.3)
                let ingress = pick(2) == 0
                both {
                    $0.setImpairments(
                        id, ingress: ingress ? impairments : .none, egress: ingress ? .none : impairments, now: now)
                }
            case 4:
                both { $0.removePort(id) }
                ports.removeAll { $0 == id }
                ports.append(addPort(pick(5)))
            case 5:
                let mtu = [100, 200, 1500][pick(3)]
                both { $0.mtu = mtu }
            case 6:
                now += UInt64(pick(3_000))
                both { $0.purgeAged(now: now) }
            case 7:
                let stalled = pick(2) == 0
                both { $0.setStalled(id, stalled) }
            case 8:
                now += UInt64(pick(3_000))
                both { $0.advance(now: now) }
            default:
                let fastReady = fast.takeReadyPorts()
                #expect(fastReady == reference.takeReadyPorts())
                for ready in fastReady { drain(ready) }
            }
        }

        func compare() {
            #expect(fast.portIDs == reference.portIDs)
            for id in fast.portIDs {
                #expect(fast.counters(of: id) == reference.counters(of: id), "counters of \(id)")
                #expect(fast.queuedFrames(of: id) == reference.queuedFrames(of: id))
                #expect(fast.learnedMACs(of: id) == reference.learnedMACs(of: id))
                #expect(fast.isPressured(id) == reference.isPressured(id))
            }
            #expect(fast.forwardedFrames == reference.forwardedFrames)
            #expect(fast.floodedFrames == reference.floodedFrames)
            #expect(fast.macEntriesBySeen(now: now) == reference.macEntriesBySeen(now: now))
            #expect(fast.nextDeadline == reference.nextDeadline)
        }
    }

    @Test(arguments: 1...12 as ClosedRange<UInt64>)
    func reusedDecisionsChangeNothingAnyFrameDoes(seed: UInt64) {
        let pair = Pair(seed: seed)
        for _ in 0..<300 {
            if pair.pick(4) == 0 { pair.change() } else { pair.run() }
            pair.compare()
        }
        for id in pair.ports { pair.drain(id) }
        pair.compare()
        // The scripts do repeat headers, so the reuse is exercised, not just the full path.
        #expect(pair.repeatedHeaders > 300)
    }

    /// The case it is for: one station sending to another through a queue that fills — every frame after the first
    /// reuses the decision, and each is counted, queued or dropped exactly as when decided afresh.
    @Test func aRunToAFullQueueCountsEveryFrame() {
        let pair = Pair(seed: 99)
        let a = pair.ports[1]
        let b = pair.ports[0]
        let toA = frame(0x0200_0000_0001, 0x0200_0000_0002)
        let toB = frame(0x0200_0000_0002, 0x0200_0000_0001)
        pair.both { $0.receive(toA, from: b, now: 1) }
        pair.both { $0.receive(toB, from: a, now: 2) }
        for time in 3..<20 as Range<UInt64> { pair.both { $0.receive(toB, from: a, now: 2 + time / 4) } }
        pair.now = 5
        pair.compare()
        #expect(pair.fast.counters(of: b)?.drops(.queueFull) == 15)
        #expect(pair.fast.queuedFrames(of: b) == 3)
    }

    /// Each change that alters a remembered decision, made between two frames of one flow: the frame after it is
    /// switched as when decided afresh.
    @Test(arguments: [
        "flush", "targetDown", "sourceDown", "targetVLAN", "sourceVLAN", "sourceTrunk", "isolated", "egressLoss",
        "ingressLoss", "moved", "aged", "mtu", "removed", "stalled",
    ])
    func aChangeBetweenFramesOfAFlowIsSeen(change: String) {
        let pair = Pair(seed: 5)
        let s = pair.ports[1]
        let t = pair.ports[2]
        let other = pair.ports[0]
        let toT = frame(0x0200_0000_0002, 0x0200_0000_0001, length: 100)
        pair.both { $0.receive(frame(0x0200_0000_0001, 0x0200_0000_0002), from: t, now: 1) }
        for time in 2..<5 as Range<UInt64> { pair.both { $0.receive(toT, from: s, now: time) } }
        #expect(pair.fast.counters(of: t)?.txFrames == 0 && pair.fast.queuedFrames(of: t) == 3)
        pair.both { _ = $0.takeEgress(t) }
        pair.now = 10
        switch change {
        case "flush": pair.both { $0.flushMACTable() }
        case "targetDown": pair.both { $0.setLink(t, up: false) }
        case "sourceDown": pair.both { $0.setLink(s, up: false) }
        case "targetVLAN": pair.both { $0.updateSettings(t, PortSettings(name: "p2", vlan: .access(vid: 2))) }
        case "sourceVLAN": pair.both { $0.updateSettings(s, PortSettings(name: "p1", vlan: .access(vid: 2))) }
        case "sourceTrunk":
            pair.both { $0.updateSettings(s, PortSettings(name: "p1", vlan: .trunk(allowed: nil, native: nil))) }
        case "isolated":
            pair.both {
                $0.updateSettings(s, PortSettings(name: "p1", isolated: true))
                $0.updateSettings(t, PortSettings(name: "p2", isolated: true))
            }
        case "egressLoss": pair.both { $0.setImpairments(t, ingress: .none, egress: Impairments(loss: 1), now: 10) }
        case "ingressLoss": pair.both { $0.setImpairments(s, ingress: Impairments(loss: 1), egress: .none, now: 10) }
        case "moved": pair.both { $0.receive(frame(0x0200_0000_0001, 0x0200_0000_0002), from: other, now: 9) }
        case "aged": pair.now = 5_000
        case "mtu": pair.both { $0.mtu = 50 }
        case "removed":
            pair.both { $0.removePort(t) }
            #expect(pair.fast.addPort(PortSettings(name: "new")) == pair.reference.addPort(PortSettings(name: "new")))
        case "stalled":
            pair.both { $0.setStalled(t, true) }
            for time in 5..<15 as Range<UInt64> { pair.both { $0.receive(toT, from: s, now: time) } }
        default: Issue.record("unknown change \(change)")
        }
        let now = pair.now
        pair.both { $0.receive(toT, from: s, now: now) }
        #expect(pair.fast.pressureHits == pair.reference.pressureHits)
        pair.compare()
        for id in pair.fast.portIDs { pair.drain(id) }
        pair.compare()
    }
}
