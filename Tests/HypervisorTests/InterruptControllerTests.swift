import TestSupport
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
        // The next session's IRQ stands for the raise that was not acknowledged: coalesced 1 (`Protocols/guest.md`
        // §6.3), where the controller said 0 and only the session's encoding made it 1.
        #expect(controller.takeNext() == InterruptController.Delivery(line: 1, priority: 7, coalesced: 1))
    }

    @Test func aRequeuedDeliveryCountsItsRaisesAndThoseDuringItsService() {
        var controller = InterruptController(lineCount: 4)
        for _ in 0..<3 { _ = controller.raise(line: 2) }
        #expect(controller.takeNext()?.coalesced == 3)
        _ = controller.raise(line: 2)
        _ = controller.raise(line: 2)
        controller.requeueInService()
        #expect(controller.takeNext() == InterruptController.Delivery(line: 2, priority: 7, coalesced: 5))
        // Acknowledged, a delivery is never counted again.
        controller.endOfInterrupt(line: 2)
        _ = controller.raise(line: 2)
        #expect(controller.takeNext()?.coalesced == 1)
        controller.requeueInService()
        #expect(controller.takeNext()?.coalesced == 1)
    }

    /// The controller's answers against a plain model of the spec's rules that scans every line, over seeded
    /// random scripts of every operation, for line counts on both sides of a 64-line word.
    @Test(arguments: [1, 2, 63, 64, 65, 130, InterruptController.maximumLineCount])
    func nextDeliverableMatchesAScanOfEveryLine(lineCount: Int) {
        let random = SeededRandomSource(seed: UInt64(lineCount) &* 0x9E37)
        var controller = InterruptController(lineCount: lineCount)
        var model = Array(repeating: ModelLine(), count: lineCount)
        func modelNext() -> Int? {
            var best: Int?
            for index in model.indices where model[index].pending && !model[index].masked && !model[index].inService {
                if best == nil || model[index].priority < model[best!].priority { best = index }
            }
            return best
        }
        for step in 0..<20_000 {
            // A few lines take most operations, so lines meet in every state and priority ties happen.
            let line = Int(random.next() % 8 == 0 ? random.next() % UInt64(lineCount) : random.next() % 4) % lineCount
            switch random.next() % 8 {
            case 0, 1:
                _ = controller.raise(line: line)
                if !model[line].pending { model[line].pending = true }
            case 2, 3:
                let taken = controller.takeNext()
                let expected = modelNext()
                #expect(taken?.line == expected, "step \(step)")
                if let expected {
                    model[expected].pending = false
                    model[expected].inService = true
                }
            case 4:
                controller.endOfInterrupt(line: line)
                model[line].inService = false
            case 5:
                let masked = random.next() % 2 == 0
                controller.setMasked(line: line, masked)
                model[line].masked = masked
            case 6:
                let priority = UInt8(random.next() % 16)
                controller.setPriority(line: line, priority)
                model[line].priority = priority
            default:
                if random.next() % 16 == 0 {
                    controller.requeueInService()
                    for index in model.indices where model[index].inService {
                        model[index].inService = false
                        model[index].pending = true
                    }
                } else if random.next() % 16 == 0 {
                    controller.resetConfiguration()
                    for index in model.indices {
                        model[index].masked = false
                        model[index].priority = InterruptController.defaultPriority
                    }
                }
            }
            #expect(controller.nextDeliverable() == modelNext(), "step \(step)")
            if controller.nextDeliverable() != modelNext() { return }
        }
    }

    private struct ModelLine {
        var priority = InterruptController.defaultPriority
        var masked = false
        var pending = false
        var inService = false
    }
}
