import Testing
import VectorSupport
import Wire

@testable import FramebufferWire

/// The framebuffer channel's vectors, `Protocols/vectors/framebuffer/channel.vectors` (`Protocols/framebuffer.md` §3).
enum ChannelVectors {
    static let set: VectorSet = {
        do { return try VectorSet("framebuffer/channel.vectors") } catch { fatalError("channel vectors: \(error)") }
    }()

    static func bytes(_ name: String) throws -> [UInt8] { try set.vector(name).bytes() }

    /// Every vector of the channel whose name starts with `prefix`, so a vector nobody lists below fails a test.
    static func names(prefix: String) -> [String] {
        set.vectors.map(\.name).filter { $0.hasPrefix(prefix) }.sorted()
    }
}

private func rect(_ x: Int, _ y: Int, _ width: Int, _ height: Int) -> ChannelRect {
    ChannelRect(x: x, y: y, width: width, height: height)
}

@Suite struct ChannelVectorTests {
    static let zlibPixels: [UInt8] = Hex.decode("789c135030601040c2000d100181")!

    static let commands: [(String, FramebufferGuestCommand)] = [
        ("guest-command-put", .put(rect(1, 2, 1, 1), compressed: false, data: [1, 2, 3, 0][...])),
        ("guest-command-put-zlib", .put(rect(0, 0, 2, 2), compressed: true, data: zlibPixels[...])),
        ("guest-command-put-max-rect", .put(rect(65535, 65535, 65535, 65535), compressed: false, data: [])),
        ("guest-command-fill", .fill(rect(1, 2, 3, 4), colour: 0x12_3456)),
        ("guest-command-copy", .copy(sourceX: 5, sourceY: 6, destination: rect(7, 8, 9, 10))),
        ("guest-command-frame", .frame(42)),
        ("guest-command-preempt", .preempt),
        ("guest-command-release", .release),
        ("guest-command-surface", .surface),
        ("guest-command-flush", .flush([rect(1, 2, 3, 4), rect(0, 40, 480, 760)])),
    ]

    static let refusals: [(String, String)] = [
        ("bad-guest-command-empty", "empty framebuffer command"),
        ("bad-guest-command-unknown", "unknown framebuffer command 0x9"),
        ("bad-guest-command-fill-short", "command 0x2 needs 13 bytes, got 3"),
        ("bad-guest-command-preempt-trailing", "command 0x5 needs 1 bytes, got 2"),
        ("bad-guest-command-put-flags", "unknown put flags 128"),
        ("bad-guest-command-put-short", "command 0x1 needs 10 bytes, got 8"),
        ("bad-guest-command-flush-zero", "FLUSH names no rectangle"),
        ("bad-guest-command-flush-count-255", "command 0x8 needs 2042 bytes, got 10"),
        ("bad-guest-command-flush-trailing", "command 0x8 needs 10 bytes, got 11"),
    ]

    static let events: [(String, FramebufferHubEvent)] = [
        ("hub-event-key", .key(code: 0x35, down: true, keysym: 0x35)),
        ("hub-event-touch", .touch(action: 1, x: 300, y: 2)),
        ("hub-event-frame-done", .frameDone(42)),
        ("hub-event-focus", .focus(true)),
        ("hub-event-preemption", .preemption(by: "rtos")),
        ("hub-event-preemption-released", .preemption(by: "")),
        ("hub-event-surface", .surface(width: 480, height: 800, stride: 1920, size: 1_536_000)),
    ]

    @Test func everyVectorFileIsChecked() throws {
        #expect(ChannelVectors.names(prefix: "guest-command-") == Self.commands.map(\.0).sorted())
        #expect(ChannelVectors.names(prefix: "bad-guest-command-") == Self.refusals.map(\.0).sorted())
        #expect(ChannelVectors.names(prefix: "hub-event-") == Self.events.map(\.0).sorted())
    }

    @Test(arguments: commands.map(\.0)) func commandVectorDecodesAndEncodesBack(_ file: String) throws {
        let expected = try #require(Self.commands.first { $0.0 == file }?.1)
        let bytes = try ChannelVectors.bytes(file)
        #expect(try FramebufferGuestCommand.decode(bytes[...]) == expected)
        #expect(expected.encode() == bytes)
    }

    @Test(arguments: refusals.map(\.0)) func malformedVectorIsRefused(_ file: String) throws {
        let reason = try #require(Self.refusals.first { $0.0 == file }?.1)
        let bytes = try ChannelVectors.bytes(file)
        #expect(throws: FramebufferGuestCommand.DecodeError(description: reason)) {
            try FramebufferGuestCommand.decode(bytes[...])
        }
    }

    @Test(arguments: events.map(\.0)) func eventVectorIsWhatTheHubSends(_ file: String) throws {
        let event = try #require(Self.events.first { $0.0 == file }?.1)
        #expect(event.encode() == (try ChannelVectors.bytes(file)))
    }
}

@Suite struct ChannelCodecTests {
    // Moved from FramebufferTests with the codec; the assertions are the same.
    @Test func commandsRoundTripAndMalformedOnesAreRefused() throws {
        let commands: [FramebufferGuestCommand] = [
            .put(rect(1, 2, 1, 1), compressed: false, data: [1, 2, 3, 0][...]),
            .fill(rect(1, 2, 3, 4), colour: 0x12_3456),
            .copy(sourceX: 5, sourceY: 6, destination: rect(7, 8, 9, 10)),
            .frame(42), .preempt, .release, .surface,
            .flush([rect(1, 2, 3, 4), rect(0, 40, 480, 760)]),
        ]
        for command in commands {
            #expect(try FramebufferGuestCommand.decode(command.encode()[...]) == command)
        }
        #expect(
            FramebufferGuestCommand.fill(rect(1, 2, 3, 4), colour: 0x12_3456).encode()
                == [2, 0, 1, 0, 2, 0, 3, 0, 4, 0, 0x12, 0x34, 0x56])
        #expect(FramebufferGuestCommand.flush([rect(1, 2, 3, 4)]).encode() == [8, 1, 0, 1, 0, 2, 0, 3, 0, 4])
        let badCommands: [[UInt8]] = [
            [], [0x09], [0x02, 0, 0], [0x05, 0], [0x01, 0, 0, 0, 0, 0, 1, 0, 1, 0x80], [0x07, 0],
            // FLUSH with no rectangle, a count over the bytes present, and bytes beyond the count.
            [0x08, 0], [0x08, 2, 0, 1, 0, 2, 0, 3, 0, 4], [0x08, 1, 0, 1, 0, 2, 0, 3, 0, 4, 9], [0x08],
        ]
        for bad in badCommands {
            #expect(throws: FramebufferGuestCommand.DecodeError.self) { try FramebufferGuestCommand.decode(bad[...]) }
        }
        #expect(
            FramebufferHubEvent.key(code: 0x35, down: true, keysym: 0x35).encode() == [0x81, 1, 0, 0x35, 0, 0, 0, 0x35])
        #expect(FramebufferHubEvent.touch(action: 1, x: 300, y: 2).encode() == [0x82, 1, 1, 44, 0, 2])
        #expect(
            FramebufferHubEvent.surface(width: 480, height: 800, stride: 1920, size: 1_536_000).encode()
                == [0x86, 0x01, 0xe0, 0x03, 0x20, 0, 0, 0x07, 0x80, 0, 0, 0, 0, 0, 0x17, 0x70, 0])
    }

    /// Each `CHANNEL_DATA` is one whole command (§3.1): a command split over two frames is never taken for the
    /// whole one. Every strict prefix of a fixed-size command is refused; a prefix of a PUT is refused or is a
    /// PUT with fewer pixel bytes (which the hub refuses by size); no suffix decodes to the command either.
    @Test(arguments: ChannelVectorTests.commands.map(\.0)) func splitCommandIsNeverTheWholeOne(_ file: String) throws {
        let bytes = try ChannelVectors.bytes(file)
        let whole = try FramebufferGuestCommand.decode(bytes[...])
        for cut in 0..<bytes.count {
            let head = bytes[..<cut]
            let tail = bytes[cut...]
            switch try? FramebufferGuestCommand.decode(head) {
            case nil: break
            case .put(let rect, let compressed, let data)?:
                guard case .put(let wholeRect, let wholeCompressed, let wholeData) = whole else {
                    Issue.record("\(file): a prefix of \(cut) bytes decoded as a PUT")
                    continue
                }
                #expect(rect == wholeRect && compressed == wholeCompressed && data.count < wholeData.count)
            case let other?: Issue.record("\(file): a prefix of \(cut) bytes decoded as \(other)")
            }
            if cut > 0 { #expect((try? FramebufferGuestCommand.decode(tail)) != whole) }
        }
    }

    /// A byte more than a fixed-size command is refused (a frame carries one command, nothing after it).
    @Test(arguments: ChannelVectorTests.commands.map(\.0)) func trailingByteIsRefusedUnlessPut(_ file: String) throws {
        let bytes = try ChannelVectors.bytes(file)
        guard bytes.first != FramebufferGuestCommand.Tag.put else { return }
        #expect(throws: FramebufferGuestCommand.DecodeError.self) {
            try FramebufferGuestCommand.decode((bytes + [0])[...])
        }
    }

    /// FLUSH's u8 count against the bytes present: every count 1...255 with one rectangle fewer than announced
    /// is refused, by its length, without reading past the end.
    @Test func flushCountBeyondTheBytesIsRefused() {
        for count in 1...255 {
            let bytes: [UInt8] = [0x08, UInt8(count)] + [UInt8](repeating: 0xff, count: 8 * (count - 1))
            #expect(throws: FramebufferGuestCommand.DecodeError.self) { try FramebufferGuestCommand.decode(bytes[...]) }
        }
        let full: [UInt8] = [0x08, 255] + [UInt8](repeating: 0xff, count: 8 * 255)
        guard case .flush(let rects)? = try? FramebufferGuestCommand.decode(full[...]) else {
            Issue.record("255 rectangles did not decode")
            return
        }
        #expect(rects.count == 255 && rects.allSatisfy { $0 == rect(65535, 65535, 65535, 65535) })
    }

    /// Garbage: any input either is refused or decodes to a command that encodes to bytes decoding to the same
    /// command (decoding is total and the values are the wire's).
    @Test func garbageIsRefusedOrDecodesCanonically() throws {
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        for _ in 0..<20_000 {
            let count = Int(next() % 40)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
            if !bytes.isEmpty { bytes[0] = UInt8(next() % 10) }
            guard let command = try? FramebufferGuestCommand.decode(bytes[...]) else { continue }
            #expect(try FramebufferGuestCommand.decode(command.encode()[...]) == command)
        }
    }

    @Test func commandNames() {
        #expect(FramebufferGuestCommand.name(ofTag: 0x01) == "PUT")
        #expect(FramebufferGuestCommand.name(ofTag: 0x08) == "FLUSH")
        #expect(FramebufferGuestCommand.name(ofTag: 0x9f) == "command 0x9f")
    }
}
