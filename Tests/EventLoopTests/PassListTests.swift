import Testing

@testable import EventLoop

/// Lists taken whole at the end of a pass (`PassList`).
@Suite struct PassListTests {
    /// What was collected comes out in order, once; what handling collects waits for the next take.
    @Test func eachTakeHandsOverWhatWasCollectedSinceTheLastInOrder() {
        var list = PassList<Int>()
        #expect(list.isEmpty && list.take().isEmpty)
        for value in 1...5 { list.append(value) }
        var taken = list.take()
        #expect(taken == [1, 2, 3, 4, 5] && list.isEmpty)
        for value in taken { list.append(value * 10) }
        list.recycle(&taken)
        #expect(taken.isEmpty)
        #expect(list.take() == [10, 20, 30, 40, 50])
        list.append(7)
        list.removeAll()
        #expect(list.isEmpty && list.take().isEmpty)
    }
}
