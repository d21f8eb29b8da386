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

        /// Queues of up to 72 frames instead of up to 9 and a table of 24 addresses instead of 6, so runs also
        /// meet room for many frames and stations that stay learned.
        let roomy: Bool

        init(seed: UInt64, roomy: Bool = false) {
            self.roomy = roomy
            random = SplitMix64(seed: seed)
            // Small limits so runs meet full queues, a full table, the per-port limit and ageing.
            func make() -> Switch {
                Switch(
                    name: "lan0", mtu: 200, macAgeingNs: 2_000, macTableLimit: roomy ? 24 : 6,
                    macLimitPerPort: roomy ? 12 : 3, seed: 7)
            }
            fast = make()
            reference = make()
            reference.repeatsFlows = false
            for index in 0..<5 { ports.append(addPort(index)) }
        }

        func addPort(_ index: Int) -> PortID {
            let settings = Pair.settings(index, variant: 0, deep: roomy)
            let id = fast.addPort(settings)
            #expect(reference.addPort(settings) == id)
            return id
        }

        static func settings(_ index: Int, variant: UInt64, deep: Bool = false) -> PortSettings {
            let vlan: PortSettings.VLANMode =
                switch (index + Int(variant)) % 5 {
                case 3: .trunk(allowed: nil, native: 1)
                case 4: .access(vid: 2)
                default: .access(vid: 1)
                }
            return PortSettings(
                name: "p\(index)", vlan: vlan, isolated: variant % 3 == 1 && index < 3,
                queueFrames: (index == 0 ? 3 : 6 + Int(variant % 4)) * (deep ? 8 : 1),
                queueBytes: index == 1 ? 400 * (deep ? 8 : 1) : 1 << 20)
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

        /// A run as a stream peer's read carries it (one time, each frame behind a `width`-byte length): the fast
        /// switch takes it as `StreamAttachment.switchFrames` does, runs through `receiveRun` and any other frame
        /// through `receive`, the reference frame by frame; compared after each call.
        /// With `transfer`, the run is between the first two ports' stations (one each), in either direction,
        /// as in a guest's transfer; otherwise from any port with any header, often the previous run's.
        func streamRun(width: Int, transfer: Bool = false) {
            let from: PortID
            let head: [UInt8]
            if transfer {
                let side = pick(2)
                from = ports[side]
                let stations = [Pair.macs[0], Pair.macs[1]].map { MACAddress(rawValue: $0).bytes }
                head = stations[1 - side] + stations[side] + [0x08, 0x00]
            } else {
                let resume = lastRun.flatMap { ports.contains($0.0) && pick(4) != 0 ? $0 : nil }
                from = resume?.0 ?? ports[pick(ports.count)]
                // Mostly two unicast stations and an untagged type; sometimes any header.
                let station = { MACAddress(rawValue: Pair.macs[self.pick(8)]).bytes }
                head = resume?.1 ?? (pick(4) == 0 ? header() : station() + station() + [0x08, 0x00])
            }
            lastRun = (from, head)
            now += UInt64(pick(700))
            // Often the other station has just answered from another port, so the destination is known and fresh.
            if pick(2) == 0 && head[0] & 1 == 0 && head[6] & 1 == 0 && ports.count > 1 {
                let answering =
                    transfer ? ports[ports[0] == from ? 1 : 0] : ports.filter { $0 != from }[pick(ports.count - 1)]
                let answer = Array(head[6..<12] + head[0..<6]) + [0x08, 0x00] + [UInt8](repeating: 0, count: 50)
                both { $0.receive(answer[...], from: answering, now: now) }
                #expect(fast.pressureHits == reference.pressureHits)
            }
            // Mostly after a pass wrote every port out, as the stream ports do between reads.
            if pick(3) != 0 {
                let ready = fast.takeReadyPorts()
                #expect(ready == reference.takeReadyPorts())
                for id in ready { drainRecords(id) }
            }
            var frames: [[UInt8]] = []
            for index in 0..<(1 + pick(24)) {
                var bytes = head
                let total = pick(8) == 0 ? length() : 60 + pick(40)
                if total < bytes.count {
                    bytes.removeLast(bytes.count - total)
                } else {
                    bytes += (0..<(total - bytes.count)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
                }
                frames.append(bytes)
            }
            var records: [UInt8] = []
            for frame in frames {
                records += width == 4 ? LengthPrefix.u32(frame.count) : LengthPrefix.u16(frame.count)
                records += frame
            }
            // The slice's room, and the longest frame the transport accepts (a longer one ends the read).
            let limit = pick(3) == 0 ? 1 + pick(4) : 256
            let maxLength = pick(6) == 0 ? 90 : 1600
            var cursor = 0
            var index = 0
            while index < frames.count && frames[index].count <= maxLength {
                let taken = records.withUnsafeBytes {
                    fast.receiveRun(
                        UnsafeRawBufferPointer(rebasing: $0[cursor...]), prefixWidth: width, limit: limit,
                        maxLength: maxLength, from: from, now: now)
                }
                var count = taken.frames
                if count > 0 {
                    #expect(count <= limit)
                    runFrames += count
                    cursor += taken.bytes
                } else {
                    fast.receive(frames[index][...], from: from, now: now)
                    cursor += width + frames[index].count
                    count = 1
                }
                for frame in frames[index..<index + count] { reference.receive(frame[...], from: from, now: now) }
                index += count
                #expect(fast.pressureHits == reference.pressureHits)
                compare()
            }
        }
        /// Frames `receiveRun` switched (the tests check the runs happen, so both paths are compared).
        var runFrames = 0

        func drain(_ id: PortID) {
            #expect(fast.takeEgress(id) == reference.takeEgress(id))
        }

        /// As `drain`, comparing the records as a stream port writes them (prefixes included).
        func drainRecords(_ id: PortID) {
            #expect(fast.takeEgress(id) { Array($0.bytes) } == reference.takeEgress(id) { Array($0.bytes) })
        }

        /// The first two ports back to their first settings, link up, unimpaired and not stalled: a transfer
        /// between them resumes after the changes that stopped it.
        func restoreFirstTwo() {
            for (index, id) in ports.prefix(2).enumerated() {
                let settings = Pair.settings(index, variant: 0, deep: roomy)
                both {
                    $0.updateSettings(id, settings)
                    $0.setLink(id, up: true)
                    $0.setImpairments(id, ingress: .none, egress: .none, now: now)
                    $0.setStalled(id, false)
                }
            }
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
                let settings = Pair.settings(pick(5), variant: random.next() % 12, deep: roomy)
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

    /// Runs of a stream read switched whole (`Switch.receiveRun`) change nothing either: ports laid out for every
    /// framing (no prefix, VDE's 2 bytes, QEMU's 4), readers of both widths, slices that cut runs short, frames
    /// over the transport's limit, and the same changes between reads; records compared byte for byte.
    @Test(arguments: 1...12 as ClosedRange<UInt64>)
    func switchedRunsChangeNothingAnyFrameDoes(seed: UInt64) {
        // Odd seeds: runs from any port with any header among small limits; even: mostly a transfer between
        // two stations with room, where most frames go in runs, and the same changes between its reads.
        let transfer = seed % 2 == 0
        let pair = Pair(seed: seed, roomy: transfer)
        func layOut(_ id: PortID) {
            let width = [0, 2, 4, 4][pair.pick(4)]
            pair.both { $0.setEgressPrefix(id, width: width) }
        }
        for id in pair.ports { layOut(id) }
        for _ in 0..<300 {
            switch pair.pick(8) {
            case 0,
                1 where !transfer || pair.pick(3) == 0:
                pair.change()
                for id in pair.ports where pair.fast.queuedFrames(of: id) == 0 && pair.pick(4) == 0 { layOut(id) }
            case 2 where transfer && pair.pick(3) == 0: pair.restoreFirstTwo()
            case 2: pair.run()
            case 3: pair.drainRecords(pair.ports[pair.pick(pair.ports.count)])
            default: pair.streamRun(width: pair.pick(3) == 0 ? 2 : 4, transfer: transfer && pair.pick(4) != 0)
            }
            pair.compare()
        }
        for id in pair.ports { pair.drainRecords(id) }
        pair.compare()
        // Runs were taken whole, so the comparison covers them and not only the frame-by-frame fallback.
        #expect(pair.runFrames > (transfer ? 200 : 0))
    }

    /// A port id no port has, negative included (a new switch remembers no flow, whose source is -1), takes no
    /// run and changes nothing, as `receive` ignores it.
    @Test func aRunFromAPortThatDoesNotExistIsNotTaken() {
        let sw = Switch(name: "lan0")
        let port = sw.addPort(PortSettings(name: "a"))
        let records = [UInt8](repeating: 0, count: 64)
        for id in [PortID(rawValue: -1), PortID(rawValue: 7)] {
            let taken = records.withUnsafeBytes {
                sw.receiveRun($0, prefixWidth: 4, limit: 1, maxLength: 1500, from: id, now: 1)
            }
            #expect(taken.frames == 0 && taken.bytes == 0)
        }
        #expect(sw.counters(of: port)?.rxFrames == 0 && sw.forwardedFrames == 0)
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

/// Big-endian length prefixes for records built by hand.
enum LengthPrefix {
    static func u32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
    static func u16(_ value: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }
}
