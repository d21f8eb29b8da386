// libFuzzer entry for the modem-simulator link codec (Protocols/modem.md §6.1): arbitrary bytes go through the
// frame decoder whole, split at a point the input chooses, and (for short inputs) a byte at a time. It checks
// invariants, not just crashes: every chunking refuses the same streams and yields the same frames (frames
// before a refusal may be lost with the read that carried it, never changed); every frame encodes back to bytes
// that decode to the same frame; hello payloads go through the hello check; serial bytes cut into AT frames
// come back whole.

struct Decoded {
    var frames: [(kind: UInt8, payload: [UInt8])] = []
    var refused = false
}

func decode(_ chunks: [ArraySlice<UInt8>]) -> Decoded {
    var decoder = ModemSimFrameDecoder()
    var decoded = Decoded()
    for chunk in chunks {
        guard let frames = try? decoder.feed(chunk) else {
            decoded.refused = true
            return decoded
        }
        decoded.frames += frames.map { ($0.kind.rawValue, Array($0.payload)) }
    }
    return decoded
}

func agree(_ a: Decoded, _ b: Decoded, _ how: String) {
    precondition(a.refused == b.refused, "\(how): one chunking refused the stream, the other did not")
    let (short, long) = a.frames.count <= b.frames.count ? (a.frames, b.frames) : (b.frames, a.frames)
    precondition(a.refused || short.count == long.count, "\(how): chunking changed the number of frames")
    for (x, y) in zip(short, long) {
        precondition(x.kind == y.kind && x.payload == y.payload, "\(how): chunking changed a frame")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func modemSimWireFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = decode([bytes[...]])
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    agree(whole, decode([bytes[..<cut], bytes[cut...]]), "split at \(cut)")
    if bytes.count <= 1024 {
        agree(whole, decode(bytes.indices.map { bytes[$0...$0] }), "byte at a time")
    }
    for frame in whole.frames {
        guard let kind = ModemSimFrame.Kind(rawValue: frame.kind) else {
            preconditionFailure("an unknown kind was delivered")
        }
        var again = ModemSimFrameDecoder()
        let round = try? again.feed(ModemSimFrame.encode(kind, frame.payload))
        precondition(
            round?.count == 1 && round?[0].kind == kind && Array(round![0].payload) == frame.payload,
            "encode/decode changed a frame")
        if kind == .hello {
            let (hello, problem) = ModemSimFrameDecoder.parseHello(frame.payload[...])
            precondition((hello == nil) != (problem == nil), "a hello is either accepted or refused with a reason")
        }
    }
    var serial = ModemSimFrameDecoder()
    let frames = (try? serial.feed(ModemSimFrame.encodeAT(bytes))) ?? []
    precondition(frames.allSatisfy { $0.kind == .at } && frames.flatMap(\.payload) == bytes, "AT frames lost bytes")
    return 0
}
