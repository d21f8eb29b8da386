import Wire

/// The fields of a `MSG_SEND` frame (§7.1), read in place.
public struct GuestMessageSendView {
    public let requestId: UInt32
    public let link: UInt32
    public let correlation: UInt64
    /// A slice of the frame body.
    public let payload: ArraySlice<UInt8>
    /// The sender's sequence number (`MSG_SEND_SEQ`, §7.10, always ≥ 1); 0 for a plain `MSG_SEND`.
    public let sequence: UInt64
}

// Messaging is the one path where per-frame cost decides throughput (the 64-byte message benchmark of
// `Tools/benchmarks/bench.py`):
// these functions read MSG_SEND and write MSG_DELIVER (and the cross-interrupt path's IRQ) without building a
// `GuestFrame` value. They follow the
// same layout as `decode(body:)` and `encode()`, which the codec tests check against each other.
extension GuestFrame {
    /// Reads a well-formed `MSG_SEND` body (session channel, link, correlation, payload); nil for any other frame
    /// and for a malformed one, which `decode(body:limits:)` then reports precisely.
    /// `MSG_SEND_SEQ` (§7.10, a sequence number between link and correlation) is read here too, so idempotent
    /// sends keep the fast path; its sequence 0 is malformed and left to the decoder.
    public static func messageSend(in body: ArraySlice<UInt8>) -> GuestMessageSendView? {
        let start = body.startIndex
        guard body.count >= GuestFrameHeader.length + 12, body[start] == 0x02, body[start + 2] == 0,
            body[start + 3] == 0
        else { return nil }
        let sequence: UInt64
        let correlationAt: Int
        switch body[start + 1] {
        case 0x01:
            sequence = 0
            correlationAt = start + 12
        case 0x0A:
            guard body.count >= GuestFrameHeader.length + 20 else { return nil }
            sequence = UInt64(bigEndianBytes: body, at: start + 12)
            guard sequence != 0 else { return nil }
            correlationAt = start + 20
        default: return nil
        }
        return GuestMessageSendView(
            requestId: UInt32(bigEndianBytes: body, at: start + 4),
            link: UInt32(bigEndianBytes: body, at: start + 8),
            correlation: UInt64(bigEndianBytes: body, at: correlationAt),
            payload: body[(correlationAt + 8)...], sequence: sequence)
    }

    /// Reads a well-formed `MSG_DELIVER` body (session channel, request id 0 or not, link, message id, sender,
    /// correlation, payload); nil for any other frame and for a malformed one, which `decode(body:limits:)` then
    /// reports precisely. The sender is checked as the decoder checks names (length limit, UTF-8).
    public static func messageDelivery(in body: ArraySlice<UInt8>, limits: GuestLimits = .default)
        -> GuestDelivery?
    {
        let start = body.startIndex
        let nameAt = start + GuestFrameHeader.length + 12
        guard body.count > nameAt - start,
            body[start] == 0x02, body[start + 1] == 0x03, body[start + 2] == 0, body[start + 3] == 0
        else { return nil }
        let nameLength = Int(body[nameAt])
        let correlationAt = nameAt + 1 + nameLength
        guard nameLength <= limits.maxNameBytes, body.endIndex - correlationAt >= 8,
            let sender = GuestFrame.validatedUTF8(body[(nameAt + 1)..<correlationAt])
        else { return nil }
        return GuestDelivery(
            link: UInt32(bigEndianBytes: body, at: start + 8),
            messageId: UInt64(bigEndianBytes: body, at: start + 12),
            sender: sender,
            correlation: UInt64(bigEndianBytes: body, at: correlationAt),
            payload: body[(correlationAt + 8)...])
    }

    /// Appends a complete `MSG_SEND` frame (§7.1; prefix, header with request id 0, fields) to `writer`.
    @inlinable
    public static func encodeMessageSend(
        into writer: inout ByteWriter, link: UInt32, correlation: UInt64, payload: some Collection<UInt8>
    ) {
        encodeSend(into: &writer, link: link, sequence: nil, correlation: correlation, payload: payload)
    }

    /// Appends a complete `MSG_SEND_SEQ` frame (§7.10; prefix, header with request id 0, fields) to `writer`.
    @inlinable
    public static func encodeMessageSend(
        into writer: inout ByteWriter, link: UInt32, sequence: UInt64, correlation: UInt64,
        payload: some Collection<UInt8>
    ) {
        encodeSend(into: &writer, link: link, sequence: sequence, correlation: correlation, payload: payload)
    }

    /// The header and fixed fields go in as one run (`ByteWriter.appendFields`), then the payload; a sequence
    /// (`MSG_SEND_SEQ`) sits between link and correlation.
    @inlinable
    static func encodeSend(
        into writer: inout ByteWriter, link: UInt32, sequence: UInt64?, correlation: UInt64,
        payload: some Collection<UInt8>
    ) {
        let headLength = 4 + 2 + 2 + 4 + 4 + (sequence == nil ? 0 : 8) + 8
        // Counted outside the closure, which would otherwise capture (and retain) the payload.
        let bodyLength = headLength - GuestProtocol.prefixLength + payload.count
        writer.appendFields(count: headLength) { fields in
            fields.u32(UInt32(truncatingIfNeeded: bodyLength))
            fields.u16(sequence == nil ? GuestFrameType.msgSend.rawValue : GuestFrameType.msgSendSequenced.rawValue)
            fields.u16(GuestProtocol.sessionChannel)
            fields.u32(0)
            fields.u32(link)
            if let sequence { fields.u64(sequence) }
            fields.u64(correlation)
        }
        writer.writeBytes(payload)
    }

    /// Appends a complete `IRQ` frame (§6.2; prefix, header with request id 0, line, priority, coalesced count) to
    /// `writer` as one run: the frame encoder's field-by-field appends were seven array appends per interrupt
    /// delivered, about a twentieth of the hub's instructions per cross-interrupt round trip.
    @inlinable
    public static func encodeInterrupt(into writer: inout ByteWriter, line: UInt16, priority: UInt8, coalesced: UInt32)
    {
        let length = GuestProtocol.prefixLength + GuestFrameHeader.length + 2 + 1 + 4
        writer.appendFields(count: length) { fields in
            fields.u32(UInt32(length - GuestProtocol.prefixLength))
            fields.u16(GuestFrameType.irq.rawValue)
            fields.u16(GuestProtocol.sessionChannel)
            fields.u32(0)
            fields.u16(line)
            fields.u8(priority)
            fields.u32(coalesced)
        }
    }

    /// Appends a complete `MSG_DELIVER` frame (§7.3; prefix, header with request id 0, fields) to `writer`.
    /// Inlinable so the hub's call is specialised for its payload type (a generic call per message showed up).
    @inlinable
    public static func encodeMessageDelivery(
        into writer: inout ByteWriter, link: UInt32, messageId: UInt64, sender: String, correlation: UInt64,
        payload: some Collection<UInt8>
    ) {
        encodeDelivery(
            into: &writer, link: link, messageId: messageId, sender: sender, identity: nil, correlation: correlation,
            payload: payload)
    }

    /// Appends a complete `MSG_DELIVER_AS` frame (§7.12): `MSG_DELIVER` with the stamped identity after the sender.
    @inlinable
    public static func encodeMessageDeliveryAs(
        into writer: inout ByteWriter, link: UInt32, messageId: UInt64, sender: String, identity: String,
        correlation: UInt64, payload: some Collection<UInt8>
    ) {
        encodeDelivery(
            into: &writer, link: link, messageId: messageId, sender: sender, identity: identity,
            correlation: correlation, payload: payload)
    }

    /// Everything up to the payload goes in as one run (`ByteWriter.appendFields`), then the payload: two appends
    /// per delivered message instead of nine. Names are u8-length-prefixed UTF-8 (§3.3); they come from the
    /// configuration and the identity syntax check, both within the 64-byte name limit, so a longer one is a bug.
    @inlinable
    static func encodeDelivery(
        into writer: inout ByteWriter, link: UInt32, messageId: UInt64, sender: String, identity: String?,
        correlation: UInt64, payload: some Collection<UInt8>
    ) {
        var sender = sender
        var identityText = identity ?? ""
        sender.withUTF8 { senderBytes in
            identityText.withUTF8 { identityBytes in
                precondition(senderBytes.count <= 255 && identityBytes.count <= 255, "guest protocol name too long")
                let identityLength = identity == nil ? 0 : 1 + identityBytes.count
                // prefix, type, channel, request id, link, message id, sender, [identity], correlation
                let headLength = 4 + 2 + 2 + 4 + 4 + 8 + 1 + senderBytes.count + identityLength + 8
                let bodyLength = headLength - GuestProtocol.prefixLength + payload.count
                writer.appendFields(count: headLength) { fields in
                    fields.u32(UInt32(truncatingIfNeeded: bodyLength))
                    fields.u16(
                        identity == nil ? GuestFrameType.msgDeliver.rawValue : GuestFrameType.msgDeliverAs.rawValue)
                    fields.u16(GuestProtocol.sessionChannel)
                    fields.u32(0)
                    fields.u32(link)
                    fields.u64(messageId)
                    fields.u8(UInt8(truncatingIfNeeded: senderBytes.count))
                    fields.bytes(senderBytes)
                    if identity != nil {
                        fields.u8(UInt8(truncatingIfNeeded: identityBytes.count))
                        fields.bytes(identityBytes)
                    }
                    fields.u64(correlation)
                }
            }
        }
        writer.writeBytes(payload)
    }
}

extension GuestFrame {
    /// `bytes` as a string if they are well-formed UTF-8, else nil: what `String(validating:as:)` gives, without
    /// its cost on the common case. That initialiser is generic over the encoding and looked its metadata up at
    /// run time on every call (a sixth of a receiving guest's time per 64-byte message); names are ASCII in
    /// practice, which needs no more than a check of the high bits.
    static func validatedUTF8(_ bytes: ArraySlice<UInt8>) -> String? {
        var high: UInt8 = 0
        for byte in bytes { high |= byte }
        if high < 0x80 { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension FixedWidthInteger {
    /// Reads a big-endian integer at `index`; the caller has checked the bounds.
    init(bigEndianBytes bytes: ArraySlice<UInt8>, at index: Int) {
        var value: Self = 0
        for offset in 0..<(Self.bitWidth / 8) { value = value << 8 | Self(bytes[index + offset]) }
        self = value
    }
}
