import Testing
import VectorSupport
import Wire

@testable import RFBWire

/// A deterministic screen with flat areas, stripes, a gradient and noise: every encoder path gets used.
func testScreen(width: Int, height: Int, seed: UInt32 = 1) -> [UInt32] {
    var state = seed
    var pixels = [UInt32](repeating: 0, count: width * height)
    for y in 0..<height {
        for x in 0..<width {
            let value: UInt32
            if y < height / 4 {
                value = 0x20_4060
            } else if y < height / 2 {
                value = (x / 3) % 2 == 0 ? 0xff_0000 : 0x00_00ff
            } else if y < 3 * height / 4 {
                value = UInt32(x & 0xff) << 16 | UInt32(y & 0xff) << 8 | UInt32((x + y) & 0xff)
            } else {
                state = state &* 1_103_515_245 &+ 12345
                value = (state >> 8) % 5 == 0 ? (state & 0xff_ffff) : 0xee_eeee
            }
            pixels[y * width + x] = value
        }
    }
    return pixels
}

@Suite struct EncoderRoundTrips {
    static let formats: [(String, RFBPixelFormat)] = [
        ("native", .native),
        ("rgb565", .rgb565),
        (
            "bgr888-big-endian",
            RFBPixelFormat(
                bitsPerPixel: 32, depth: 24, bigEndian: true, trueColour: true, redMax: 255, greenMax: 255,
                blueMax: 255, redShift: 0, greenShift: 8, blueShift: 16)
        ),
        (
            "rgb888-high-bytes",
            RFBPixelFormat(
                bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255,
                blueMax: 255, redShift: 24, greenShift: 16, blueShift: 8)
        ),
        (
            "bgr233",
            RFBPixelFormat(
                bitsPerPixel: 8, depth: 8, bigEndian: false, trueColour: true, redMax: 7, greenMax: 7, blueMax: 3,
                redShift: 0, greenShift: 3, blueShift: 6)
        ),
    ]

    @Test(arguments: [RFBEncoding.raw, RFBEncoding.hextile, RFBEncoding.zrle])
    func eachEncodingDecodesBackInEveryPixelFormat(encoding: Int32) throws {
        let width = 150
        let height = 130
        let pixels = testScreen(width: width, height: height)
        let source = RFBPixelSource(pixels: pixels, width: width, height: height)
        for (name, format) in Self.formats {
            let encoder = RFBUpdateEncoder(format: format, preferences: RFBEncodingPreferences([encoding]))
            var decoder = IndependentDecoder(width: width, height: height, format: format)
            // Whole screen, then two partial rectangles with odd sizes (edge tiles), same zlib stream.
            let rects = [
                [RFBRect(x: 0, y: 0, width: width, height: height)],
                [RFBRect(x: 3, y: 5, width: 17, height: 33), RFBRect(x: 70, y: 60, width: 80, height: 70)],
            ]
            for batch in rects {
                let message = encoder.update(source: source, rects: batch)
                let seen = try decoder.apply(message)
                #expect(seen == Array(repeating: encoding, count: batch.count), "\(name)")
            }
            let expected = pixels.map { format.rgb(fromValue: format.pixelValue($0)) }
            let wrong = zip(decoder.framebuffer, expected).filter { $0 != $1 }.count
            #expect(wrong == 0, "\(name): \(wrong) pixels differ with encoding \(encoding)")
        }
    }

    @Test func compressedEncodingsAreSmallerThanRawOnFlatContent() {
        let width = 480
        let height = 800
        let pixels = [UInt32](repeating: 0x33_6699, count: width * height)
        let source = RFBPixelSource(pixels: pixels, width: width, height: height)
        let full = [RFBRect(x: 0, y: 0, width: width, height: height)]
        let raw = RFBUpdateEncoder(preferences: RFBEncodingPreferences([RFBEncoding.raw])).update(
            source: source, rects: full)
        let hextile = RFBUpdateEncoder(preferences: RFBEncodingPreferences([RFBEncoding.hextile])).update(
            source: source, rects: full)
        let zrle = RFBUpdateEncoder(preferences: RFBEncodingPreferences([RFBEncoding.zrle])).update(
            source: source, rects: full)
        #expect(raw.count == 4 + 12 + width * height * 4)
        #expect(hextile.count < raw.count / 50)
        #expect(zrle.count < hextile.count)
    }

    @Test func zrleTakesItsZlibLevelFromTheCompressionLevel() throws {
        let width = 256
        let height = 128
        let pixels = testScreen(width: width, height: height)
        let source = RFBPixelSource(pixels: pixels, width: width, height: height)
        let full = [RFBRect(x: 0, y: 0, width: width, height: height)]
        var sizes: [Int] = []
        for level: Int32 in [0, 9] {
            let encoder = RFBUpdateEncoder(
                preferences: RFBEncodingPreferences([RFBEncoding.zrle, RFBEncoding.compressLevel0 + level]))
            var decoder = IndependentDecoder(width: width, height: height, format: .native)
            let message = encoder.update(source: source, rects: full)
            _ = try decoder.apply(message)
            #expect(decoder.framebuffer == pixels)
            sizes.append(message.count)
        }
        // Level 9 (zlib 8) compresses this screen's noise and gradient harder than level 0 (zlib 1).
        #expect(sizes[1] < sizes[0])
    }

    @Test func copyRectAndPseudoEncodingsComeFirst() throws {
        let width = 64
        let height = 64
        var pixels = testScreen(width: width, height: height)
        let source0 = RFBPixelSource(pixels: pixels, width: width, height: height)
        let preferences = RFBEncodingPreferences([
            RFBEncoding.raw, RFBEncoding.copyRect, RFBEncoding.cursor, RFBEncoding.desktopSize,
        ])
        let encoder = RFBUpdateEncoder(preferences: preferences)
        var decoder = IndependentDecoder(width: width, height: height, format: .native)
        _ = try decoder.apply(encoder.update(source: source0, rects: [RFBRect(x: 0, y: 0, width: 64, height: 64)]))
        // Move the top-left 16x16 block to (40, 40) on the "server", then send it as a CopyRect.
        for y in 0..<16 { for x in 0..<16 { pixels[(40 + y) * width + 40 + x] = pixels[y * width + x] } }
        let source1 = RFBPixelSource(pixels: pixels, width: width, height: height)
        let message = encoder.update(
            source: source1, rects: [],
            moves: [.init(sourceX: 0, sourceY: 0, destination: RFBRect(x: 40, y: 40, width: 16, height: 16))],
            cursor: .touchDot, desktopSize: (64, 64))
        let seen = try decoder.apply(message)
        #expect(seen == [RFBEncoding.desktopSize, RFBEncoding.cursor, RFBEncoding.copyRect])
        #expect(decoder.framebuffer == pixels)
        #expect(decoder.cursorSeen)
        #expect(decoder.desktopSize! == (64, 64))
    }
}

@Suite struct ClientMessages {
    @Test func vectorStreamDecodesIdenticallyWholeAndByteByByte() throws {
        let bytes = try VectorSet.bytes("rfb/client-messages.vectors", "client-messages")
        let expected: [RFBClientMessage] = [
            .setPixelFormat(.rgb565),
            .setEncodings([16, 5, 1, 0, -239, -223, 12345]),
            .framebufferUpdateRequest(incremental: true, RFBRect(x: 0, y: 0, width: 480, height: 800)),
            .keyEvent(down: true, keysym: 0x35),
            .pointerEvent(buttonMask: 1, x: 10, y: 20),
            .clientCutText(Array("hi".utf8)),
        ]
        let failures = Chunking.verify(bytes, expected: expected) { pieces in
            var decoder = RFBClientMessageDecoder(limits: RFBLimits())
            return try pieces.flatMap { try decoder.feed($0) }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        let preferences = RFBEncodingPreferences([16, 5, 1, 0, -239, -223, 12345])
        #expect(preferences.pixels == RFBEncoding.zrle && preferences.copyRect && preferences.cursor)
        #expect(preferences.desktopSize && preferences.unknown == 1)
    }

    @Test(arguments: [
        ("hostile-cut-text-4gib", RFBError.tooLarge("ClientCutText", value: 0xffff_ffff, limit: 65536)),
        ("hostile-too-many-encodings", RFBError.tooLarge("SetEncodings list", value: 65535, limit: 64)),
        ("hostile-unknown-message", RFBError.unknownMessage(99)),
        ("hostile-pixel-format-24bpp", RFBError.badPixelFormat("bits-per-pixel 24 is not 8, 16 or 32")),
        ("hostile-pixel-format-colour-map", RFBError.badPixelFormat("colour-map pixel formats are not supported")),
        ("hostile-pixel-format-bad-max", RFBError.badPixelFormat("red-max 100 is not 2^n-1")),
    ])
    func hostileInputIsRefusedPrecisely(file: String, error: RFBError) throws {
        let bytes = try VectorSet.bytes("rfb/client-messages.vectors", file)
        var decoder = RFBClientMessageDecoder(limits: RFBLimits(maxCutTextBytes: 65536, maxEncodings: 64))
        #expect(throws: error) { try decoder.feed(bytes[...]) }
        // Nothing was buffered for the announced length.
        #expect(decoder.bufferedBytes <= bytes.count)
    }
}

@Suite struct RectCacheTests {
    @Test func sharedEncodingsAreIdenticalAndDroppedWithTheirPicture() throws {
        var pixels = (0..<(40 * 30)).map { UInt32(truncatingIfNeeded: $0 &* 0x0101_0F07) & 0xff_ffff }
        let rects = [RFBRect(x: 0, y: 0, width: 40, height: 30), RFBRect(x: 3, y: 5, width: 17, height: 9)]
        for encoding in [RFBEncoding.raw, RFBEncoding.hextile] {
            let cache = RFBRectCache()
            cache.use(generation: 1)
            let plain = RFBUpdateEncoder(preferences: RFBEncodingPreferences([encoding]))
            let first = RFBUpdateEncoder(preferences: RFBEncodingPreferences([encoding]))
            let second = RFBUpdateEncoder(preferences: RFBEncodingPreferences([encoding]))
            let source = RFBPixelSource(pixels: pixels, width: 40, height: 30)
            let expected = plain.update(source: source, rects: rects)
            #expect(first.update(source: source, rects: rects, cache: cache) == expected)
            #expect(cache.hits == 0)
            #expect(second.update(source: source, rects: rects, cache: cache) == expected)
            #expect(cache.hits == 2)
            // A new picture: the old bytes must not be reused.
            pixels[0] ^= 0xff_ffff
            cache.use(generation: 2)
            let changed = RFBPixelSource(pixels: pixels, width: 40, height: 30)
            #expect(
                second.update(source: changed, rects: rects, cache: cache)
                    == plain.update(source: changed, rects: rects))
            #expect(cache.hits == 2)
            // Another pixel format is another entry.
            second.format.bitsPerPixel = 16
            second.format.depth = 16
            second.format.redMax = 31
            second.format.greenMax = 63
            second.format.blueMax = 31
            second.format.redShift = 11
            second.format.greenShift = 5
            second.format.blueShift = 0
            plain.format = second.format
            #expect(
                second.update(source: changed, rects: rects, cache: cache)
                    == plain.update(source: changed, rects: rects))
            #expect(cache.hits == 2)
        }
        // ZRLE shares each rectangle's deflate blocks: they continue any viewer's zlib stream, whatever that
        // stream carried before (A's has history, B's starts here with its header), and each viewer's decoder
        // must still get its exact picture.
        let cache = RFBRectCache()
        cache.use(generation: 3)
        let source = RFBPixelSource(pixels: pixels, width: 40, height: 30)
        let a = RFBUpdateEncoder(preferences: RFBEncodingPreferences([RFBEncoding.zrle]))
        let b = RFBUpdateEncoder(preferences: RFBEncodingPreferences([RFBEncoding.zrle]))
        var decodeA = IndependentDecoder(width: 40, height: 30, format: .native)
        var decodeB = IndependentDecoder(width: 40, height: 30, format: .native)
        _ = try decodeA.apply(a.update(source: source, rects: [rects[1]]))
        let fromA = a.update(source: source, rects: rects, cache: cache)
        #expect(cache.hits == 0)
        let fromB = b.update(source: source, rects: rects, cache: cache)
        #expect(cache.hits == 2)
        #expect(fromA != fromB)
        _ = try decodeA.apply(fromA)
        _ = try decodeB.apply(fromB)
        #expect(decodeA.framebuffer == pixels)
        #expect(decodeB.framebuffer == pixels)
    }
}

@Suite struct Handshake {
    func session(_ security: RFBServerSession.Security = .none) -> RFBServerSession {
        RFBServerSession(
            security: security, challenge: Array(0..<16), width: 480, height: 800, name: "fb0", limits: RFBLimits())
    }

    @Test func noneHandshakeMatchesVectorAtEverySplit() throws {
        let client = try VectorSet.bytes("rfb/handshake.vectors", "handshake-none-3.8")
        let server = try VectorSet.bytes("rfb/handshake.vectors", "handshake-none-3.8-server")
        #expect(session().greeting == Array("RFB 003.008\n".utf8))
        struct Fed: Equatable {
            var send: [UInt8]
            var initialised: Bool?
            var closed: Bool
            var running: Bool
        }
        let expected = Fed(send: server, initialised: true, closed: false, running: true)
        let failures = Chunking.verify(client, expected: expected) { pieces in
            var s = session()
            var fed = Fed(send: [], initialised: nil, closed: false, running: false)
            for piece in pieces {
                let output = s.feed(piece)
                fed.send += output.send
                fed.initialised = fed.initialised ?? output.initialised
                fed.closed = fed.closed || output.close != nil
            }
            fed.running = s.isRunning
            return fed
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test func wrongSecurityTypeGetsAFailureReason() throws {
        var s = session()
        let output = s.feed(try VectorSet.bytes("rfb/handshake.vectors", "handshake-bad-security")[...])
        let reason = Array("security type 2 is not supported".utf8)
        #expect(output.send == [1, 1, 0, 0, 0, 1] + [0, 0, 0, UInt8(reason.count)] + reason)
        #expect(output.close != nil)
        #expect(s.feed([1][...]) == RFBServerSession.Output())
    }

    /// Found by Tools/fuzz/run-rfb-fuzz.sh: messages before a violation were lost when they shared a
    /// read with it, but delivered when they came in an earlier read.
    @Test func messagesBeforeAViolationAreDeliveredWhateverTheReads() throws {
        let handshake = try VectorSet.bytes("rfb/handshake.vectors", "handshake-none-3.8")
        let key: [UInt8] = [4, 1, 0, 0, 0, 0, 0, 0x35]
        let bad: [UInt8] = [0x63]
        struct Fed: Equatable {
            var messages: [RFBClientMessage]
            var close: String?
        }
        let expected = Fed(
            messages: [.keyEvent(down: true, keysym: 0x35)], close: RFBError.unknownMessage(0x63).description)
        let failures = Chunking.verify(handshake + key + bad, expected: expected) { pieces in
            var s = session()
            var fed = Fed(messages: [], close: nil)
            for piece in pieces where fed.close == nil {
                let output = s.feed(piece)
                fed.messages += output.messages
                fed.close = output.close
            }
            return fed
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test func badVersionCloses() throws {
        var s = session()
        let output = s.feed(try VectorSet.bytes("rfb/handshake.vectors", "handshake-bad-version")[...])
        #expect(output.send.isEmpty && output.close?.hasPrefix("bad protocol version") == true)
    }

    @Test func version33GetsTheServerChosenType() {
        var s = session()
        let output = s.feed(Array("RFB 003.003\n".utf8)[...])
        #expect(output.send == [0, 0, 0, 1])
        #expect(s.feed([1][...]).initialised == true)
    }

    @Test func vncAuthenticationMatchesAnIndependentImplementation() throws {
        let challenge = try VectorSet.bytes("rfb/handshake.vectors", "vnc-auth")
        let responses = try VectorSet("rfb/handshake.vectors").vectors.filter { $0["password"] != nil }
        #expect(responses.count >= 3)
        for vector in responses {
            let expected = try vector.bytes()
            let password = Array(try vector.text("password").utf8)
            #expect(VNCAuthentication.response(challenge: challenge, password: password) == expected, "\(vector)")
        }
    }

    /// DES itself against FIPS 46's worked example and blocks encrypted by Python's `cryptography` (OpenSSL).
    @Test func desMatchesTheStandardAndAnIndependentImplementation() {
        let cases: [(key: String, plain: String, cipher: String)] = [
            ("133457799bbcdff1", "0123456789abcdef", "85e813540f0ab405"),
            ("5c3ee5ab7a65fafc", "5df597ea8764813c", "bc8456273ddafba1"),
            ("a65978567966bb67", "fc6e998703afcf70", "102aa8e1cee970ec"),
            ("cfb18b8a9b3a90f4", "4afd526169df43d0", "d0725ad216408c53"),
            ("f5336784adf02dfb", "4bf44dfa287f2fb4", "99d6c6d8571b9290"),
            ("68c903442cf4cccf", "5cc5d5428acbb849", "640c132af49b09f8"),
            ("abad9a40de09d84a", "53da02ea330483d8", "e246f5d3396103dc"),
        ]
        for (key, plain, cipher) in cases {
            let encrypted = DES.encrypt(block: HexText.decode(plain) ?? [], key: HexText.decode(key) ?? [])
            #expect(HexText.encode(encrypted) == cipher, "key \(key)")
        }
    }

    @Test func vncAuthenticationAcceptsTheRightPasswordOnly() {
        let challenge = [UInt8](0..<16)
        var good = session(.vncPassword(Array("secret".utf8)))
        #expect(good.feed(Array("RFB 003.008\n".utf8)[...]).send == [1, 2])
        #expect(good.feed([2][...]).send == challenge)
        let response = VNCAuthentication.response(challenge: challenge, password: Array("secret".utf8))
        #expect(good.feed(response[...]).send == [0, 0, 0, 0])
        var bad = session(.vncPassword(Array("secret".utf8)))
        _ = bad.feed(Array("RFB 003.008\n".utf8)[...] + [2])
        let output = bad.feed(VNCAuthentication.response(challenge: challenge, password: Array("wrong".utf8))[...])
        #expect(output.send.prefix(4) == [0, 0, 0, 1] && output.close == "authentication failed")
    }
}
