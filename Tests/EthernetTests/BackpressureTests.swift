import Ethernet
import Testing

@Suite struct BackpressureTests {
    @Test func aHalfFullQueueIsReportedForTheFrameThatFilledItAndDrainingRelievesIt() {
        let sw = Switch(name: "lan")
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b", queueFrames: 4))
        sw.receive(frame(0xFFFF_FFFF_FFFF, 0x0200_0000_000B), from: b, now: 0)  // b is learned
        _ = sw.takeEgress(a)
        sw.receive(frame(0x0200_0000_000B, 0x0200_0000_000A), from: a, now: 1)
        #expect(sw.pressureHits.isEmpty && !sw.hasPressure)
        sw.receive(frame(0x0200_0000_000B, 0x0200_0000_000A), from: a, now: 2)
        #expect(sw.pressureHits == [b] && sw.isPressured(b) && sw.hasPressure)
        #expect(sw.takeEgress(b).count == 2)
        #expect(!sw.isPressured(b) && !sw.hasPressure)
    }

    @Test func aStalledPortExertsNoPressureAndTailDrops() {
        let sw = Switch(name: "lan")
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b", queueFrames: 2))
        sw.receive(frame(0xFFFF_FFFF_FFFF, 0x0200_0000_000B), from: b, now: 0)
        sw.receive(frame(0x0200_0000_000B, 0x0200_0000_000A), from: a, now: 1)
        #expect(sw.isPressured(b))
        sw.setStalled(b, true)
        #expect(!sw.hasPressure && sw.isStalled(b))
        for time in 2..<5 { sw.receive(frame(0x0200_0000_000B, 0x0200_0000_000A), from: a, now: UInt64(time)) }
        #expect(sw.pressureHits.isEmpty)
        #expect(sw.counters(of: b)?.drops[.queueFull] == 2)
        sw.setStalled(b, false)
        #expect(!sw.isStalled(b))
    }
}
