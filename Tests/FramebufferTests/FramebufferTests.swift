import Testing
import Zlib

@testable import Framebuffer

func handset() -> Compositor {
    Compositor(
        width: 480, height: 800,
        regions: [
            LayoutRegion(name: "apps", owner: "linux", rect: ScreenRect(x: 0, y: 40, width: 480, height: 760), z: 0),
            LayoutRegion(name: "status-bar", owner: "rtos", rect: ScreenRect(x: 0, y: 0, width: 480, height: 40), z: 1),
        ],
        preemptors: ["rtos"], defaultFocus: "linux")
}

@Suite struct CompositorTests {
    @Test func eachPartitionDrawsOnlyInsideItsRegion() throws {
        var screen = handset()
        try screen.draw(.fill(ScreenRect(x: 0, y: 40, width: 480, height: 760), colour: 0x11_2233), by: "linux")
        try screen.draw(.fill(ScreenRect(x: 0, y: 0, width: 480, height: 40), colour: 0x44_5566), by: "rtos")
        #expect(screen.pixel(x: 5, y: 5) == 0x44_5566)
        #expect(screen.pixel(x: 5, y: 45) == 0x11_2233)
        #expect(throws: FramebufferRefusal(.notPermitted, "rectangle 10x10+0+35 is outside linux's region (apps)")) {
            try screen.draw(.fill(ScreenRect(x: 0, y: 35, width: 10, height: 10), colour: 1), by: "linux")
        }
        #expect(throws: FramebufferRefusal.self) {
            try screen.draw(.fill(ScreenRect(x: 470, y: 790, width: 20, height: 20), colour: 1), by: "linux")
        }
        do {
            try screen.draw(.fill(ScreenRect(x: 470, y: 790, width: 20, height: 20), colour: 1), by: "linux")
        } catch {
            #expect(error.code == 15)
        }
        // Pixels that are not w·h·4 bytes do not decode: guest error 8, not a bounds error.
        #expect(throws: FramebufferRefusal(.malformed, "3 pixel bytes for a 2x2 rectangle (16 expected)")) {
            try screen.draw(.put(ScreenRect(x: 0, y: 40, width: 2, height: 2), pixels: [0, 0, 0][...]), by: "linux")
        }
        #expect(FramebufferRefusal(.malformed, "").code == 8)
        #expect(
            screen.takeChanges() == [
                .damage(ScreenRect(x: 0, y: 40, width: 480, height: 760)),
                .damage(ScreenRect(x: 0, y: 0, width: 480, height: 40)),
            ])
    }

    @Test func putUsesBlueGreenRedByteOrder() throws {
        var screen = handset()
        try screen.draw(
            .put(ScreenRect(x: 1, y: 41, width: 2, height: 1), pixels: [1, 2, 3, 0, 4, 5, 6, 0][...]), by: "linux")
        #expect(screen.read(ScreenRect(x: 0, y: 41, width: 3, height: 1)) == [0, 0x03_0201, 0x06_0504])
    }

    @Test func preemptionCoversEverythingAndReleaseRestoresPictureAndFocus() throws {
        var screen = handset()
        try screen.draw(.fill(ScreenRect(x: 0, y: 40, width: 480, height: 760), colour: 0x00_00ff), by: "linux")
        let before = screen.screen
        #expect(try screen.preempt(by: "rtos") == [.preempted(by: "rtos"), .focus(from: "linux", to: "rtos")])
        #expect(screen.pixel(x: 100, y: 100) == 0)  // a fresh overlay
        try screen.draw(.fill(ScreenRect(x: 0, y: 0, width: 480, height: 800), colour: 0xff_0000), by: "rtos")
        #expect(screen.pixel(x: 100, y: 500) == 0xff_0000)
        // Linux keeps drawing underneath; nothing shows.
        try screen.draw(.fill(ScreenRect(x: 0, y: 40, width: 10, height: 10), colour: 0x00_ff00), by: "linux")
        #expect(screen.pixel(x: 1, y: 41) == 0xff_0000)
        #expect(throws: FramebufferRefusal.self) { try screen.setFocus("linux") }
        #expect(throws: FramebufferRefusal.self) { try screen.preempt(by: "linux") }
        #expect(try screen.release(by: "rtos") == [.released(by: "rtos"), .focus(from: "rtos", to: "linux")])
        var expected = before
        for y in 40..<50 { for x in 0..<10 { expected[y * 480 + x] = 0x00_ff00 } }
        #expect(screen.screen == expected)
        #expect(screen.focus == "linux" && screen.preemptor == nil)
    }

    @Test func detachEndsPreemption() throws {
        var screen = handset()
        _ = try screen.preempt(by: "rtos")
        #expect(screen.partitionDetached("linux") == [])
        #expect(screen.partitionDetached("rtos").first == .released(by: "rtos"))
    }

    @Test func visibleCopiesBecomeMovesOthersDamage() throws {
        var screen = handset()
        _ = screen.takeChanges()
        try screen.draw(
            .copy(sourceX: 0, sourceY: 40, destination: ScreenRect(x: 100, y: 100, width: 50, height: 50)), by: "linux")
        #expect(
            screen.takeChanges() == [
                .move(sourceX: 0, sourceY: 40, destination: ScreenRect(x: 100, y: 100, width: 50, height: 50))
            ])
        // Overlapping region with higher z would make the move wrong: a status-bar region over apps.
        var stacked = Compositor(
            width: 100, height: 100,
            regions: [
                LayoutRegion(name: "a", owner: "linux", rect: ScreenRect(x: 0, y: 0, width: 100, height: 100), z: 0),
                LayoutRegion(name: "b", owner: "rtos", rect: ScreenRect(x: 0, y: 0, width: 100, height: 10), z: 1),
            ], preemptors: [], defaultFocus: nil)
        try stacked.draw(
            .copy(sourceX: 0, sourceY: 0, destination: ScreenRect(x: 0, y: 50, width: 20, height: 20)), by: "linux")
        #expect(stacked.takeChanges() == [.damage(ScreenRect(x: 0, y: 50, width: 20, height: 20))])
    }
}

@Suite struct DamageTests {
    @Test func coalescesAndStaysBounded() {
        var list = DamageList(maxRects: 4)
        list.add(ScreenRect(x: 0, y: 0, width: 10, height: 10))
        list.add(ScreenRect(x: 2, y: 2, width: 3, height: 3))
        #expect(list.rects.count == 1)
        for index in 0..<10 { list.add(ScreenRect(x: index * 20, y: 100, width: 5, height: 5)) }
        #expect(list.rects.count <= 4)
        #expect(list.bounds == ScreenRect(x: 0, y: 0, width: 185, height: 105))
    }

    @Test func moveFallsBackToDamageWhenSourceIsStale() {
        var viewer = ViewerDamage(supportsCopyRect: true)
        viewer.add(.damage(ScreenRect(x: 0, y: 0, width: 10, height: 10)))
        viewer.add(.move(sourceX: 5, sourceY: 5, destination: ScreenRect(x: 50, y: 50, width: 10, height: 10)))
        var taken = viewer.take()
        #expect(taken.move == nil && taken.rects.count == 2)
        viewer.add(.move(sourceX: 100, sourceY: 100, destination: ScreenRect(x: 50, y: 50, width: 10, height: 10)))
        taken = viewer.take()
        #expect(taken.move != nil && taken.rects.isEmpty && viewer.isEmpty)
        var noCopy = ViewerDamage(supportsCopyRect: false)
        noCopy.add(.move(sourceX: 100, sourceY: 100, destination: ScreenRect(x: 50, y: 50, width: 10, height: 10)))
        #expect(noCopy.take().rects == [ScreenRect(x: 50, y: 50, width: 10, height: 10)])
    }
}

@Suite struct InputTests {
    @Test func keysymTable() {
        #expect(Keypad.key(forKeysym: 0x35) == .digit5)
        #expect(Keypad.key(forKeysym: 0xffb5) == .digit5)
        #expect(Keypad.key(forKeysym: 0x2a) == .star && Keypad.key(forKeysym: 0x23) == .hash)
        #expect(Keypad.key(forKeysym: 0xffc0) == .call && Keypad.key(forKeysym: 0xff1b) == .end)
        #expect(Keypad.key(forKeysym: 0xff0d) == .select && Keypad.key(forKeysym: 0xffbe) == .softLeft)
        #expect(Keypad.key(forKeysym: 0x61) == nil)
        for key in KeypadKey.allCases {
            #expect(KeypadKey(name: key.name) == key)
            #expect(Keypad.key(forKeysym: Keypad.keysym(for: key)) == key)
        }
    }

    @Test func pointerBecomesTouch() {
        var tracker = TouchTracker()
        #expect(tracker.pointer(buttonMask: 0, x: 1, y: 1) == nil)
        #expect(tracker.pointer(buttonMask: 1, x: 1, y: 1) == .down)
        #expect(tracker.pointer(buttonMask: 1, x: 1, y: 1) == nil)
        #expect(tracker.pointer(buttonMask: 1, x: 2, y: 1) == .move)
        #expect(tracker.pointer(buttonMask: 0, x: 2, y: 1) == .up)
        #expect(tracker.pointer(buttonMask: 4, x: 2, y: 1) == nil)
    }
}

@Suite struct ChannelCodecTests {
    @Test func pngHasValidStructure() throws {
        let png = PNGEncoder.encode(pixels: [0xff_0000, 0x00_ff00], width: 2, height: 1)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        #expect(Array(png.suffix(12)) == [0, 0, 0, 0] + Array("IEND".utf8) + [0xae, 0x42, 0x60, 0x82])
        // IDAT inflates to the filtered scanline.
        let idatLength = Int(png[33]) << 24 | Int(png[34]) << 16 | Int(png[35]) << 8 | Int(png[36])
        let idat = png[41..<(41 + idatLength)]
        #expect(Zlib.inflate(idat, limit: 100) == [0, 0xff, 0, 0, 0, 0xff, 0])
    }
}
