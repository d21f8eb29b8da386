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
}
