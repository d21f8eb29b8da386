// libFuzzer entry for the Ethernet codecs (Protocols/ethernet.md): the QEMU and VDE stream framings, the
// Ethernet/802.1Q header and tag push/pop, VXLAN, pcap records, frame patterns and MAC address text. Built by
// run-ethernet-fuzz.sh together with the Wire and EthernetWire sources as one module, so no `import` of them is
// needed here.
//
// The first input byte selects limits and split points; the rest is the input. Properties checked beyond
// "does not crash":
// - framings: the same frames (or the same error) whatever the split; no frame over the limit; frames plus
//   their prefixes plus what stays buffered account for every input byte; re-encoding the frames gives back
//   the bytes they came from;
// - header: what parses re-encodes to the bytes it was read from and parses again to itself; pushing a tag
//   and popping it gives back the frame;
// - VXLAN: a datagram that decodes is its header's VNI plus the rest, and re-encodes to a datagram that
//   decodes the same;
// - pcap: a record holds exactly min(length, snap) bytes of the frame behind a 16-byte header that says so;
// - patterns and MAC text: what parses prints to text that parses to the same value, and a pattern matches
//   a frame built from it.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEthernetWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    for framing in StreamFraming.allCases {
        checkFraming(framing, input, selector: selector)
    }
    checkHeader(input, selector: selector)
    checkVXLAN(input)
    checkPcap(input, selector: selector)
    checkText(input)
    return 0
}

/// Frames and the error (as text) a fresh framer gives for the pieces, and what it keeps buffered.
private func frames(
    _ framing: StreamFraming, limit: Int, _ pieces: [ArraySlice<UInt8>]
) -> (frames: [[UInt8]], error: String?, buffered: Int) {
    var framer = framing.makeFramer(maxFrameLength: limit)
    var out: [[UInt8]] = []
    for piece in pieces {
        do {
            out += try framer.feed(piece).map(Array.init)
        } catch {
            return (out, "\(error)", framer.bufferedByteCount)
        }
    }
    return (out, nil, framer.bufferedByteCount)
}

private func checkFraming(_ framing: StreamFraming, _ input: [UInt8], selector: UInt8) {
    let limit = 1 + Int(selector) * 7
    let whole = frames(framing, limit: limit, [input[...]])
    let cut = input.isEmpty ? 0 : Int(selector) % (input.count + 1)
    let split = frames(framing, limit: limit, [input[..<cut], input[cut...]])
    // The same frames and the same error (a split input may return frames before the error that the whole
    // one loses with the throw, so after an error only the error is compared).
    let bytewise = frames(framing, limit: limit, input.map { [$0][...] })
    for (label, other) in [("split at \(cut)", split), ("byte at a time", bytewise)] {
        guard other.error == whole.error else {
            fatalError("\(framing): \(label) changed the error: \(String(describing: whole.error)) vs \(String(describing: other.error))")
        }
        guard whole.error != nil || (other.frames == whole.frames && other.buffered == whole.buffered) else {
            fatalError("\(framing): \(label) changed the frames")
        }
    }
    guard whole.error == nil else { return }
    var encoded: [UInt8] = []
    for frame in whole.frames {
        guard frame.count <= limit else { fatalError("\(framing): a frame of \(frame.count) over the limit \(limit)") }
        framing.appendPrefix(length: frame.count, to: &encoded)
        encoded += frame
    }
    guard encoded.count + whole.buffered == input.count, input.starts(with: encoded) else {
        fatalError("\(framing): frames and prefixes do not account for the input")
    }
}

private func checkHeader(_ input: [UInt8], selector: UInt8) {
    // Also at a non-zero start index: decoders must not assume slices start at 0.
    let slice = ([0xEE] + input)[1...]
    guard let header = try? EthernetHeader(parsing: slice) else {
        // Refused only when too short: for the header, or for the tag its TPID announces.
        let tagged = input.count >= EthernetHeader.length && EthernetHeader.u16(input, at: 12) == EthernetHeader.tpid8021Q
        let needed = EthernetHeader.length + (tagged ? EthernetHeader.tagLength : 0)
        guard input.count < needed else { fatalError("a \(input.count)-byte frame was refused") }
        return
    }
    guard (try? EthernetHeader(parsing: input)) == header else { fatalError("slice and array parse differently") }
    let encoded = header.encode()
    guard encoded.count == header.encodedLength, Array(input.prefix(encoded.count)) == encoded,
        (try? EthernetHeader(parsing: encoded)) == header
    else { fatalError("header does not re-encode to its bytes: \(header)") }
    let vid = UInt16(selector) << 4 | UInt16(selector >> 4)
    let pushed = VLANTagging.push(slice, vid: vid, priority: selector >> 5)
    guard let tagged = try? EthernetHeader(parsing: pushed), tagged.tag?.vid == vid & 0x0FFF,
        tagged.tag?.priority == (selector >> 5) & 0x07, tagged.destination == header.destination,
        tagged.source == header.source, VLANTagging.pop(pushed[...]) == input
    else { fatalError("push then pop does not give back the frame") }
}

private func checkVXLAN(_ input: [UInt8]) {
    guard let (vni, frame) = try? VXLANHeader.decode(input[...]) else { return }
    guard VXLANHeader.vniRange.contains(vni), frame.count == input.count - VXLANHeader.length,
        Array(frame) == Array(input.dropFirst(VXLANHeader.length))
    else { fatalError("VXLAN decode does not split header and frame") }
    let again = VXLANHeader.encode(vni: vni) + frame
    guard let (vni2, frame2) = try? VXLANHeader.decode(again[...]), vni2 == vni, Array(frame2) == Array(frame) else {
        fatalError("VXLAN re-encoding does not decode the same")
    }
}

private func checkPcap(_ input: [UInt8], selector: UInt8) {
    let snap = Int(selector) * 3
    var out: [UInt8] = []
    let stamp = UInt64(selector) * 1_000_000_007
    PcapWriter.appendRecord(input, unixNanoseconds: stamp, snapLength: snap, to: &out)
    let captured = min(input.count, snap)
    func le32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(out[at + $1]) << (8 * $1) } }
    guard out.count == PcapWriter.recordHeaderLength + captured, le32(8) == captured, le32(12) == input.count,
        le32(0) == Int(stamp / 1_000_000_000), le32(4) == Int(stamp % 1_000_000_000 / 1000),
        Array(out.dropFirst(PcapWriter.recordHeaderLength)) == Array(input.prefix(captured))
    else { fatalError("pcap record does not hold the frame") }
    guard PcapWriter.globalHeader(snapLength: UInt32(snap)).count == PcapWriter.globalHeaderLength else {
        fatalError("pcap global header length")
    }
}

private func checkText(_ input: [UInt8]) {
    let text = String(decoding: input, as: UTF8.self)
    if let pattern = try? FramePattern(parsing: text) {
        guard pattern.bytes.count <= FramePattern.maxLength,
            (try? FramePattern(parsing: pattern.description)) == pattern
        else { fatalError("pattern does not survive printing: \(pattern)") }
        let frame = pattern.bytes.map { $0 ?? 0x5A }
        guard pattern.matches(frame), pattern.matches(frame + [1, 2]) else {
            fatalError("pattern does not match a frame built from it: \(pattern)")
        }
        if !frame.isEmpty, pattern.matches(frame.dropLast()) { fatalError("pattern matches a shorter frame") }
    }
    if let mac = MACAddress(parsing: text) {
        guard MACAddress(parsing: mac.description) == mac, MACAddress(mac.bytes, at: 0) == mac else {
            fatalError("MAC address does not survive printing: \(mac)")
        }
    }
}
