import ControlWire
import DeviceKit
import DeviceKitTesting
import EventLoop
import Foundation
import FramebufferWire
import GuestWire
import JSON
import PlatformConfig
import Testing

@testable import FramebufferServer

/// The framebuffer device on a `FakeDeviceHost` of the reference handset (fb0: 480x800, rtos's status bar on
/// top, linux's apps below with the focus), its viewers played by `FakeByteStream`s, its guests by
/// `FakeChannelEndpoint`s, its methods called by a `FakeControlCaller`. No sockets.
final class FramebufferRig {
    let host: FakeDeviceHost
    let device = FramebufferDevice()
    let caller = FakeControlCaller()

    init(_ configure: (inout PlatformConfiguration) -> Void = { _ in }) throws {
        var configuration = PlatformConfiguration.reference
        configure(&configuration)
        host = try FakeDeviceHost(configuration: configuration)
        try device.start(host: host)
    }

    var screen: FramebufferScreen { device.screens[0] }

    /// A VNC viewer connecting to fb0's RFB listener.
    func connectViewer(kind: Connection.Kind = .tcp) throws -> FakeByteStream {
        let endpoint = try #require(host.configuration.devices.framebuffers.first?.rfbEndpoints.first)
        return try #require(host.connect(to: endpoint, kind: kind))
    }

    /// A viewer through the 3.8 handshake with security None (shared), its server messages taken.
    func initialisedViewer() throws -> FakeByteStream {
        let viewer = try connectViewer()
        viewer.receive(Self.clientHandshake)
        // One read a pass (`rfbReadBytesPerPass`): the next pass reads it again.
        host.runPasses(2)
        _ = viewer.takeWritten()
        return viewer
    }

    /// `partition`'s guest opening its fb0 channel.
    func openChannel(_ partition: String) throws -> (FakeChannelEndpoint, any GuestChannel) {
        let endpoint = FakeChannelEndpoint(partition: partition)
        let channel = try device.openChannel(device: "fb0", options: [], endpoint: endpoint).get()
        return (endpoint, channel)
    }

    /// Calls `method` as a control client would; the immediate reply.
    @discardableResult
    func call(_ method: String, _ params: JSON) -> ControlReply { caller.call(host.methods, method, params) }

    /// Runs loop passes until `done` or about a second has passed.
    func run(until done: () -> Bool) {
        for _ in 0..<1000 where !done() {
            host.runPasses()
            usleep(1000)
        }
    }

    /// Stops the device and closes the loop; `uv_loop_close`'s result (0: nothing leaked).
    func finish() -> Int32 {
        device.stop()
        host.runPasses(2)
        return host.shutdown()
    }

    static let clientHandshake: [UInt8] = Array("RFB 003.008\n".utf8) + [0x01, 0x01]
    static func updateRequest(incremental: Bool) -> [UInt8] {
        [0x03, incremental ? 1 : 0, 0, 0, 0, 0, 0x01, 0xe0, 0x03, 0x20]
    }
    static func fill(_ x: Int, _ y: Int, _ width: Int, _ height: Int, colour: UInt32) -> [UInt8] {
        FramebufferGuestCommand.fill(ChannelRect(x: x, y: y, width: width, height: height), colour: colour).encode()
    }
}

extension ControlReply {
    var isDeferred: Bool { if case .deferred = self { true } else { false } }
    var error: ControlError? { if case .error(let error) = self { error } else { nil } }
}

@Suite struct RFBViewerTests {
    /// RFB 3.8 with security None, as `Protocols/vectors/rfb/handshake.vectors` (`handshake-none-3.8*`) shows it, fed a byte at a
    /// time: the viewer is admitted only at ClientInit, and the server's bytes are those of a whole feed.
    @Test func handshakeFedAByteAtATimeAnswersAsWhole() throws {
        let rig = try FramebufferRig()
        let whole = try rig.connectViewer()
        whole.receive(FramebufferRig.clientHandshake)
        let expected = whole.takeWritten()

        let viewer = try rig.connectViewer()
        #expect(viewer.takeWritten() == Array("RFB 003.008\n".utf8))
        for (index, byte) in FramebufferRig.clientHandshake.enumerated() {
            #expect(rig.screen.gate.authenticated == 1, "only the whole feed's viewer is admitted before ClientInit")
            viewer.receive([byte])
            rig.host.runPasses(1)
            if index < FramebufferRig.clientHandshake.count - 1 { #expect(viewer.isOpen) }
        }
        #expect(Array("RFB 003.008\n".utf8) + viewer.takeWritten() == expected)
        // Security list [None], SecurityResult OK, ServerInit 480x800.
        #expect(Array(expected[12..<22]) == [1, 1, 0, 0, 0, 0, 0x01, 0xe0, 0x03, 0x20])
        #expect(rig.screen.gate.authenticated == 2)
        #expect(rig.host.events.filter { $0.kind == "fb.viewer.connected" }.count == 2)
        #expect(rig.finish() == 0)
    }

    /// A viewer that never reads gets no more updates once its queue passes the limit, while the others get
    /// every one; it catches up with one coalesced update once it has read (`Protocols/framebuffer.md` §2.5).
    @Test func viewerThatNeverReadsDoesNotHoldOthersUpdates() throws {
        let rig = try FramebufferRig()
        let stalled = try rig.initialisedViewer()
        let reading = try rig.initialisedViewer()
        stalled.peerReads = false
        for viewer in [stalled, reading] { viewer.receive(FramebufferRig.updateRequest(incremental: false)) }
        rig.host.runPasses(2)  // requests are answered at the pass's pump
        // A whole raw screen (1.5 MB) is now queued towards the stalled viewer.
        #expect(stalled.queuedWriteBytes > FramebufferScreen.viewerQueueLimit)
        _ = stalled.takeWritten()
        _ = reading.takeWritten()
        let updates = { (stream: FakeByteStream) in
            rig.screen.viewers.values.first { $0.connection === stream }?.updatesSent
        }
        let (_, linux) = try rig.openChannel("linux")
        for round in 0..<3 {
            for viewer in [stalled, reading] { viewer.receive(FramebufferRig.updateRequest(incremental: true)) }
            linux.received(FramebufferRig.fill(10 * round, 100, 8, 8, colour: 0xff_0000)[...])
            rig.run { updates(reading) == UInt64(round + 2) }
        }
        #expect(updates(reading) == 4)
        #expect(updates(stalled) == 1, "nothing more went to the viewer that does not read")
        #expect(stalled.takeWritten().count == 0, "no bytes went to the viewer that does not read")
        stalled.drain()
        linux.received(FramebufferRig.fill(0, 200, 8, 8, colour: 0x00_ff00)[...])
        rig.run { updates(stalled) == 2 }
        #expect(updates(stalled) == 2, "once it read, its coalesced damage goes out in one update")
        #expect(rig.finish() == 0)
    }

    /// A viewer that floods keys is read `rfbReadBytesPerPass` a pass (`Protocols/framebuffer.md` §2.5): the
    /// first pass takes one slice, the rest waits in the socket for the next passes, and every key still
    /// arrives, in order. Taken whole, one read of keys or pointer moves held the loop for a second.
    @Test func aViewerFloodingKeysIsReadOneSliceAPass() throws {
        let rig = try FramebufferRig { $0.hub.limits.rfbReadBytesPerPass = 800 }
        let (endpoint, _) = try rig.openChannel("linux")
        let flooder = try rig.initialisedViewer()
        // KeyEvent '5', down then up: 8 bytes each, 1000 of them.
        let pair: [UInt8] = [4, 1, 0, 0, 0, 0, 0, 0x35, 4, 0, 0, 0, 0, 0, 0, 0x35]
        flooder.receive(Array([[UInt8]](repeating: pair, count: 500).joined()))
        #expect(endpoint.takeSent().count == 100, "one slice of 800 bytes: 100 keys")
        #expect(flooder.unread.count == 8000 - 800)
        rig.host.runPasses(1)
        #expect(endpoint.takeSent().count == 100, "the next pass, the next slice")
        var delivered = 200
        rig.run {
            delivered += endpoint.takeSent().count
            return delivered == 1000
        }
        #expect(delivered == 1000 && flooder.unread.isEmpty)
        #expect(rig.finish() == 0)
    }

    /// Full-screen update requests sent back to back are answered with one update a pass, not one encoding of the
    /// whole screen each: fifty in one read cost one.
    @Test func requestsInOneReadAreAnsweredWithOneUpdate() throws {
        let rig = try FramebufferRig()
        let viewer = try rig.initialisedViewer()
        viewer.receive(
            Array([[UInt8]](repeating: FramebufferRig.updateRequest(incremental: false), count: 50).joined()))
        rig.host.runPasses(3)
        #expect(rig.screen.viewers.values.first?.updatesSent == 1)
        #expect(rig.finish() == 0)
    }

    /// Every viewer owed an update was encoded in the pump that found it owed, all in one pass: six viewers of a
    /// busy screen made passes of about 100 ms. Encoding is now budgeted per pass for all viewers together
    /// (`rfbEncodeMsPerPass`); at 0 a pass sends exactly one update, the viewers served in turn.
    @Test func updatesForManyViewersAreSpreadOverPassesWithinTheEncodingBudget() throws {
        let rig = try FramebufferRig { $0.hub.limits.rfbEncodeMsPerPass = 0 }
        let viewers = try (0..<3).map { _ in try rig.initialisedViewer() }
        for viewer in viewers { viewer.receive(FramebufferRig.updateRequest(incremental: false)) }
        func sent() -> [UInt64] { rig.screen.viewers.keys.sorted().map { rig.screen.viewers[$0]!.updatesSent } }
        rig.host.runPasses(1)
        #expect(sent() == [1, 0, 0], "one update the first pass")
        rig.host.runPasses(1)
        #expect(sent() == [1, 1, 0], "the next viewer the next pass")
        rig.host.runPasses(1)
        #expect(sent() == [1, 1, 1])
        #expect(rig.screen.counters.updatesDeferred == 2)
        // The turn goes on from where it stopped: the first viewer is served before the others again.
        for viewer in viewers { viewer.receive(FramebufferRig.updateRequest(incremental: false)) }
        rig.host.runPasses(1)
        #expect(sent() == [2, 1, 1])
        rig.host.runPasses(3)
        #expect(sent() == [2, 2, 2])
        #expect(rig.finish() == 0)
    }

    @Test func withinTheBudgetEveryViewerIsServedInOnePass() throws {
        #expect(PlatformConfiguration.reference.hub.limits.rfbEncodeMsPerPass == 8)
        let rig = try FramebufferRig { $0.hub.limits.rfbEncodeMsPerPass = 1000 }
        let viewers = try (0..<3).map { _ in try rig.initialisedViewer() }
        for viewer in viewers { viewer.receive(FramebufferRig.updateRequest(incremental: false)) }
        rig.host.runPasses(1)
        #expect(rig.screen.viewers.values.map(\.updatesSent) == [1, 1, 1])
        #expect(rig.screen.counters.updatesDeferred == 0)
        #expect(rig.finish() == 0)
    }

    /// A viewer sending a message RFB does not have is closed with the decoder's reason and counted; the others
    /// stay (`Protocols/vectors/rfb/client-messages.vectors`, `hostile-unknown-message`).
    @Test func viewerSendingGarbageIsClosedAndCounted() throws {
        let rig = try FramebufferRig()
        let hostile = try rig.initialisedViewer()
        let other = try rig.initialisedViewer()
        hostile.receive([99, 1, 2, 3])
        rig.host.runPasses(1)
        #expect(!hostile.isOpen)
        #expect(other.isOpen)
        #expect(rig.screen.counters.viewerProtocolErrors == 1)
        #expect(rig.screen.viewers.count == 1 && rig.screen.gate.authenticated == 1)
        let disconnected = rig.host.events.filter { $0.kind == "fb.viewer.disconnected" }
        #expect(disconnected.count == 1)
        #expect(disconnected.first?.data["reason"]?.stringValue?.contains("99") == true)
        #expect(rig.finish() == 0)
    }

    /// A peer that connects and stops (a stopped or hung client) is closed at `rfbHandshakeMs` and gives its
    /// pending slot back, counted as `handshake_timeout`.
    @Test func stalledHandshakeIsClosedAtTheDeadline() throws {
        let rig = try FramebufferRig { $0.hub.limits.rfbHandshakeMs = 20 }
        let stalled = try rig.connectViewer()
        stalled.receive(Array("RFB 003.0".utf8))
        #expect(rig.screen.gate.pending == 1)
        rig.run { !stalled.isOpen }
        #expect(!stalled.isOpen)
        #expect(rig.screen.gate.pending == 0)
        #expect(rig.screen.gate.refusals[.handshakeTimeout] == 1)
        #expect(rig.finish() == 0)
    }

    /// A client whose ClientInit arrives when `maxViewers` are there is closed without a ServerInit, so it never
    /// believes it was admitted (`Protocols/framebuffer.md` §2.1a); the viewers stay.
    @Test func aClientOverMaxViewersGetsNoServerInit() throws {
        let rig = try FramebufferRig { configuration in
            configuration.devices.framebuffers[0].maxViewers = 1
        }
        // Both connect while there is room; the first ClientInit takes it.
        let late = try rig.connectViewer()
        let admitted = try rig.initialisedViewer()
        _ = late.takeWritten()
        late.receive(FramebufferRig.clientHandshake)
        rig.host.runPasses(2)
        let written = late.takeWritten()
        // Security list [None] and SecurityResult OK came earlier or now; no ServerInit (at least 24 bytes) after.
        #expect(!late.isOpen)
        #expect(written.count < 24, "\(written.count) bytes: a ServerInit went out")
        #expect(admitted.isOpen && rig.screen.viewers.count == 1 && rig.screen.counters.viewersRefused == 1)
        #expect(rig.finish() == 0)
    }

    @Test func pendingViewersAreRefusedOverRfbMaxPendingWithAReason() throws {
        let rig = try FramebufferRig { $0.hub.limits.rfbMaxPending = 1 }
        let first = try rig.connectViewer(kind: .unix)
        let second = try rig.connectViewer(kind: .tcp)
        // The TCP newcomer may not evict the Unix peer: it is refused with a 3.8 failure and closed.
        #expect(first.isOpen)
        #expect(!second.isOpen && second.closedAfterWrites)
        let written = second.takeWritten()
        #expect(Array(written.prefix(13)) == Array("RFB 003.008\n".utf8) + [0])
        #expect(String(decoding: written.dropFirst(17), as: UTF8.self).contains("rfbMaxPending 1"))
        #expect(rig.screen.counters.viewersRefused == 1)
        #expect(rig.finish() == 0)
    }
}

@Suite struct FramebufferWaitTests {
    static func statusBarRed(timeoutMs: Int64 = 10_000) -> JSON {
        ["x": 0, "y": 0, "width": 16, "height": 16, "colour": "#ff0000", "timeoutMs": .int(timeoutMs)]
    }

    @Test func waitIsAnsweredWhenItsRegionMatches() throws {
        let rig = try FramebufferRig()
        #expect(rig.call("fb.wait", Self.statusBarRed()).isDeferred)
        let (_, rtos) = try rig.openChannel("rtos")
        rtos.received(FramebufferRig.fill(0, 0, 8, 8, colour: 0xff_0000)[...])
        rig.host.runPasses(3)
        #expect(rig.caller.answers.isEmpty, "half the region is not a match")
        rtos.received(FramebufferRig.fill(0, 0, 16, 16, colour: 0xff_0000)[...])
        rig.run { !rig.caller.answers.isEmpty }
        let answer = try #require(rig.caller.takeAnswers().first)
        #expect(answer.result?["matched"] == true)
        #expect(rig.device.waits.count == 0)
        #expect(rig.finish() == 0)
    }

    /// `changed: true` holds a hash of the region, not a copy: drawing the pixels that were there already does not
    /// answer it, drawing others does.
    @Test func aChangedWaitIsAnsweredByAChangeNotByRedrawingTheSamePixels() throws {
        let rig = try FramebufferRig()
        let region: JSON = ["x": 0, "y": 40, "width": 8, "height": 8, "changed": true, "timeoutMs": 10_000]
        let (_, linux) = try rig.openChannel("linux")
        linux.received(FramebufferRig.fill(0, 40, 8, 8, colour: 0x00_8000)[...])
        rig.host.runPasses(3)
        #expect(rig.call("fb.wait", region).isDeferred)
        linux.received(FramebufferRig.fill(0, 40, 8, 8, colour: 0x00_8000)[...])
        rig.host.runPasses(3)
        #expect(rig.caller.answers.isEmpty, "the same pixels drawn again are no change")
        linux.received(FramebufferRig.fill(3, 43, 1, 1, colour: 0x00_8001)[...])
        rig.run { !rig.caller.answers.isEmpty }
        #expect(rig.caller.takeAnswers().first?.result?["matched"] == true)
        #expect(rig.finish() == 0)
    }

    /// Expected images of pending waits together stay within `fbWaitImageBytes`, checked before anything is
    /// decoded; a wait that ends gives its share back.
    @Test func expectedImagesOfPendingWaitsStayWithinTheirLimit() throws {
        let rig = try FramebufferRig { $0.hub.limits.fbWaitImageBytes = 64 << 10 }
        // 100x100 pixels: 40,000 bytes held, so one fits and a second does not.
        let black = Base64.encode([UInt8](repeating: 0x11, count: 100 * 100 * 3))
        func image(timeoutMs: Int64) -> JSON {
            ["x": 0, "y": 40, "width": 100, "height": 100, "rgb": .string(black), "timeoutMs": .int(timeoutMs)]
        }
        #expect(rig.call("fb.wait", image(timeoutMs: 5)).isDeferred)
        let refused = try #require(rig.call("fb.wait", image(timeoutMs: 10_000)).error)
        #expect(refused.code == .limitExceeded)
        #expect(refused.data?["limit"] == "fbWaitImageBytes" && refused.data?["value"] == .int(64 << 10))
        // A colour or changed wait holds no image: still accepted.
        #expect(rig.call("fb.wait", Self.statusBarRed()).isDeferred)
        // The first times out: its bytes are free again.
        rig.run { rig.caller.answers.contains { $0.error?.code == .timeout } }
        #expect(rig.call("fb.wait", image(timeoutMs: 10_000)).isDeferred)
        #expect(rig.finish() == 0)
    }

    @Test func waitTimesOutWithTimeout() throws {
        let rig = try FramebufferRig()
        #expect(rig.call("fb.wait", Self.statusBarRed(timeoutMs: 5)).isDeferred)
        rig.run { !rig.caller.answers.isEmpty }
        let answer = try #require(rig.caller.takeAnswers().first)
        #expect(answer.error?.code == .timeout)
        #expect(answer.error?.reason == "timeout")
        #expect(rig.finish() == 0)
    }

    /// The kit's one rule (`Protocols/control.md` §8): at most `controlMaxWaiters` waits; one more is refused
    /// with -32004 `too_many_waits` naming the limit; a caller that goes away frees its waits.
    @Test func oneWaitOverControlMaxWaitersIsRefused() throws {
        let rig = try FramebufferRig { $0.hub.limits.controlMaxWaiters = 2 }
        #expect(rig.call("fb.wait", Self.statusBarRed()).isDeferred)
        #expect(rig.call("fb.wait", Self.statusBarRed()).isDeferred)
        let refusal = try #require(rig.call("fb.wait", Self.statusBarRed()).error)
        #expect(refusal == .limitExceeded("controlMaxWaiters", value: 2, reason: "too_many_waits"))
        rig.caller.disconnect()
        #expect(rig.device.waits.count == 0)
        #expect(rig.call("fb.wait", Self.statusBarRed()).isDeferred)
        #expect(rig.finish() == 0)
    }

    @Test func stopAnswersPendingWaitsUnavailable() throws {
        let rig = try FramebufferRig()
        #expect(rig.call("fb.wait", Self.statusBarRed()).isDeferred)
        #expect(rig.finish() == 0)
        #expect(rig.caller.answers.first?.error?.code == .unavailable)
    }

    @Test func timeoutOverControlMaxWaitMsIsInvalid() throws {
        let rig = try FramebufferRig { $0.hub.limits.controlMaxWaitMs = 1000 }
        #expect(rig.call("fb.wait", Self.statusBarRed(timeoutMs: 1001)).error?.code == .invalidParams)
        #expect(rig.finish() == 0)
    }
}

@Suite struct FramebufferChannelGlueTests {
    /// A garbage frame is refused with an ERROR `malformed_frame` whose reason starts with the command's name
    /// (`Protocols/framebuffer.md` §3.2); the channel stays open and keeps drawing.
    /// Raw PUT pixels that are not w·h·4 bytes do not decode: `malformed_frame` (as a zlib stream of the wrong
    /// size is), not `out_of_bounds`, and nothing is drawn.
    @Test func aPutWithTheWrongNumberOfPixelBytesIsMalformed() throws {
        let rig = try FramebufferRig()
        let (endpoint, linux) = try rig.openChannel("linux")
        let rect = ChannelRect(x: 0, y: 40, width: 2, height: 2)
        for count in [15, 17, 0] {
            let put = FramebufferGuestCommand.put(
                rect, compressed: false, data: [UInt8](repeating: 0xff, count: count)[...])
            linux.received(put.encode()[...])
        }
        #expect(endpoint.errors.map(\.code) == Array(repeating: .malformedFrame, count: 3))
        #expect(endpoint.errors.first?.reason == "PUT: 15 pixel bytes for a 2x2 rectangle (16 expected)")
        #expect(rig.screen.compositor.pixel(x: 0, y: 40) != 0xff_ffff)
        #expect(endpoint.isOpen)
        #expect(rig.finish() == 0)
    }

    @Test func garbageFrameGetsMalformedFrameAndTheChannelStaysOpen() throws {
        let rig = try FramebufferRig()
        let (endpoint, linux) = try rig.openChannel("linux")
        for garbage: [UInt8] in [[0x09, 1, 2], [0x02, 0, 0], [], [0x08, 0xff, 0, 1]] { linux.received(garbage[...]) }
        #expect(endpoint.errors.map(\.code) == Array(repeating: .malformedFrame, count: 4))
        #expect(
            endpoint.errors.map(\.reason) == [
                "command 0x9: unknown framebuffer command 0x9", "FILL: command 0x2 needs 13 bytes, got 3",
                "command 0x0: empty framebuffer command", "FLUSH: command 0x8 needs 2042 bytes, got 4",
            ])
        #expect(endpoint.isOpen && endpoint.closedWith == nil)
        linux.received(FramebufferRig.fill(0, 40, 4, 4, colour: 0x12_3456)[...])
        #expect(rig.screen.compositor.pixel(x: 1, y: 41) == 0x12_3456)
        #expect(rig.screen.counters.commands == 5 && rig.screen.counters.commandErrors == 4)
        #expect(rig.finish() == 0)
    }

    @Test func hostileRectanglesAreOutOfBoundsBeforeAnyInflate() throws {
        let rig = try FramebufferRig()
        let (endpoint, linux) = try rig.openChannel("linux")
        let huge = ChannelRect(x: 0, y: 0, width: 65535, height: 65535)
        linux.received(FramebufferGuestCommand.put(huge, compressed: true, data: [0x78, 0x9c][...]).encode()[...])
        linux.received(FramebufferGuestCommand.put(huge, compressed: false, data: [][...]).encode()[...])
        #expect(endpoint.errors.map(\.code) == [.outOfBounds, .outOfBounds])
        #expect(endpoint.errors.first?.reason == "PUT: rectangle 65535x65535+0+0 is outside the surface")
        // Inside the surface but in rtos's status bar: not linux's to draw.
        linux.received(FramebufferRig.fill(0, 0, 4, 4, colour: 0xff)[...])
        #expect(endpoint.errors.last?.code == .notPermitted)
        #expect(endpoint.errors.last?.reason.hasPrefix("FILL: ") == true)
        #expect(rig.finish() == 0)
    }

    @Test func flushComposesFromTheSharedSurface() throws {
        let rig = try FramebufferRig()
        let (endpoint, linux) = try rig.openChannel("linux")
        endpoint.passesDescriptors = true
        linux.received(FramebufferGuestCommand.surface.encode()[...])
        let surface = try #require(rig.host.sharedMemory.first)
        #expect(surface.sizeBytes == 480 * 800 * 4)
        #expect(
            endpoint.takeSent()
                == [FramebufferHubEvent.surface(width: 480, height: 800, stride: 1920, size: 1_536_000).encode()])
        surface.withUnsafeMutableBytes { bytes in
            let start = (41 * 480 + 2) * 4
            for (offset, byte) in [0x30, 0x20, 0x10, 0].enumerated() { bytes[start + offset] = UInt8(byte) }
        }
        let flush = FramebufferGuestCommand.flush([ChannelRect(x: 2, y: 41, width: 1, height: 1)])
        linux.received(flush.encode()[...])
        #expect(endpoint.errors.isEmpty)
        #expect(rig.screen.compositor.pixel(x: 2, y: 41) == 0x10_2030)
        #expect(rig.screen.counters.flushedRects == 1)
        #expect(rig.finish() == 0)
    }

    @Test func surfaceNeedsAUnixSessionAndFlushASurface() throws {
        let rig = try FramebufferRig()
        let (endpoint, linux) = try rig.openChannel("linux")
        linux.received(FramebufferGuestCommand.flush([ChannelRect(x: 0, y: 40, width: 1, height: 1)]).encode()[...])
        linux.received(FramebufferGuestCommand.surface.encode()[...])
        #expect(endpoint.errors.map(\.code) == [.notPermitted, .notPermitted])
        #expect(
            endpoint.errors.map(\.reason) == [
                "FLUSH: no shared surface: send SURFACE first",
                "SURFACE: shared surfaces need a Unix-socket session (use PUT)",
            ])
        #expect(rig.host.sharedMemory.isEmpty)
        #expect(rig.finish() == 0)
    }

    @Test func oneChannelPerPartitionAndAGrantIsNeeded() throws {
        let rig = try FramebufferRig()
        _ = try rig.openChannel("linux")
        let again = rig.device.openChannel(
            device: "fb0", options: [], endpoint: FakeChannelEndpoint(partition: "linux"))
        let noGrant = rig.device.openChannel(
            device: "fb0", options: [], endpoint: FakeChannelEndpoint(partition: "secure"))
        #expect(throws: GuestChannelRefusal.self) { try again.get() }
        if case .failure(let refusal) = again { #expect(refusal.code == .channelInUse) }
        if case .failure(let refusal) = noGrant { #expect(refusal.code == .notPermitted) }
        #expect(rig.finish() == 0)
    }

    /// `fb.key` reaches the partition with focus as a KEY event and its input line.
    /// Input for a focused guest that does not read is dropped and counted, not queued for it without bound.
    @Test func inputForACongestedGuestIsDroppedAndCounted() throws {
        let rig = try FramebufferRig()
        let (endpoint, _) = try rig.openChannel("linux")
        endpoint.isCongested = true
        let viewer = try rig.initialisedViewer()
        let pair: [UInt8] = [4, 1, 0, 0, 0, 0, 0, 0x35, 4, 0, 0, 0, 0, 0, 0, 0x35]
        viewer.receive(Array([[UInt8]](repeating: pair, count: 10).joined()))
        #expect(endpoint.takeSent().isEmpty && rig.host.interrupts.isEmpty)
        #expect(rig.screen.counters.inputDropped == 20)
        endpoint.isCongested = false
        rig.host.runPasses(2)
        viewer.receive(pair)
        #expect(endpoint.takeSent().count == 2, "once it reads again, input flows")
        #expect(rig.finish() == 0)
    }

    @Test func keyGoesToTheFocusedPartitionsChannelAndLine() throws {
        let rig = try FramebufferRig()
        let (endpoint, _) = try rig.openChannel("linux")
        guard case .result(let answer) = rig.call("fb.key", ["key": "5"]) else {
            Issue.record("fb.key failed")
            return
        }
        #expect(answer["partition"] == "linux")
        #expect(
            endpoint.takeSent() == [
                FramebufferHubEvent.key(code: 0x35, down: true, keysym: 0).encode(),
                FramebufferHubEvent.key(code: 0x35, down: false, keysym: 0).encode(),
            ])
        #expect(rig.host.interrupts.map(\.line) == [9, 9])
        #expect(rig.finish() == 0)
    }
}
