import Testing
import VectorSupport
import Wire

@testable import EthernetWire

@Suite struct EthernetHeaderTests {
    @Test func parsesUntaggedBroadcast() throws {
        let frame = try VectorSet.bytes("ethernet/frames.vectors", "untagged-arp-request")
        #expect(frame.count == 42)
        let header = try EthernetHeader(parsing: frame)
        #expect(header.destination == .broadcast)
        #expect(header.destination.isGroup)
        #expect(header.source == MACAddress(parsing: "52:54:00:12:34:56"))
        #expect(!header.source.isGroup)
        #expect(header.tag == nil)
        #expect(header.etherType == 0x0806)
        #expect(header.encode() == Array(frame.prefix(14)))
    }

    @Test func parsesTagAndPushPopRoundTrip() throws {
        let untagged = try VectorSet.bytes("ethernet/frames.vectors", "untagged-arp-request")
        let tagged = try VectorSet.bytes("ethernet/frames.vectors", "tagged-arp-request")
        let header = try EthernetHeader(parsing: tagged)
        #expect(header.tag == VLANTag(vid: 100, priority: 5))
        #expect(header.etherType == 0x0806)
        #expect(header.encodedLength == 18)
        #expect(VLANTagging.push(untagged[...], vid: 100, priority: 5) == tagged)
        #expect(VLANTagging.pop(tagged[...]) == untagged)
    }

    @Test func refusesShortFrames() {
        #expect(throws: DecodeError.truncated(needed: 14, available: 13)) {
            try EthernetHeader(parsing: [UInt8](repeating: 0, count: 13))
        }
        var shortTagged = [UInt8](repeating: 0, count: 16)
        shortTagged[12] = 0x81
        #expect(throws: DecodeError.truncated(needed: 18, available: 16)) { try EthernetHeader(parsing: shortTagged) }
    }

    @Test func macTextForms() {
        let mac = MACAddress(parsing: "02-00-5E-10-00-01")
        #expect(mac?.description == "02:00:5e:10:00:01")
        #expect(MACAddress(parsing: "01:00:5e:00:00:01")?.isGroup == true)
        #expect(MACAddress(parsing: "02:00:5e:00:00") == nil)
        #expect(MACAddress(parsing: "zz:00:5e:00:00:01") == nil)
    }

    /// The raw-memory reader (two unaligned big-endian loads) reads the same address as the byte-wise one at
    /// every offset, aligned or not, including the last six bytes of the buffer.
    @Test func macFromRawMemoryMatchesTheBytewiseReaderAtEveryOffset() {
        let bytes: [UInt8] = (0..<23).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 0xA5) }
        bytes.withUnsafeBytes { raw in
            for offset in 0...(bytes.count - 6) {
                let expected = bytes[offset..<offset + 6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                #expect(MACAddress(raw, at: offset).rawValue == expected, "offset \(offset)")
                #expect(MACAddress(raw, at: offset) == MACAddress(bytes[...], at: offset))
            }
        }
    }
}

@Suite struct StreamFramingTests {
    @Test func qemuStreamVectorSplitsAtEveryPosition() throws {
        let stream = try VectorSet.bytes("ethernet/frames.vectors", "qemu-stream-two-frames")
        func feed(_ pieces: [ArraySlice<UInt8>]) throws -> [[UInt8]] {
            var framer = StreamFraming.qemu.makeFramer(maxFrameLength: 1518)
            return try pieces.flatMap { try framer.feed($0).map(Array.init) }
        }
        let frames = try feed([stream[...]])
        #expect(frames.count == 2)
        #expect(frames.allSatisfy { $0.count == 14 })
        #expect(frames.first.map { Array($0.prefix(6)) } == [2, 0, 0, 0, 0, 2])
        let failures = Chunking.verify(stream, expected: frames, feed: feed)
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test func vdeStreamVectorAndEncoding() throws {
        let stream = try VectorSet.bytes("ethernet/frames.vectors", "vde-stream-one-frame")
        var framer = StreamFraming.vde.makeFramer(maxFrameLength: 1518)
        let frames = try framer.feed(stream)
        #expect(frames.count == 1)
        var encoded: [UInt8] = []
        StreamFraming.vde.appendPrefix(length: frames[0].count, to: &encoded)
        encoded += frames[0]
        #expect(encoded == stream)
    }

    @Test func fourGiBPrefixIsRefusedAndEmptyFramesPass() throws {
        let stream = try VectorSet.bytes("ethernet/frames.vectors", "bad-qemu-stream-4gib")
        var framer = StreamFraming.qemu.makeFramer(maxFrameLength: StreamFraming.qemuMaxFrame)
        #expect(throws: DecodeError.oversized(length: 0xFFFF_FFFF, limit: StreamFraming.qemuMaxFrame)) {
            try framer.feed(stream)
        }
        var empty = StreamFraming.qemu.makeFramer(maxFrameLength: 1518)
        #expect(try empty.feed([0, 0, 0, 0]).map(\.count) == [0])
    }
}

@Suite struct VXLANTests {
    @Test func decodesVectorAndEncodesHeader() throws {
        let datagram = try VectorSet.bytes("ethernet/frames.vectors", "vxlan-vni-42")
        let (vni, frame) = try VXLANHeader.decode(datagram[...])
        #expect(vni == 42)
        #expect(frame.count == 14)
        #expect(VXLANHeader.encode(vni: 42) + Array(frame) == datagram)
    }

    @Test func refusesMissingFlagAndShortDatagrams() throws {
        let bad = try VectorSet.bytes("ethernet/frames.vectors", "bad-vxlan-no-i-flag")
        #expect(throws: DecodeError.self) { try VXLANHeader.decode(bad[...]) }
        #expect(throws: DecodeError.truncated(needed: 8, available: 7)) {
            try VXLANHeader.decode(VXLANHeader.encode(vni: 1).dropLast())
        }
        // A whole header with a short (here empty) inner frame decodes: the switch counts the frame a runt.
        let headerOnly = try VXLANHeader.decode(VXLANHeader.encode(vni: 1)[...])
        #expect(headerOnly.vni == 1 && headerOnly.frame.isEmpty)
    }
}

@Suite struct PcapTests {
    @Test func matchesVector() throws {
        let expected = try VectorSet.bytes("ethernet/frames.vectors", "pcap-one-record")
        var out = PcapWriter.globalHeader()
        let frame: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5]
        PcapWriter.appendRecord(frame, unixNanoseconds: 1_700_000_000_000_123_456, to: &out)
        #expect(out == expected)
    }

    @Test func truncatesToSnapLength() {
        var out: [UInt8] = []
        PcapWriter.appendRecord([UInt8](repeating: 7, count: 100), unixNanoseconds: 0, snapLength: 10, to: &out)
        #expect(out.count == 16 + 10)
        #expect(out[8..<12] == [10, 0, 0, 0])
        #expect(out[12..<16] == [100, 0, 0, 0])
    }
}

@Suite struct FramePatternTests {
    @Test func wildcardsMatchPrefixes() throws {
        let pattern = try FramePattern(parsing: "ff ff ff ff ff ff ?? ?? ?? ?? ?? ?? 08 06 *")
        let arp = try VectorSet.bytes("ethernet/frames.vectors", "untagged-arp-request")
        #expect(pattern.matches(arp))
        #expect(!pattern.matches(arp.prefix(13)))
        var ipv4 = arp
        ipv4[13] = 0x00
        #expect(!pattern.matches(ipv4))
        #expect(pattern.description.hasPrefix("ff ff ff ff ff ff ?? ??"))
        #expect(try FramePattern(parsing: "").matches([]))
    }

    @Test func refusesMalformedPatterns() {
        for text in ["f", "fg", "? f", "ff * ff", "f?"] {
            #expect(throws: DecodeError.self) { try FramePattern(parsing: text) }
        }
        #expect(throws: DecodeError.self) { try FramePattern(parsing: String(repeating: "00", count: 1025)) }
    }

    /// Patterns are compared 8 bytes at a time, the last bytes one by one: every byte of a pattern of any length
    /// counts, wherever it falls in a word, and wildcards anywhere match anything.
    @Test func everyPatternByteCountsWhateverItsPlaceInAWord() {
        let frame = (0..<64).map { UInt8($0 * 7 & 0xFF) }
        for length in [1, 7, 8, 9, 15, 16, 17, 63, 64] {
            let exact: [UInt8?] = frame.prefix(length).map { $0 }
            #expect(FramePattern(bytes: exact).matches(frame))
            #expect(FramePattern(bytes: exact).matches(frame[...]))
            #expect(!FramePattern(bytes: exact).matches(frame.prefix(length - 1)))
            for index in 0..<length {
                var wrong = exact
                wrong[index] = frame[index] ^ 0x40
                #expect(!FramePattern(bytes: wrong).matches(frame), "byte \(index) of \(length)")
                wrong[index] = nil
                #expect(FramePattern(bytes: wrong).matches(frame), "wildcard \(index) of \(length)")
            }
        }
    }
}
