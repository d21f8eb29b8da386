import Testing

@testable import Hypervisor

@Suite struct RingBufferTests {
    @Test func growsOnDemandKeepsOrderAndStopsAtCapacity() {
        var ring = RingBuffer<Int>(capacity: 20, initialStorage: 2)
        var expected: [Int] = []
        var next = 0
        // Interleave removals so the head wraps before each growth.
        for round in 0..<10 {
            for _ in 0..<3 where !ring.isFull {
                let appended = ring.append(next)
                #expect(appended)
                expected.append(next)
                next += 1
            }
            if round % 2 == 0, let first = ring.removeFirst() { #expect(first == expected.removeFirst()) }
        }
        #expect(ring.count == expected.count)
        while ring.append(next) {
            expected.append(next)
            next += 1
        }
        #expect(ring.count == 20)
        #expect(ring.isFull)
        #expect((0..<ring.count).map { ring[$0] } == expected)
    }

    /// Counts live instances, so a test sees every element released exactly once.
    final class Tracked {
        nonisolated(unsafe) static var live = 0
        let value: Int
        init(_ value: Int) {
            self.value = value
            Tracked.live += 1
        }
        deinit { Tracked.live -= 1 }
    }

    @Test func aCopyIsIndependentOfTheOriginal() {
        var original = RingBuffer<Int>(capacity: 8, initialStorage: 2)
        for value in 0..<5 { _ = original.append(value) }
        _ = original.removeFirst()  // the head is off slot 0, so copies must keep positions
        var copy = original
        _ = copy.append(99)
        copy[0] = -1
        _ = original.removeFirst()
        #expect((0..<original.count).map { original[$0] } == [2, 3, 4])
        #expect((0..<copy.count).map { copy[$0] } == [-1, 2, 3, 4, 99])
        copy.removeFirst(3)
        #expect((0..<original.count).map { original[$0] } == [2, 3, 4])
        #expect((0..<copy.count).map { copy[$0] } == [4, 99])
    }

    @Test func everyElementIsReleasedOnceWhetherRemovedDroppedOrLeftInside() {
        #expect(Tracked.live == 0)
        do {
            var ring = RingBuffer<Tracked>(capacity: 100, initialStorage: 1)
            var model: [Int] = []
            // Wrap the head around several growths, then drop runs that straddle the end of the storage.
            for round in 0..<40 {
                _ = ring.append(Tracked(round))
                _ = ring.append(Tracked(round + 1000))
                model += [round, round + 1000]
                if round % 3 == 0 {
                    ring.removeFirst(2)
                    model.removeFirst(2)
                }
            }
            #expect(Tracked.live == ring.count)
            #expect((0..<ring.count).map { ring[$0].value } == model)
            let taken = ring.removeFirst()
            #expect(taken?.value == model.removeFirst())
            #expect(Tracked.live == ring.count + 1)
            ring.removeFirst(ring.count - 5)
            #expect(Tracked.live == 6)
            var shared = ring
            _ = shared.append(Tracked(-1))  // copies the storage: five shared elements now referenced twice
            #expect(Tracked.live == 7)
            shared.removeFirst(100)
            #expect(Tracked.live == 6)
            #expect(ring.count == 5)
        }
        #expect(Tracked.live == 0)
    }

    @Test func removeFirstAcrossTheWrapKeepsTheRestInOrder() {
        var ring = RingBuffer<Int>(capacity: 8, initialStorage: 8)
        for value in 0..<8 { _ = ring.append(value) }
        ring.removeFirst(6)
        for value in 8..<14 { _ = ring.append(value) }  // head at slot 6: these wrap to slots 0...5
        #expect(ring.isFull)
        ring.removeFirst(5)  // slots 6, 7, 0, 1, 2
        #expect((0..<ring.count).map { ring[$0] } == [11, 12, 13])
        #expect(ring.removeFirst() == 11)
        #expect(ring.first == 12)
    }
}
