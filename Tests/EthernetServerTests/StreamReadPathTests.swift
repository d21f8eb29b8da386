import DeviceKitTesting
import EthernetServer
import JSON
import PlatformConfig
import Testing

/// The stream ports' read path (`Protocols/ethernet.md` §3, §4.5, §4.8) against hostile senders. A stream port
/// switches whole frames straight from the read buffer it is lent and copies only what it cannot switch at once;
/// `FakeByteStream` lends its buffer the same way and scribbles over it after every read, so a frame kept by
/// reference instead of copied arrives garbled here. Frames are numbered and every byte derives from the number,
/// so a lost, doubled, reordered or garbled frame is seen.
@Suite struct StreamReadPathTests {
    typealias Glue = EthernetGlueTests

    /// Frame `number` from a (…:01) to b (…:0b): 60 to 1514 bytes, every byte derived from the number.
    static func frame(_ number: Int) -> [UInt8] {
        let length = 60 + (number * 397) % 1455
        let header: [UInt8] = [2, 0, 0, 0, 0, 11, 2, 0, 0, 0, 0, 1, 0x88, 0xB5]
        let tag = [
            UInt8(number >> 24 & 0xFF), UInt8(number >> 16 & 0xFF), UInt8(number >> 8 & 0xFF), UInt8(number & 0xFF),
        ]
        let body = (0..<(length - 18)).map { UInt8(truncatingIfNeeded: number &* 7 &+ $0) }
        return header + tag + body
    }

    /// The frames in a QEMU stream, in order.
    static func frames(in stream: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var offset = 0
        while stream.count - offset >= 4 {
            let length = stream[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            guard stream.count - offset - 4 >= length else { break }
            out.append(Array(stream[offset + 4..<offset + 4 + length]))
            offset += 4 + length
        }
        return out
    }

    /// a and b connected, b's address learned (a's frames go to b alone), b's greeting taken.
    static func pair(_ bench: Glue.Bench) throws -> (a: FakeByteStream, b: FakeByteStream) {
        let a = try #require(bench.host.connect(to: Glue.endpointA))
        let b = try #require(bench.host.connect(to: Glue.endpointB))
        b.receive(Glue.streamed(Glue.broadcast(from: 11)))
        bench.host.runPasses(3)
        _ = a.takeWritten()
        return (a, b)
    }

    @Test func framesSplitAcrossTwoReadsAtEveryByteBoundaryArriveWholeAndInOrder() throws {
        let stream = [0, 1, 2].flatMap { Glue.streamed(Self.frame($0)) }
        let expected = [0, 1, 2].map(Self.frame)
        let bench = try Glue.Bench()
        let (a, b) = try Self.pair(bench)
        for cut in 1..<stream.count {
            a.receive(stream[..<cut])
            a.receive(stream[cut...])
            bench.host.runPasses(2)
            let got = Self.frames(in: b.takeWritten())
            #expect(got == expected, "split at byte \(cut)")
            if got != expected { break }
        }
        #expect(bench.counters("a")?["drops"]?["malformed"] == 0)
        #expect(bench.stop() == 0)
    }

    @Test func framesSentOneByteAtATimeThenInOddChunksArriveWhole() throws {
        let bench = try Glue.Bench()
        let (a, b) = try Self.pair(bench)
        let numbers = Array(0..<12)
        let stream = numbers.flatMap { Glue.streamed(Self.frame($0)) }
        for byte in stream { a.receive([byte]) }
        bench.host.runPasses(2)
        var offset = 0
        var size = 1
        while offset < stream.count {  // reads of 1, 8, 64, 512, 4096 ... bytes, cutting frames anywhere
            let end = min(stream.count, offset + size)
            a.receive(stream[offset..<end])
            offset = end
            size = size * 8 % 5001
        }
        bench.host.runPasses(2)
        #expect(Self.frames(in: b.takeWritten()) == (numbers + numbers).map(Self.frame))
        #expect(bench.stop() == 0)
    }

    /// One read carries more frames than a pass switches and ends inside a frame; the next read completes it.
    /// What the slice left is switched at the next passes, in order, then the straddling frame, then the rest.
    @Test func aReadLargerThanTheSliceEndingMidFrameLosesNothing() throws {
        let bench = try Glue.Bench(Glue.configuration { $0.hub.limits.ethernetReadFramesPerPass = 4 })
        let (a, b) = try Self.pair(bench)
        let numbers = Array(100..<130)
        let stream = numbers.flatMap { Glue.streamed(Self.frame($0)) }
        let cut = stream.count / 2 + 3
        a.receive(stream[..<cut])
        #expect(bench.counters("a")?["rxFrames"]?.intValue == 4, "one slice switched from the read")
        // The rest of the stream arrives while the first read is still being switched: it waits in the kernel.
        a.receive(stream[cut...])
        bench.host.runPasses(40)
        #expect(Self.frames(in: b.takeWritten()) == numbers.map(Self.frame))
        #expect(bench.counters("a")?["rxFrames"]?.intValue == numbers.count)
        #expect(bench.stop() == 0)
    }

    /// b never reads: a is paused with part of its read (and half a frame) unswitched; as b drains, every frame
    /// arrives once, in order, whole.
    @Test func aSenderPausedForAPeerThatNeverReadsKeepsItsHalfReadFramesIntact() throws {
        let bench = try Glue.Bench(
            Glue.configuration {
                $0.hub.limits.ethernetStreamHighWatermarkBytes = 256
                $0.devices.ethernet[0].ports[3].queueFrames = 8  // port b
            })
        let (a, b) = try Self.pair(bench)
        b.peerReads = false
        let numbers = Array(0..<300)
        let stream = numbers.flatMap { Glue.streamed(Self.frame($0)) }
        var offset = 0
        while offset < stream.count {  // reads of 3001 bytes: nearly every one ends inside a frame
            let end = min(stream.count, offset + 3001)
            a.receive(stream[offset..<end])
            offset = end
        }
        bench.host.runPasses(10)
        var got = Self.frames(in: b.takeWritten())
        #expect(got.count < numbers.count, "a was not held back")
        var leftover: [UInt8] = []
        for _ in 0..<2000 where got.count < numbers.count {
            b.drain()
            bench.host.runPasses(2)
            leftover += b.takeWritten()
            let more = Self.frames(in: leftover)
            got += more
            leftover.removeFirst(more.reduce(0) { $0 + 4 + $1.count })
        }
        #expect(got == numbers.map(Self.frame))
        #expect(bench.counters("b")?["drops"]?["queueFull"] == 0)
        #expect(bench.stop() == 0)
    }

    /// A sender that dies in the middle of a frame: its half frame is dropped with it, and the next peer on the
    /// port starts a clean stream (nothing of the dead peer's bytes is prepended to its first frame).
    @Test func aPeerKilledMidFrameLeavesNothingBehindForTheNextPeer() throws {
        let bench = try Glue.Bench()
        let (a, b) = try Self.pair(bench)
        let first = Glue.streamed(Self.frame(1)) + Glue.streamed(Self.frame(2))
        a.receive(first[..<(Glue.streamed(Self.frame(1)).count + 9)])
        a.end()
        bench.host.runPasses(3)
        #expect(!a.isOpen)
        #expect(Self.frames(in: b.takeWritten()) == [Self.frame(1)])
        let again = try #require(bench.host.connect(to: Glue.endpointA))
        again.receive(Glue.streamed(Self.frame(3)) + Glue.streamed(Self.frame(4)))
        bench.host.runPasses(3)
        #expect(Self.frames(in: b.takeWritten()) == [Self.frame(3), Self.frame(4)])
        #expect(bench.counters("a")?["drops"]?["malformed"] == 0)
        #expect(bench.stop() == 0)
    }

    /// Lengths at QEMU's limit are read whole (the switch judges them: oversize); one past it ends that peer,
    /// counted malformed, whether the length arrives whole or split across reads; frames before it are kept.
    @Test func oversizeLengthsAreJudgedAndABadLengthSplitAcrossReadsEndsOnlyThatPeer() throws {
        let limit = 4096 + 65536
        let bench = try Glue.Bench()
        let (a, b) = try Self.pair(bench)
        let atLimit = Glue.streamed([UInt8](repeating: 0x42, count: limit))
        a.receive(atLimit[..<5000])
        a.receive(atLimit[5000...] + Glue.streamed(Self.frame(5)))
        bench.host.runPasses(3)
        #expect(a.isOpen, "a length QEMU may send does not end the peer")
        #expect(bench.counters("a")?["drops"]?["oversize"] == 1)
        #expect(Self.frames(in: b.takeWritten()) == [Self.frame(5)])
        // One past the limit, its prefix split 2 + 2 across reads, behind a good frame in the first read.
        let bad = UInt32(limit + 1)
        let prefix: [UInt8] = [UInt8(bad >> 24), UInt8(bad >> 16 & 0xFF), UInt8(bad >> 8 & 0xFF), UInt8(bad & 0xFF)]
        a.receive(Glue.streamed(Self.frame(6)) + prefix[..<2])
        a.receive(prefix[2...] + [1, 2, 3])
        bench.host.runPasses(3)
        #expect(!a.isOpen)
        #expect(bench.counters("a")?["drops"]?["malformed"] == 1)
        #expect(Self.frames(in: b.takeWritten()) == [Self.frame(6)])
        // A huge length in the first bytes of a fresh peer.
        let c = try #require(bench.host.connect(to: Glue.endpointA))
        c.receive([0xFF, 0xFF, 0xFF, 0xFF] + Glue.streamed(Self.frame(7)))
        #expect(!c.isOpen)
        #expect(bench.counters("a")?["drops"]?["malformed"] == 2)
        #expect(b.takeWritten().isEmpty)
        #expect(bench.stop() == 0)
    }

    /// A read carrying far more frames than the destination's queue holds, with a slice that takes it whole: the
    /// queue is written out each time it is half full (the pressure hit, `ethernet.md` §4.6), so a destination that
    /// keeps up loses nothing, whatever the slice and however the pass's write-out is batched.
    @Test func aReadLargerThanTheDestinationQueueLosesNothingWhenTheDestinationKeepsUp() throws {
        let bench = try Glue.Bench(
            Glue.configuration {
                $0.hub.limits.ethernetReadFramesPerPass = 1000
                $0.devices.ethernet[0].ports[3].queueFrames = 8  // port b
            })
        let (a, b) = try Self.pair(bench)
        let numbers = Array(0..<200)
        a.receive(numbers.flatMap { Glue.streamed(Self.frame($0)) })
        #expect(bench.counters("a")?["rxFrames"]?.intValue == numbers.count, "the whole read in one pass")
        bench.host.runPasses(2)
        let arrived = Self.frames(in: b.takeWritten())
        let whole = arrived == numbers.map(Self.frame)
        #expect(whole, "\(arrived.count) of \(numbers.count) frames, in order and intact: \(whole)")
        #expect(bench.counters("b")?["drops"]?["queueFull"] == 0)
        #expect(bench.stop() == 0)
    }

    /// With a capture running the frames take the observed path (copied for the capture): the same bytes arrive.
    @Test func capturedFramesFromALentBufferArriveWhole() throws {
        let bench = try Glue.Bench(Glue.configuration { $0.hub.limits.ethernetReadFramesPerPass = 3 })
        let (a, b) = try Self.pair(bench)
        guard case .result = bench.call("eth.capture.start", ["segment": "lan0", "port": "a", "live": true]) else {
            Issue.record("eth.capture.start live failed")
            return
        }
        let numbers = Array(40..<50)
        let stream = numbers.flatMap { Glue.streamed(Self.frame($0)) }
        a.receive(stream[..<1001])
        a.receive(stream[1001...])
        bench.host.runPasses(20)
        #expect(Self.frames(in: b.takeWritten()) == numbers.map(Self.frame))
        #expect(bench.stop() == 0)
    }

    /// VDE stream ports (`Protocols/ethernet.md` §3: a 2-byte big-endian length): frames of 60 to 1514 bytes, whose
    /// lengths need both bytes, sent in one read and again cut into odd chunks, arrive whole and in order.
    @Test func vdeFramesOfEveryLengthArriveWholeInOneReadAndInChunks() throws {
        let endpointC = Endpoint.unix(path: "/fake/lan0-c.sock")
        let endpointD = Endpoint.unix(path: "/fake/lan0-d.sock")
        let bench = try Glue.Bench(
            Glue.configuration {
                $0.devices.ethernet[0].ports += [
                    EthernetPortConfig(name: "c", attachment: .vde(endpointC)),
                    EthernetPortConfig(name: "d", attachment: .vde(endpointD)),
                ]
            })
        func vde(_ frame: [UInt8]) -> [UInt8] { [UInt8(frame.count >> 8), UInt8(frame.count & 0xFF)] + frame }
        func frames(in stream: [UInt8]) -> [[UInt8]] {
            var out: [[UInt8]] = []
            var offset = 0
            while stream.count - offset >= 2 {
                let length = Int(stream[offset]) << 8 | Int(stream[offset + 1])
                guard stream.count - offset - 2 >= length else { break }
                out.append(Array(stream[offset + 2..<offset + 2 + length]))
                offset += 2 + length
            }
            return out
        }
        let c = try #require(bench.host.connect(to: endpointC))
        let d = try #require(bench.host.connect(to: endpointD))
        d.receive(vde(Glue.broadcast(from: 11)))
        bench.host.runPasses(3)
        _ = c.takeWritten()
        let numbers = Array(0..<40)
        let expected = numbers.map(Self.frame)
        let stream = expected.flatMap(vde)
        c.receive(stream[...])
        bench.host.runPasses(3)
        #expect(frames(in: d.takeWritten()) == expected)
        var offset = 0
        var size = 3
        while offset < stream.count {
            let end = min(stream.count, offset + size)
            c.receive(stream[offset..<end])
            offset = end
            size = size * 7 % 3001
        }
        bench.host.runPasses(3)
        #expect(frames(in: d.takeWritten()) == expected)
        #expect(bench.counters("c")?["drops"]?["malformed"] == 0)
        #expect(bench.stop() == 0)
    }
}
