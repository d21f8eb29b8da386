import JSON
import Testing

@testable import EthernetServer

/// The size of a stream peer's reads (`Protocols/ethernet.md` §4.8): about one slice of frames at the size of the
/// frames the peer sent in its last pass, within 2 KiB and `ethernetReadBytesPerPass`.
@Suite struct EthernetReadSliceTests {
    private func pass(_ slice: inout EthernetReadSlice, records: [Int]) {
        for size in records { slice.countFrame(recordBytes: size) }
        slice.endPass()
    }

    @Test func aNewSliceReadsTheWholeByteBudget() {
        let slice = EthernetReadSlice(framesPerPass: 256, bytesPerPass: 256 << 10)
        #expect(slice.readSize == 256 << 10)
    }

    @Test func aPassOfEqualFramesSizesTheNextReadToOneSlice() {
        var slice = EthernetReadSlice(framesPerPass: 256, bytesPerPass: 256 << 10)
        // 64-byte frames behind QEMU's 4-byte prefix: one slice is 256 × 68 bytes.
        pass(&slice, records: Array(repeating: 68, count: 256))
        #expect(slice.readSize == 256 * 68)
        // A pass that switched fewer frames sizes it the same: the mean, not the total, counts.
        pass(&slice, records: Array(repeating: 104, count: 3))
        #expect(slice.readSize == 256 * 104)
    }

    @Test func theMeanOfMixedFramesIsUsed() {
        var slice = EthernetReadSlice(framesPerPass: 100, bytesPerPass: 4 << 20)
        pass(&slice, records: [68, 1504, 68, 1504])
        #expect(slice.readSize == (68 + 1504) / 2 * 100)
    }

    @Test func theReadNeverExceedsTheByteBudgetNorFallsBelowTwoKiB() {
        var slice = EthernetReadSlice(framesPerPass: 256, bytesPerPass: 256 << 10)
        pass(&slice, records: [1504])
        #expect(slice.readSize == 256 << 10)
        var small = EthernetReadSlice(framesPerPass: 4, bytesPerPass: 256 << 10)
        pass(&small, records: [68, 68])
        #expect(small.readSize == EthernetReadSlice.minimumReadBytes)
        // A byte budget below the floor wins: a read is never larger than the configured budget.
        var tight = EthernetReadSlice(framesPerPass: 1, bytesPerPass: 1000)
        pass(&tight, records: [68])
        #expect(tight.readSize == 1000)
    }

    @Test func passesWithoutSizedFramesLeaveTheReadSizeAlone() {
        var slice = EthernetReadSlice(framesPerPass: 256, bytesPerPass: 256 << 10)
        pass(&slice, records: Array(repeating: 68, count: 10))
        #expect(slice.readSize == 256 * 68)
        // An empty pass (bytes read, no whole frame yet) and frames counted without a size (taps, datagrams).
        slice.countBytes(3000)
        slice.endPass()
        #expect(slice.readSize == 256 * 68)
        slice.countFrame()
        slice.countFrame()
        slice.endPass()
        #expect(slice.readSize == 256 * 68)
        // The accounting restarts every pass: one large frame now sizes the read on its own.
        pass(&slice, records: [1000])
        #expect(slice.readSize == 256 * 1000)
    }

    @Test func aStreamAttachmentShowsItsReadSize() {
        var slice = EthernetReadSlice(framesPerPass: 8, bytesPerPass: 256 << 10)
        pass(&slice, records: Array(repeating: 700, count: 8))
        #expect(slice.streamJSON["readBytes"]?.intValue == 5600)
        #expect(slice.streamJSON["framesPerPass"]?.intValue == 8)
        #expect(slice.json["readBytes"] == nil)
    }
}
