import GuestWire
import Testing

/// `GuestFrameDecoder.hold`: bodies fed stay, in order, until taken, across reads and frames that straddle them
/// (the hub's guest sessions stop part way through a read while a guest's answers wait, `Protocols/guest.md` §3.3).
@Suite struct HeldBodiesTests {
    @Test func heldBodiesAreTakenInOrderAcrossReads() throws {
        let frames = (1...5).map { GuestFrame(.heartbeat(stamp: UInt64($0)), requestId: UInt32($0)).encode() }
        let stream = frames.flatMap { $0 }
        var decoder = GuestFrameDecoder()
        // The first read ends inside the third frame.
        let cut = frames[0].count + frames[1].count + 5
        try decoder.hold(stream[..<cut])
        #expect(decoder.holdsBodies)
        var taken: [UInt32] = []
        func take() throws {
            let next = decoder.nextHeldBody()
            let body = try #require(next)
            taken.append(try GuestFrame.decode(body: body, limits: decoder.limits).get().requestId)
        }
        try take()
        // A second read while one body still waits: it queues behind it.
        try decoder.hold(stream[cut...])
        while decoder.holdsBodies { try take() }
        #expect(taken == [1, 2, 3, 4, 5])
        let after = decoder.nextHeldBody()
        #expect(after == nil && decoder.bufferedByteCount == 0)
    }
}
