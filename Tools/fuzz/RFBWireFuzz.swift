// libFuzzer entry for the RFB server side (Protocols/framebuffer.md §2, RFC 6143): the handshake
// (RFBServerSession, both security types) and the client-message decoder, followed by what the hub does
// with the decoded messages: adopt the pixel format and encodings and encode an update with them.
// Built by run-rfb-fuzz.sh together with the RFBWire sources as one module.
//
// Properties checked beyond "does not crash":
// - feeding the input whole or split at any point gives the same output (chunking invariance);
// - the decoder never holds more than one message's worth of bytes (limits checked before buffering);
// - every update it encodes parses back, rectangle by rectangle, to exactly the bytes produced.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRFBWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let input = bytes.dropFirst()
    let limits = RFBLimits(maxCutTextBytes: 256, maxEncodings: 16)
    if selector & 1 == 0 {
        fuzzHandshake(input, limits: limits, password: selector & 2 != 0)
    } else {
        fuzzMessages(input, limits: limits, cut: Int(selector >> 1))
    }
    return 0
}

private func makeSession(_ limits: RFBLimits, password: Bool) -> RFBServerSession {
    RFBServerSession(
        security: password ? .vncPassword(Array("secret".utf8)) : .none, challenge: Array(0..<16),
        width: 24, height: 20, name: "fuzz", limits: limits)
}

/// The whole output of a session fed `chunks` in turn, with input after a close ignored.
private func run(_ chunks: [ArraySlice<UInt8>], _ limits: RFBLimits, password: Bool) -> RFBServerSession.Output {
    var session = makeSession(limits, password: password)
    var total = RFBServerSession.Output()
    for chunk in chunks {
        let output = session.feed(chunk)
        total.send += output.send
        total.messages += output.messages
        if let initialised = output.initialised {
            precondition(total.initialised == nil, "ClientInit reported twice")
            total.initialised = initialised
        }
        if let reason = output.close {
            precondition(total.close == nil, "closed twice")
            total.close = reason
        }
    }
    return total
}

private func fuzzHandshake(_ input: ArraySlice<UInt8>, limits: RFBLimits, password: Bool) {
    let whole = run([input], limits, password: password)
    let bytewise = run(input.indices.map { input[$0...$0] }, limits, password: password)
    guard whole == bytewise else {
        fatalError("handshake output depends on chunking: \(whole) vs \(bytewise)")
    }
    if password, whole.initialised != nil {
        // The fixed challenge and password: only the one right response gets past authentication.
        let expected = VNCAuthentication.response(challenge: Array(0..<16), password: Array("secret".utf8))
        // The response follows the version (12 bytes) and, in 3.7/3.8, the security choice (1 byte).
        let offsets = [12, 13].filter { input.count >= $0 + 16 }
        guard offsets.contains(where: { Array(input.dropFirst($0).prefix(16)) == expected }) else {
            fatalError("initialised without the right VNC authentication response")
        }
    }
    applyAndEncode(whole.messages)
}

private func fuzzMessages(_ input: ArraySlice<UInt8>, limits: RFBLimits, cut: Int) {
    var whole = RFBClientMessageDecoder(limits: limits)
    let expected = whole.feedUntilViolation(input)
    var split = RFBClientMessageDecoder(limits: limits)
    let point = input.isEmpty ? input.startIndex : input.startIndex + cut % input.count
    var got = split.feedUntilViolation(input[..<point])
    if got.violation == nil {
        let rest = split.feedUntilViolation(input[point...])
        got = (got.messages + rest.messages, rest.violation)
    }
    guard expected.messages == got.messages, expected.violation == got.violation else {
        fatalError("decoding depends on chunking: \(expected) vs \(got)")
    }
    // The throwing form agrees: it throws exactly when there is a violation.
    var throwing = RFBClientMessageDecoder(limits: limits)
    do throws(RFBError) {
        let messages = try throwing.feed(input)
        guard expected.violation == nil, messages == expected.messages else { fatalError("feed disagrees") }
    } catch {
        guard error == expected.violation else { fatalError("feed threw \(error), expected \(expected)") }
    }
    if expected.violation == nil {
        // At most one incomplete message is held: the largest is a ClientCutText at the limit.
        let largest = max(8 + limits.maxCutTextBytes, 4 + 4 * limits.maxEncodings, 20)
        guard whole.bufferedBytes < largest else { fatalError("decoder holds \(whole.bufferedBytes) bytes") }
    }
    applyAndEncode(expected.messages)
}

/// What RFBViewer does with messages: adopt format and encodings, answer update requests.
private func applyAndEncode(_ messages: [RFBClientMessage]) {
    let width = 24
    let height = 20
    let pixels = (0..<(width * height)).map { UInt32(truncatingIfNeeded: $0 &* 0x9e37_79b1) & 0xff_ffff }
    let source = RFBPixelSource(pixels: pixels, width: width, height: height)
    let encoder = RFBUpdateEncoder()
    for message in messages {
        switch message {
        case .setPixelFormat(let format):
            encoder.format = format
        case .setEncodings(let encodings):
            encoder.preferences = RFBEncodingPreferences(encodings)
        case .framebufferUpdateRequest(_, let rect):
            let x0 = min(rect.x, width)
            let y0 = min(rect.y, height)
            let area = RFBRect(
                x: x0, y: y0, width: min(rect.x + rect.width, width) - x0,
                height: min(rect.y + rect.height, height) - y0)
            let update = encoder.update(
                source: source, rects: area.width > 0 && area.height > 0 ? [area] : [],
                moves: [
                    RFBUpdateEncoder.Move(sourceX: 0, sourceY: 0, destination: RFBRect(x: 1, y: 1, width: 2, height: 2))
                ],
                cursor: .touchDot, desktopSize: (width, height))
            guard update.count >= 4, update[0] == 0 else { fatalError("not a FramebufferUpdate") }
        case .keyEvent, .pointerEvent, .clientCutText:
            break
        }
    }
}
