import Hypervisor
import JSON
import PlatformControl
import Testing

/// The hub events each model event becomes (`Protocols/control.md`, events and §5.6): kinds, partitions, data.
@Suite struct PlatformEventsTests {
    @Test func aLatchedInterruptIsRaisedThenLatched() {
        let events = HypervisorEvent.interruptLatched(source: .injector("probe"), target: "linux", line: 3).hubEvents
        // Filters on irq.raised must see latched raises too: the same data under both kinds, raised first.
        #expect(events.map(\.kind) == ["irq.raised", "irq.latched"])
        #expect(events.allSatisfy { $0.partition == "linux" })
        #expect(events.allSatisfy { $0.data == ["line": 3, "from": "probe"] })
    }

    @Test func aCoalescedRaiseSaysSoAndOriginatorsAreNamed() {
        let coalesced = HypervisorEvent.interruptRaised(
            source: .device("modem0"), target: "rtos", line: 1, coalesced: true)
        #expect(coalesced.hubEvents.map(\.data) == [["line": 1, "from": "device:modem0", "coalesced": true]])
        let plain = HypervisorEvent.interruptRaised(source: .timer, target: "rtos", line: 0, coalesced: false)
        #expect(plain.hubEvents.map(\.data) == [["line": 0, "from": "timer"]])
    }

    @Test func refusalsCarryTheirWireNames() {
        let irq = HypervisorEvent.interruptRefused(
            source: .partition("linux"), target: "secure", line: 2, reason: .notPermitted
        ).hubEvents
        #expect(irq.map(\.kind) == ["irq.refused"])
        #expect(irq.first?.data["reason"] == "not_permitted")
        let msg = HypervisorEvent.messageRefused(link: "l1", sender: .injector("t"), reason: .linkClosing).hubEvents
        #expect(msg.map(\.kind) == ["msg.refused"])
        #expect(msg.first?.partition == nil)
        #expect(msg.first?.data == ["link": "l1", "sender": "injector:t", "reason": "link_closing"])
    }

    @Test func linkEventsBelongToNoPartition() {
        let opened = HypervisorEvent.linkOpened(link: "x", id: 9, a: "rtos", b: "linux", by: .injector("t")).hubEvents
        #expect(opened.map(\.kind) == ["link.opened"])
        #expect(opened.first?.partition == nil)
        #expect(opened.first?.data == ["link": "x", "id": 9, "endpoints": ["rtos", "linux"], "by": "injector:t"])
        let closing = HypervisorEvent.linkClosing(link: "x", id: 9, by: .injector("t"), held: 4).hubEvents
        #expect(closing.first?.data == ["link": "x", "id": 9, "by": "injector:t", "held": 4])
        #expect(HypervisorEvent.linkClosed(link: "x", id: 9).hubEvents.map(\.kind) == ["link.closed"])
    }

    @Test func suspendAndResumeCarryNoData() {
        let events = [HypervisorEvent.suspended(partition: "linux"), .resumed(partition: "linux")].flatMap(\.hubEvents)
        #expect(events.map(\.kind) == ["partition.suspended", "partition.resumed"])
        #expect(events.allSatisfy { $0.partition == "linux" && $0.data == [:] })
    }
}
