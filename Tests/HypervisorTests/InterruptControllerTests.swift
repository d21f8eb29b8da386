import Testing

@testable import Hypervisor

@Suite struct InterruptControllerTests {
    @Test func raisesCoalesceWhilePending() {
        var controller = InterruptController(lineCount: 4)
        #expect(controller.raise(line: 2) == .pending)
        #expect(controller.raise(line: 2) == .coalesced)
        #expect(controller.raise(line: 2) == .coalesced)
        #expect(controller.raise(line: 9) == .noSuchLine)
        let delivery = controller.takeNext()
        // Three raises folded into one delivery report 3 (`Protocols/guest.md` §6.3 IRQ.coalesced).
        #expect(delivery == InterruptController.Delivery(line: 2, priority: 7, coalesced: 3))
        #expect(controller.takeNext() == nil)
        #expect(controller.counters.raised == 3)
        #expect(controller.counters.coalesced == 2)
    }

    @Test func highestPriorityFirstTiesToLowestLine() {
        var controller = InterruptController(lineCount: 8)
        controller.setPriority(line: 5, 3)
        controller.setPriority(line: 6, 3)
        controller.setPriority(line: 1, 12)
        let refused = controller.setPriority(line: 0, 16)
        #expect(!refused)
        for line in [1, 6, 5, 0] { _ = controller.raise(line: line) }
        var order: [Int] = []
        while let next = controller.takeNext() { order.append(next.line) }
        #expect(order == [5, 6, 0, 1])
    }

    @Test func inServiceUntilEndOfInterrupt() {
        var controller = InterruptController(lineCount: 2)
        _ = controller.raise(line: 0)
        #expect(controller.takeNext()?.line == 0)
        // Raised again while in service: pending, but not deliverable until EOI.
        #expect(controller.raise(line: 0) == .pending)
        #expect(controller.nextDeliverable() == nil)
        let first = controller.endOfInterrupt(line: 0)
        let second = controller.endOfInterrupt(line: 0)
        #expect(first)
        #expect(!second)
        #expect(controller.takeNext()?.line == 0)
    }

    @Test func maskHoldsAndUnmaskReleases() {
        var controller = InterruptController(lineCount: 2)
        controller.setMasked(line: 1, true)
        _ = controller.raise(line: 1)
        #expect(controller.nextDeliverable() == nil)
        #expect(controller.lines[1].pending)
        controller.setMasked(line: 1, false)
        #expect(controller.nextDeliverable() == 1)
    }

    @Test func detachRequeuesUnacknowledgedLines() {
        var controller = InterruptController(lineCount: 2)
        _ = controller.raise(line: 1)
        _ = controller.takeNext()
        controller.requeueInService()
        #expect(controller.takeNext()?.line == 1)
    }
}
