import GuestWire
import Wire

/// Idempotent sends (`Protocols/guest.md` §7.10–§7.11). Attach with `features: [GuestProtocol.sendSequenceFeature]`;
/// `sendSequences` then says, per link, the last sequence the hub accepted from this partition — also after this
/// process was killed and started again — and a sender continues at that number + 1. Sending a sequence the
/// hub accepted before is harmless (answered `duplicate`, not queued again).
extension GuestClient {
    /// Whether the hub offered idempotent sends in `CHALLENGE`.
    public var hubOffersSendSequence: Bool { hubFeatures.contains(GuestProtocol.sendSequenceFeature) }

    /// Sends `payload` on `link` as message number `sequence` (≥ 1) and waits for the verdict: `queued` (with the
    /// message id), `duplicate` (queued by an earlier send), `sequenceGap`, or a refusal of `MSG_SEND`. Anything
    /// but `queued` carries the hub's last accepted sequence in `messageId` (§7.10).
    public func sendSequenced(
        link: UInt32, sequence: UInt64, payload: some Collection<UInt8>, correlation: UInt64 = 0
    ) throws(GuestClientError) -> SendOutcome {
        let answer = try request(
            .msgSendSequenced(link: link, sequence: sequence, correlation: correlation, payload: ArraySlice(payload)))
        guard case .msgSent(_, let messageId, let status) = answer.message else { throw .unexpected(answer.type) }
        switch status {
        case .queued: sendSequences[link] = max(sendSequences[link] ?? 0, sequence)
        case .duplicate, .sequenceGap, .queueFull, .tooLarge, .rateLimited: sendSequences[link] = messageId
        // Refused before the sequence was looked at: the answer carries no sequence (§7.10).
        case .noSuchLink, .notPermitted, .linkClosing: break
        }
        return SendOutcome(status: status, messageId: messageId)
    }

    /// Sends payloads numbered `firstSequence`, `firstSequence + 1`, … on `link` in one write, without waiting
    /// (request id 0: only refusals come back, as `MSG_SENT` carrying the last accepted sequence). The sender must
    /// hold that much credit (§7.5).
    public func sendSequencedMessages(
        link: UInt32, firstSequence: UInt64, payloads: [ArraySlice<UInt8>], correlation: UInt64 = 0
    ) throws(GuestClientError) {
        sendBuffer.bytes.removeAll(keepingCapacity: true)
        var sequence = firstSequence
        for payload in payloads {
            GuestFrame.encodeMessageSend(
                into: &sendBuffer, link: link, sequence: sequence, correlation: correlation, payload: payload)
            sequence &+= 1
        }
        try sendFrameBytes(sendBuffer.bytes)
        if sendBuffer.bytes.capacity > 1 << 20 { sendBuffer = ByteWriter(capacity: 0) }
    }

    /// Queues a frame for `receive`, keeping `sendSequences` current from every `SEND_SEQUENCES` on the way.
    func record(_ frame: GuestFrame) {
        if case .sendSequences(let entries) = frame.message {
            for entry in entries { sendSequences[entry.link] = entry.lastAccepted }
        }
        appendQueued(frame)
    }

    /// §7.11: `SEND_SEQUENCES` follows `WELCOME` before any other frame.
    func awaitSendSequences(timeout: Double) throws(GuestClientError) {
        guard let first = try receive(timeout: timeout) else { throw .timeout }
        guard case .sendSequences = first.message else { throw .unexpected(first.type) }
    }
}
