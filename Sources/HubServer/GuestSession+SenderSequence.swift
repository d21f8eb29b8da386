import GuestWire
import Hypervisor

/// Idempotent sends (`Protocols/guest.md` §7.10–§7.11) for sessions that asked for the `send-sequence` feature in
/// `HELLO`. The sequence lives in the platform model per link direction, not in the session, so it outlives the
/// session: after a kill, a lost connection or a take-over, the sender's next session is told where it stands.
extension GuestSession {
    /// Right after `WELCOME` (§7.11): the last accepted sequence on every link `WELCOME` listed, this end sending.
    func queueSendSequences(_ info: AttachInfo) {
        let entries = info.links.map { view in
            GuestSendSequence(
                link: view.id,
                lastAccepted: hub.platform.lastAcceptedSequence(session: info.session, linkID: view.id) ?? 0)
        }
        queue(GuestFrame(.sendSequences(entries)))
    }

    /// After `LINK_OPENED` for a link that existed already (§7.11): where this end's sequence stands on it.
    func queueSendSequence(link id: UInt32) {
        guard sendSequence, let session = sessionID,
            let last = hub.platform.lastAcceptedSequence(session: session, linkID: id)
        else { return }
        queue(GuestFrame(.sendSequences([GuestSendSequence(link: id, lastAccepted: last)])))
    }

    /// `MSG_SEND_SEQ` from a session that did not negotiate `send-sequence` is an unknown type (§11).
    func refuseSequencedSend(request: UInt32) {
        sendError(
            .unknownFrameType, "MSG_SEND_SEQ needs the '\(GuestProtocol.sendSequenceFeature)' feature in HELLO",
            requestId: request)
    }

    /// `MSG_SEND_SEQ` (§7.10) on a link this session knows. A duplicate is a success (the message is in the hub
    /// from the earlier send), so like `queued` it is answered only when the guest asked; a gap is always answered.
    func sendSequenced(
        link linkID: UInt32, position: Int, sequence: UInt64, correlation: UInt64, payload: ArraySlice<UInt8>,
        request: UInt32, session: SessionID
    ) {
        let outcome = hub.platform.send(
            from: session, linkAt: position, sequence: sequence, payload: payload,
            correlation: correlation == 0 ? nil : correlation, actions: &actions)
        // Anything but `queued` carries the last accepted sequence where the message id would be (§7.10), so a
        // pipelining sender knows where to go back to without a round trip.
        let (id, status): (UInt64, GuestSendStatus) =
            switch outcome {
            case .sent(let sent, let last):
                if case .queued = sent { sentAnswer(sent) } else { (last, sentAnswer(sent).1) }
            case .duplicate(let last): (last, .duplicate)
            case .gap(let last): (last, .sequenceGap)
            }
        answer(
            GuestFrame(.msgSent(link: linkID, messageId: id, status: status), requestId: request),
            unless: status.isAccepted)
    }
}
