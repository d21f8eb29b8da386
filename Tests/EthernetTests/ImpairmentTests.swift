import EthernetWire
import Testing

@testable import Ethernet

@Suite struct ImpairmentTests {
    func pair(_ ingress: Impairments = .none, egress: Impairments = .none, seed: UInt64 = 1) -> (
        Switch, PortID, PortID
    ) {
        let sw = Switch(name: "lan0", seed: seed)
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b"))
        sw.setImpairments(b, ingress: ingress, egress: egress, now: 0)
        return (sw, a, b)
    }

    @Test func delayHoldsFramesUntilDue() {
        let (sw, a, b) = pair(egress: Impairments(delayNs: 1_000))
        sw.receive(frame(broadcast, macA), from: a, now: 100)
        #expect(sw.drainAll().isEmpty)
        #expect(sw.nextDeadline == 1_100)
        sw.advance(now: 1_099)
        #expect(sw.drainAll().isEmpty)
        sw.advance(now: 1_100)
        #expect(sw.drainAll()[b]?.count == 1)
        #expect(sw.nextDeadline == nil)
    }

    @Test func jitterStaysInRangeAndKeepsOrder() {
        let (sw, a, b) = pair(egress: Impairments(delayNs: 1_000, jitterNs: 500))
        for index in 0..<50 { sw.receive(frame(broadcast, macA, length: 60 + index), from: a, now: 0) }
        #expect(sw.nextDeadline.map { (1_000...1_500).contains($0) } == true)
        sw.advance(now: 999)
        #expect(sw.drainAll().isEmpty)
        sw.advance(now: 1_500)
        let out = sw.drainAll()[b] ?? []
        #expect(out.map(\.count) == (0..<50).map { 60 + $0 })
    }

    @Test func lossAndDuplicationFollowTheirProbabilities() {
        let (sw, a, b) = pair(egress: Impairments(loss: 0.25, duplicate: 0.5), seed: 7)
        var delivered = 0
        for _ in 0..<4_000 {
            sw.receive(frame(broadcast, macA), from: a, now: 0)
            delivered += sw.drainAll()[b]?.count ?? 0
        }
        let lost = sw.counters(of: b)?.drops[.impairmentLoss] ?? 0
        #expect((900...1_100).contains(lost))
        // 3000 survivors, half of them doubled.
        #expect((4_300...4_700).contains(delivered))
        // The same seed gives the same run.
        let (again, a2, b2) = pair(egress: Impairments(loss: 0.25, duplicate: 0.5), seed: 7)
        for _ in 0..<4_000 { again.receive(frame(broadcast, macA), from: a2, now: 0) }
        #expect(again.counters(of: b2)?.drops[.impairmentLoss] == lost)
    }

    @Test func tokenBucketPacesAndBoundsTheBacklog() {
        // 8000 bit/s = 1000 bytes/s = 1 byte per ms; burst 100 bytes; backlog 300 bytes.
        let (sw, a, b) = pair(egress: Impairments(rateBitsPerSecond: 8_000, burstBytes: 100, backlogBytes: 300))
        for _ in 0..<6 { sw.receive(frame(broadcast, macA, length: 100), from: a, now: 0) }
        // The burst passes at once; three more wait (300 bytes of backlog); the rest are dropped.
        #expect(sw.drainAll()[b]?.count == 1)
        #expect(sw.counters(of: b)?.drops[.rateLimit] == 2)
        #expect(sw.nextDeadline == 100_000_000)
        sw.advance(now: 100_000_000)
        #expect(sw.drainAll()[b]?.count == 1)
        sw.advance(now: 300_000_000)
        #expect(sw.drainAll()[b]?.count == 2)
    }

    @Test func ingressImpairmentDelaysForwarding() {
        let (sw, a, b) = pair(Impairments(delayNs: 50))
        sw.receive(frame(broadcast, macB), from: b, now: 0)
        #expect(sw.drainAll().isEmpty)
        sw.advance(now: 50)
        #expect(sw.drainAll()[a]?.count == 1)
        #expect(sw.macEntries(now: 50).first?.port == b)
    }

    @Test func presetsMatchTheAndroidProfiles() {
        #expect(ImpairmentPreset.gsm.up.rateBitsPerSecond == 14_400)
        #expect(ImpairmentPreset.edge.down.rateBitsPerSecond == 236_800)
        #expect(ImpairmentPreset.umts.down.delayNs == 35_000_000)
        #expect(ImpairmentPreset.umts.down.jitterNs == 165_000_000)
        #expect(ImpairmentPreset.hsdpa.down.rateBitsPerSecond == 14_400_000)
        #expect(ImpairmentPreset.lte.up.rateBitsPerSecond == 58_000_179)
        #expect(ImpairmentPreset.full.down.isNone)
        #expect(Impairments(loss: 2).invalidReason != nil)
        #expect(Impairments(loss: 0.5).invalidReason == nil)
    }

    @Test func clearingImpairmentsPassesFramesStraightThrough() {
        let (sw, a, b) = pair(egress: Impairments(delayNs: 10))
        sw.setImpairments(b, ingress: .none, egress: .none, now: 0)
        sw.receive(frame(broadcast, macA), from: a, now: 0)
        #expect(sw.drainAll()[b]?.count == 1)
    }

    /// A delay without a rate limit held every frame sent during it: 2 million frames into a port delayed by 60 s
    /// grew the hub by 306 MiB. Held frames are bounded in bytes per port and direction, the rest counted
    /// `impairmentFull`, and frames released make room again.
    @Test func delayedFramesAreBoundedInBytes() {
        let sw = Switch(name: "lan0", impairmentHeldBytes: 256 << 10, seed: 1)
        let a = sw.addPort(PortSettings(name: "a"))
        let b = sw.addPort(PortSettings(name: "b", queueFrames: 10_000, queueBytes: 4 << 20))
        sw.setImpairments(a, ingress: Impairments(delayNs: 1_000), egress: .none, now: 0)
        sw.setImpairments(b, ingress: .none, egress: Impairments(delayNs: 1_000), now: 0)
        // 10,000 frames of 100 bytes from a: 2621 fit in its ingress stage's 256 KiB.
        for _ in 0..<10_000 { sw.receive(frame(broadcast, macA, length: 100), from: a, now: 2_000) }
        #expect(sw.counters(of: a)?.drops(.impairmentFull) == 10_000 - 2_621)
        // Released into b's egress stage, which holds them all (the same bytes), then to b.
        sw.advance(now: 3_000)
        sw.advance(now: 4_000)
        #expect(sw.counters(of: b)?.drops(.impairmentFull) == 0)
        #expect(sw.drainAll()[b]?.count == 2_621)
        // The stages are empty again: the next burst is bounded alike, not refused whole.
        for _ in 0..<10_000 { sw.receive(frame(broadcast, macA, length: 100), from: a, now: 5_000) }
        #expect(sw.counters(of: a)?.drops(.impairmentFull) == 2 * (10_000 - 2_621))
    }
}
