import Testing
import Wire

@testable import GuestWire

/// The hub reads MSG_SEND and writes MSG_DELIVER without building frames; these check that the fast path and the
/// general codec agree on every vector, so the spec's vectors cover both.
@Suite struct MessageFastPathTests {
    @Test func messageSendViewAgreesWithTheDecoderOnEveryVector() throws {
        var sawMessageSend = false
        var sawSequenced = false
        for vector in try loadValid() + loadMalformed().map({ ValidVector(malformed: $0) }) {
            guard vector.bytes.count >= GuestProtocol.prefixLength else { continue }
            let body = vector.bytes[GuestProtocol.prefixLength...]
            let view = GuestFrame.messageSend(in: body)
            switch GuestFrame.decode(body: body) {
            case .success(let frame):
                if case .msgSend(let link, let correlation, let payload) = frame.message {
                    sawMessageSend = true
                    let view = try #require(view, "\(vector.file)")
                    #expect(view.link == link && view.correlation == correlation && view.requestId == frame.requestId)
                    #expect(Array(view.payload) == Array(payload) && view.sequence == 0)
                } else if case .msgSendSequenced(let link, let sequence, let correlation, let payload) = frame.message {
                    sawSequenced = true
                    let view = try #require(view, "\(vector.file)")
                    #expect(view.link == link && view.correlation == correlation && view.requestId == frame.requestId)
                    #expect(Array(view.payload) == Array(payload) && view.sequence == sequence)
                } else {
                    #expect(view == nil, "\(vector.file) is \(frame.type), not MSG_SEND")
                }
            case .failure:
                #expect(view == nil, "\(vector.file) is malformed but the fast path accepted it")
            }
        }
        #expect(sawMessageSend && sawSequenced)
    }

    @Test func sequencedSendEncodingMatchesTheFrameEncoder() {
        for payload in [[UInt8](), [1, 2, 3], [UInt8](repeating: 0x5a, count: 300)] {
            var direct = ByteWriter(capacity: 0)
            GuestFrame.encodeMessageSend(
                into: &direct, link: 3, sequence: 0x0a0b_0c0d, correlation: 9, payload: payload)
            let frame = GuestFrame(
                .msgSendSequenced(link: 3, sequence: 0x0a0b_0c0d, correlation: 9, payload: payload[...]))
            #expect(direct.bytes == frame.encode())
        }
    }

    @Test func plainSendEncodingMatchesTheFrameEncoderAfterEarlierFrames() {
        var direct = ByteWriter(capacity: 0)
        var expected: [UInt8] = []
        for payload in [[UInt8](), [1, 2, 3], [UInt8](repeating: 0x5a, count: 300)] {
            GuestFrame.encodeMessageSend(
                into: &direct, link: 0x0102_0304, correlation: 0x1112_1314_1516_1718, payload: payload)
            expected += GuestFrame(
                .msgSend(link: 0x0102_0304, correlation: 0x1112_1314_1516_1718, payload: payload[...])
            )
            .encode()
        }
        #expect(direct.bytes == expected)
    }

    @Test func nameValidationAcceptsAndRefusesExactlyWhatStringValidationDoes() {
        var cases: [[UInt8]] = [
            [], Array("rtos".utf8), [0], [0x7f], Array("é".utf8), Array("名前".utf8), Array("🙂".utf8),
            [0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff],
            [0xe2, 0x82], Array("ok".utf8) + [0xc3], [0x61, 0xc3, 0x28, 0x62],
        ]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            cases.append(
                (0..<Int.random(in: 0...12, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
        for bytes in cases {
            // Inside a larger buffer, as names are read from a frame body.
            let framed = [0xff] + bytes + [0xff]
            let slice = framed[1..<(1 + bytes.count)]
            #expect(GuestFrame.validatedUTF8(slice) == String(validating: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    @Test func bodiesReadInPlaceFromSlicesEqualThoseOfTheCopyingPath() throws {
        // Every valid vector's frame, back to back, cut at random places (a byte at a time among them): the slice
        // overload returns the same bodies as the generic one, which copies each read into the framer first; so
        // does the overload appending to a caller's array, emptied after each read as the hub's sessions reuse it.
        let stream = try loadValid().flatMap(\.bytes)
        var random = SystemRandomNumberGenerator()
        for round in 0..<20 {
            var inPlace = GuestFrameDecoder()
            var copying = GuestFrameDecoder()
            var appending = GuestFrameDecoder()
            var reused: [ArraySlice<UInt8>] = []
            var fromSlices: [[UInt8]] = []
            var fromCopies: [[UInt8]] = []
            var fromAppends: [[UInt8]] = []
            // Bytes around each read's slice, as in a reused read buffer, must never be read.
            var buffer = [UInt8](repeating: 0xa5, count: stream.count + 16)
            var at = 0
            while at < stream.count {
                let count = round == 0 ? 1 : min(Int.random(in: 1...300, using: &random), stream.count - at)
                buffer.replaceSubrange(8..<(8 + count), with: stream[at..<(at + count)])
                fromSlices += try inPlace.feedBodies(buffer[8..<(8 + count)]).map { Array($0) }
                fromCopies += try copying.feedBodies(AnyCollection(stream[at..<(at + count)])).map { Array($0) }
                try appending.feedBodies(buffer[8..<(8 + count)], into: &reused)
                fromAppends += reused.map { Array($0) }
                reused.removeAll(keepingCapacity: true)
                at += count
            }
            #expect(fromSlices == fromCopies)
            #expect(fromAppends == fromCopies)
            #expect(!fromSlices.isEmpty && inPlace.bufferedByteCount == 0)
        }
    }

    @Test func deliveryReaderAgreesWithTheDecoderOnEveryVector() throws {
        var sawDelivery = false
        for vector in try loadValid() + loadMalformed().map({ ValidVector(malformed: $0) }) {
            guard vector.bytes.count >= GuestProtocol.prefixLength else { continue }
            let body = vector.bytes[GuestProtocol.prefixLength...]
            let read = GuestFrame.messageDelivery(in: body)
            if case .success(let frame) = GuestFrame.decode(body: body), case .msgDeliver(let delivery) = frame.message,
                frame.channel == GuestProtocol.sessionChannel
            {
                sawDelivery = true
                #expect(read == delivery, "\(vector.file)")
            } else {
                #expect(read == nil, "\(vector.file) is not a well-formed MSG_DELIVER but the fast path read it")
            }
        }
        #expect(sawDelivery)
    }

    @Test func messageSendViewRefusesWhatTheDecoderRefuses() {
        // Header of a MSG_SEND on a device channel, and one cut short inside the correlation field.
        let onDeviceChannel: [UInt8] = [0x02, 0x01, 0x00, 0x03, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 12)
        let truncated: [UInt8] = [0x02, 0x01, 0x00, 0x00, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 11)
        for body in [onDeviceChannel, truncated] {
            #expect(GuestFrame.messageSend(in: body[...]) == nil)
            guard case .failure = GuestFrame.decode(body: body[...]) else {
                Issue.record("the decoder accepted \(body)")
                continue
            }
        }
    }

    @Test func directDeliveryEncodingMatchesTheFrameEncoder() {
        for payload in [[UInt8](), [1, 2, 3], [UInt8](repeating: 0x5a, count: 300)] {
            var direct = ByteWriter(capacity: 0)
            direct.writeBytes([0xee])  // frames are appended after whatever the pass already queued
            GuestFrame.encodeMessageDelivery(
                into: &direct, link: 7, messageId: 0x0102_0304_0506_0708, sender: "rtos", correlation: 42,
                payload: payload)
            let frame = GuestFrame(
                .msgDeliver(
                    GuestDelivery(
                        link: 7, messageId: 0x0102_0304_0506_0708, sender: "rtos", correlation: 42,
                        payload: payload[...])))
            #expect(Array(direct.bytes.dropFirst()) == frame.encode())
        }
    }

    @Test func directInterruptEncodingMatchesTheFrameEncoder() {
        for (line, priority, coalesced) in [(0, 0, 1), (2, 5, 3), (1023, 255, UInt32.max), (UInt16.max, 1, 0)]
            as [(UInt16, UInt8, UInt32)]
        {
            var direct = ByteWriter(capacity: 0)
            direct.writeBytes([0xee])  // after whatever the pass already queued
            GuestFrame.encodeInterrupt(into: &direct, line: line, priority: priority, coalesced: coalesced)
            #expect(direct.bytes.first == 0xee)
            #expect(
                Array(direct.bytes.dropFirst())
                    == GuestFrame(.irq(line: line, priority: priority, coalesced: coalesced)).encode())
        }
    }

    @Test func directDeliveryWithIdentityMatchesTheFrameEncoderAtEveryNameLength() {
        // Names from empty to the 255 bytes a u8 length can carry, multi-byte UTF-8 among them: the one-run
        // header must count each exactly, or the frame's length prefix and fields shift.
        let names = ["", "r", "rtos", String(repeating: "é", count: 32), String(repeating: "n", count: 255)]
        for sender in names {
            for identity in [nil, ""] + names {
                var direct = ByteWriter(capacity: 0)
                direct.writeBytes([0xee, 0xff])
                let payload = [UInt8](repeating: 0xa5, count: sender.utf8.count % 7)
                let delivery = GuestDelivery(
                    link: 0xdead_beef, messageId: .max, sender: sender, correlation: 0x1122_3344_5566_7788,
                    payload: payload[...])
                if let identity {
                    GuestFrame.encodeMessageDeliveryAs(
                        into: &direct, link: 0xdead_beef, messageId: .max, sender: sender, identity: identity,
                        correlation: 0x1122_3344_5566_7788, payload: payload)
                    #expect(
                        Array(direct.bytes.dropFirst(2))
                            == GuestFrame(.msgDeliverAs(delivery, identity: identity)).encode())
                } else {
                    GuestFrame.encodeMessageDelivery(
                        into: &direct, link: 0xdead_beef, messageId: .max, sender: sender,
                        correlation: 0x1122_3344_5566_7788, payload: payload)
                    #expect(Array(direct.bytes.dropFirst(2)) == GuestFrame(.msgDeliver(delivery)).encode())
                }
                #expect(direct.bytes.prefix(2) == [0xee, 0xff])
            }
        }
    }

    @Test func fieldRunsAreStoredBigEndianAndAppendedAfterWhatWasThere() {
        var writer = ByteWriter(capacity: 0)
        writer.writeU8(7)
        writer.appendFields(count: 1 + 2 + 4 + 8 + 3) { fields in
            fields.u8(0x01)
            fields.u16(0x0203)
            fields.u32(0x0405_0607)
            fields.u64(0x0809_0a0b_0c0d_0e0f)
            [UInt8](arrayLiteral: 0x10, 0x11, 0x12).withUnsafeBufferPointer { fields.bytes($0) }
        }
        writer.appendFields(count: 0) { _ in }
        #expect(writer.bytes == [7] + Array(1...0x12))
    }
}

extension GuestMessageSendView: Equatable {
    public static func == (lhs: GuestMessageSendView, rhs: GuestMessageSendView) -> Bool {
        lhs.requestId == rhs.requestId && lhs.link == rhs.link && lhs.correlation == rhs.correlation
            && Array(lhs.payload) == Array(rhs.payload) && lhs.sequence == rhs.sequence
    }
}

extension ValidVector {
    /// A malformed vector seen through the same fields, for loops over every vector file.
    init(malformed: MalformedVector) {
        self.init(file: malformed.file, type: "", channel: 0, requestId: 0, fields: .list([]), bytes: malformed.bytes)
    }
}
