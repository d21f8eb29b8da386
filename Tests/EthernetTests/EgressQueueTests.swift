import Testing

@testable import Ethernet

/// Egress queues laid out as the stream ports write them (`EgressQueue`, `Protocols/ethernet.md` §3, §4.5).
@Suite struct EgressQueueTests {
    /// The length prefix of one stream record.
    static func prefixed(_ frame: ArraySlice<UInt8>, width: Int) -> [UInt8] {
        let length = frame.count
        let prefix: [UInt8] =
            width == 4
            ? [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            : [UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        return prefix + frame
    }

    @Test func aStreamPortsFramesAreOneBufferOfPrefixedRecordsInOrder() {
        for width in [2, 4] {
            let sw = Switch(name: "lan0")
            let a = sw.addPort(PortSettings(name: "a"))
            let b = sw.addPort(PortSettings(name: "b"))
            sw.setEgressPrefix(b, width: width)
            let frames = (0..<40).map { frame(broadcast, macA, length: 60 + $0 * 37) }
            for (index, bytes) in frames.enumerated() { sw.receive(bytes, from: a, now: UInt64(index)) }
            let written = sw.takeEgress(b) { queue in (Array(queue.bytes), Array(queue)) }
            #expect(written?.0 == frames.flatMap { Self.prefixed($0, width: width) })
            #expect(written?.1 == frames)
            #expect(sw.counters(of: b)?.txFrames == 40)
            #expect(sw.takeEgress(b) { _ in true } == nil, "the queue is empty once taken")
        }
    }

    /// A frame queued to the port while its frames are being handed over (a write that makes another sender
    /// resume) is neither lost nor mixed into the buffer being written: it is there at the next call.
    @Test func framesQueuedWhileThePortIsBeingWrittenWaitForTheNextPass() {
        let sw = Switch(name: "lan0")
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        sw.setEgressPrefix(b, width: 4)
        sw.receive(frame(broadcast, macA, length: 64), from: a, now: 0)
        let first = sw.takeEgress(b) { queue -> [UInt8] in
            let bytes = Array(queue.bytes)
            sw.receive(frame(broadcast, macA, length: 100), from: a, now: 1)
            #expect(Array(queue.bytes) == bytes, "the buffer being written changed under the writer")
            return bytes
        }
        #expect(first == Self.prefixed(frame(broadcast, macA, length: 64), width: 4))
        #expect(sw.takeEgress(b) { Array($0.bytes) } == Self.prefixed(frame(broadcast, macA, length: 100), width: 4))
        #expect(sw.counters(of: b)?.txFrames == 2)
    }

    /// With a jumbo MTU a frame can be longer than a VDE cable's 2-byte length can say: it is dropped
    /// (`oversize` on that port) instead of garbling the stream, and the frames around it go out whole.
    @Test func aFrameTooLongForATwoBytePrefixIsDroppedNotTruncated() {
        let sw = Switch(name: "lan0", mtu: 65535)
        let a = sw.addPort(PortSettings(name: "a"))
        let vde = sw.addPort(PortSettings(name: "vde", queueBytes: 1 << 20))
        sw.setEgressPrefix(vde, width: 2)
        let small = frame(broadcast, macA, length: 60)
        sw.receive(small, from: a, now: 0)
        sw.receive(frame(broadcast, macA, length: 65536), from: a, now: 1)
        sw.receive(small, from: a, now: 2)
        #expect(
            sw.takeEgress(vde) { Array($0.bytes) } == Self.prefixed(small, width: 2) + Self.prefixed(small, width: 2))
        #expect(sw.counters(of: vde)?.drops[.oversize] == 1)
    }

    /// A datagram port carries at most one UDP datagram per frame: a longer frame is counted `oversize` on that port
    /// and never queued (it was counted as sent and lost in the failed send).
    @Test func aFrameOverThePortsEgressLimitIsCountedOversizeNotQueued() {
        let sw = Switch(name: "lan0", mtu: 65535)
        let a = sw.addPort(PortSettings(name: "a"))
        let udp = sw.addPort(PortSettings(name: "udp", queueBytes: 1 << 20))
        sw.setEgressFrameLimit(udp, 65507)
        sw.receive(frame(broadcast, macA, length: 65507), from: a, now: 0)
        sw.receive(frame(broadcast, macA, length: 65508), from: a, now: 1)
        #expect(sw.takeEgress(udp).map(\.count) == [65507])
        #expect(sw.counters(of: udp)?.drops(.oversize) == 1)
        #expect(sw.counters(of: udp)?.txFrames == 1)
    }

    /// A frame a UDP port's full send queue refused after the switch counted it sent is counted `sendQueueFull`
    /// instead (`ethernet.md` §4.5), or as well, when the transport still sent it to another VXLAN host.
    @Test func aFrameTheTransportRefusedIsCountedSendQueueFullNotSent() {
        let sw = Switch(name: "lan0")
        let a = sw.addPort(PortSettings(name: "a"))
        let udp = sw.addPort(PortSettings(name: "udp"))
        for n in 0..<3 { sw.receive(frame(broadcast, macA, length: 100), from: a, now: UInt64(n)) }
        #expect(sw.takeEgress(udp).count == 3)
        sw.countRefusedEgress(.sendQueueFull, on: udp, bytes: 100)
        sw.countRefusedEgress(.sendQueueFull, on: udp, bytes: 100, sentElsewhere: true)
        let counters = sw.counters(of: udp)
        #expect(counters?.txFrames == 2 && counters?.txBytes == 200)
        #expect(counters?.drops(.sendQueueFull) == 2 && counters?.rxFrames == 0)
    }

    @Test func settingThePrefixKeepsFramesAlreadyQueued() {
        let sw = Switch(name: "lan0")
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        let queued = frame(broadcast, macA, length: 70)
        sw.receive(queued, from: a, now: 0)
        sw.setEgressPrefix(b, width: 4)
        #expect(sw.takeEgress(b) { Array($0.bytes) } == Self.prefixed(queued, width: 4))
    }

    /// The queue copies frames into room it keeps across passes (bytes past the queued ones are left over from
    /// earlier passes): random runs of appends, takes and clears against a plain model of the records, for each
    /// prefix width, must always show exactly the queued records, however the room grew or what it held before.
    @Test func reusedRoomNeverShowsBytesOfEarlierPasses() {
        var random = SplitMix64(seed: 0x5eed)
        for width in [0, 2, 4] {
            var queue = EgressQueue(prefixWidth: width)
            var model: [[UInt8]] = []
            for step in 0..<3000 {
                switch random.next() % 10 {
                case 0:
                    queue.removeAll(keepingCapacity: random.next() % 2 == 0)
                    model.removeAll()
                default:
                    let length = Int(random.next() % 1600)
                    let fill = UInt8(truncatingIfNeeded: step)
                    let frame = (0..<length).map { UInt8(truncatingIfNeeded: $0) &+ fill }
                    frame.withUnsafeBytes { queue.append($0) }
                    model.append(frame)
                }
                #expect(queue.count == model.count)
                #expect(queue.frameBytes == model.reduce(0) { $0 + $1.count })
                let expected = model.flatMap { frame -> [UInt8] in
                    let length = frame.count
                    let prefix: [UInt8] =
                        width == 4
                        ? [
                            UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
                            UInt8(length & 0xFF),
                        ]
                        : width == 2 ? [UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] : []
                    return prefix + frame
                }
                guard Array(queue.bytes) == expected, queue.map(Array.init) == model else {
                    Issue.record("width \(width), step \(step): the queue differs from the model")
                    return
                }
            }
        }
    }

    /// Records queued as one block (`appendRecords`, a stream read's run) are the same queue as their frames
    /// queued one by one: the same buffer, frames, count and bytes, behind frames already queued and before later
    /// ones, at both widths and across the storage's growth.
    @Test func recordsQueuedAsOneBlockAreTheSameAsFramesQueuedOneByOne() {
        for width in [2, 4] {
            var single = EgressQueue(prefixWidth: width)
            var block = EgressQueue(prefixWidth: width)
            let before = frame(broadcast, macA, length: 70)
            single.append(before)
            block.append(before)
            for count in [1, 2, 7, 300] {
                let frames = (0..<count).map { frame(broadcast, macA, length: 14 + ($0 * 53) % 1500) }
                for bytes in frames { single.append(bytes) }
                let records = frames.flatMap { Self.prefixed($0, width: width) }
                records.withUnsafeBytes { block.appendRecords($0, count: count) }
            }
            single.append(before)
            block.append(before)
            #expect(Array(block.bytes) == Array(single.bytes))
            #expect(Array(block) == Array(single))
            #expect(block.count == single.count && block.frameBytes == single.frameBytes)
        }
    }

}
