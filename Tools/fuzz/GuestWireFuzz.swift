// libFuzzer entry for the guest codec (Protocols/guest.md). Built by run-guest-fuzz.sh together with
// the Wire and GuestWire sources as one module, so no `import` of them is needed here.
//
// Properties checked beyond "does not crash": every frame that decodes re-encodes to the exact
// bytes it came from (the encoding is canonical), and chunking the input does not change the result.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGuestWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = GuestLimits(maxFrameLength: 4096)

    var whole = GuestFrameDecoder(limits: limits)
    let expected: [Result<GuestFrame, GuestDecodeError>]
    do {
        expected = try whole.feed(bytes)
    } catch {
        return 0
    }
    for result in expected {
        if case .success(let frame) = result {
            let body = frame.encodeBody()
            guard case .success(let again) = GuestFrame.decode(body: body[...], limits: limits), again == frame else {
                fatalError("re-encoded frame does not decode to itself: \(frame)")
            }
        }
    }
    // Bodies come back as slices of the decoder's buffer; compare with the raw bodies too.
    var raw = GuestFrameDecoder(limits: limits)
    if let bodies = try? raw.feedBodies(bytes) {
        for (body, result) in zip(bodies, expected) {
            if case .success(let frame) = result, frame.encodeBody() != Array(body) {
                fatalError("non-canonical encoding accepted: \(Array(body))")
            }
            checkMessageSendReader(body: body, decoded: result)
            checkIdentity(body: body, decoded: result)
            checkPolicyFrame(result)
        }
    }
    // Split in two at a point derived from the input.
    if size > 1 {
        let cut = Int(bytes[0]) % size
        var split = GuestFrameDecoder(limits: limits)
        if let first = try? split.feed(bytes[..<cut]), let second = try? split.feed(bytes[cut...]) {
            if first + second != expected { fatalError("chunking changed the result at \(cut)") }
        }
    }
    return 0
}

/// The hub reads MSG_SEND and MSG_SEND_SEQ in place (`GuestFrame.messageSend(in:)`); it must accept exactly the
/// well-formed ones and read the same fields as the decoder.
func checkMessageSendReader(body: ArraySlice<UInt8>, decoded: Result<GuestFrame, GuestDecodeError>) {
    let view = GuestFrame.messageSend(in: body)
    guard case .success(let frame) = decoded else {
        if view != nil { fatalError("the MSG_SEND reader accepted a malformed body: \(Array(body))") }
        return
    }
    switch frame.message {
    case .msgSend(let link, let correlation, let payload):
        guard let view, view.sequence == 0, view.link == link, view.correlation == correlation,
            view.requestId == frame.requestId, view.payload.elementsEqual(payload)
        else { fatalError("the MSG_SEND reader disagrees with the decoder: \(Array(body))") }
    case .msgSendSequenced(let link, let sequence, let correlation, let payload):
        guard let view, view.sequence == sequence, view.link == link, view.correlation == correlation,
            view.requestId == frame.requestId, view.payload.elementsEqual(payload)
        else { fatalError("the MSG_SEND_SEQ reader disagrees with the decoder: \(Array(body))") }
    default:
        if view != nil { fatalError("the MSG_SEND reader accepted a \(frame.type): \(Array(body))") }
    }
}

/// Identity frames (`Protocols/guest.md` §7.12): every identity the decoder accepts is one the hub would stamp (the
/// alphabet and length of `GuestIdentity`), and the hub's in-place `MSG_DELIVER_AS` writer produces the decoder's
/// canonical bytes for it.
func checkIdentity(body: ArraySlice<UInt8>, decoded: Result<GuestFrame, GuestDecodeError>) {
    guard case .success(let frame) = decoded else { return }
    switch frame.message {
    case .msgSendAs(_, _, let identity, _):
        if !GuestIdentity.isValid(identity) { fatalError("MSG_SEND_AS accepted identity \(Array(identity.utf8))") }
    case .msgDeliverAs(let delivery, let identity):
        if !GuestIdentity.isValid(identity) { fatalError("MSG_DELIVER_AS accepted identity \(Array(identity.utf8))") }
        guard frame.requestId == 0 else { return }
        var writer = ByteWriter(capacity: 0)
        GuestFrame.encodeMessageDeliveryAs(
            into: &writer, link: delivery.link, messageId: delivery.messageId, sender: delivery.sender,
            identity: identity, correlation: delivery.correlation, payload: delivery.payload)
        if Array(writer.bytes.dropFirst(GuestProtocol.prefixLength)) != Array(body) {
            fatalError("the MSG_DELIVER_AS writer disagrees with the decoder: \(Array(body))")
        }
    default: break
    }
}

/// POLICY_ACTIVATE and POLICY_CHANGED (Protocols/guest.md §9.6–§9.7): what decodes holds a profile name within the
/// name limit (the hub looks it up among the configured profiles) and a summary within the text limit.
func checkPolicyFrame(_ decoded: Result<GuestFrame, GuestDecodeError>) {
    guard case .success(let frame) = decoded else { return }
    switch frame.message {
    case .policyActivate(let profile):
        if profile.utf8.count > 64 || frame.channel != 0 { fatalError("POLICY_ACTIVATE out of bounds: \(frame)") }
    case .policyChanged(_, let profile, let summary):
        if profile.utf8.count > 64 || summary.utf8.count > 1024 || frame.channel != 0 {
            fatalError("POLICY_CHANGED out of bounds: \(frame)")
        }
    default:
        break
    }
}
