/// Idempotent sends (`Protocols/guest.md` §7.10–§7.11): a sender numbers its messages on a link 1, 2, 3…; the
/// hub queues each number once, in order, and remembers the last one it accepted per link direction, so a
/// sender that was killed or lost its connection can send its in-flight messages again without duplicating them.
extension Platform {
    /// The answer to `send(from:linkAt:sequence:…)`.
    package enum SequencedSendOutcome: Equatable, Sendable {
        /// The sequence was the next one, or a refusal that does not depend on it: the outcome of the send itself
        /// (only `.queued` advances the sequence), and the last accepted sequence after it (0 when the session is
        /// not a sending end).
        case sent(SendOutcome, lastAccepted: UInt64)
        /// The sequence was accepted before: that message is in the hub (or already delivered); nothing queued.
        case duplicate(lastAccepted: UInt64)
        /// The sequence skips ahead of `lastAccepted + 1`: not queued.
        case gap(lastAccepted: UInt64)

        /// The direction's last accepted sequence after this send.
        package var lastAccepted: UInt64 {
            switch self {
            case .sent(_, let last), .duplicate(let last), .gap(let last): last
            }
        }
    }

    /// `send(from:linkAt:…)` with the sender's sequence number (≥ 1). Refusals that do not depend on the
    /// sequence (not attached, no such link, not permitted, closing) come first, from `send` itself, so a refused
    /// sender learns nothing about the direction's sequence.
    package func send(
        from session: SessionID, linkAt index: Int, sequence: UInt64, payload: ArraySlice<UInt8>,
        correlation: UInt64?, actions: inout [Action]
    ) -> SequencedSendOutcome {
        guard let partition = partitionState(of: session), links.indices.contains(index),
            let direction = links[index].sendingDirection(of: partition.index),
            links[index].senderMayMessage[direction], !links[index].closing
        else {
            let outcome = send(
                from: .session(session), linkAt: index, payload: payload, correlation: correlation, actions: &actions)
            return .sent(outcome, lastAccepted: 0)
        }
        let link = links[index]
        let last = link.directions[direction].lastSenderSequence
        if sequence <= last {
            link.directions[direction].counters.duplicateSends &+= 1
            // The sender counted this send against its credit and, with request id 0, hears nothing back: use
            // the credit and give it back at once, so both sides' counts stay equal.
            if link.directions[direction].senderCredit > 0 { link.directions[direction].senderCredit -= 1 }
            grantCredit(link: link, direction: direction, actions: &actions)
            return .duplicate(lastAccepted: last)
        }
        // `sequence > last` here, so `last + 1` cannot overflow.
        guard sequence == last + 1 else {
            link.directions[direction].counters.sequenceGaps &+= 1
            return .gap(lastAccepted: last)
        }
        let outcome = send(
            from: .session(session), linkAt: index, payload: payload, correlation: correlation, actions: &actions)
        guard case .queued = outcome else { return .sent(outcome, lastAccepted: last) }
        link.directions[direction].lastSenderSequence = sequence
        return .sent(outcome, lastAccepted: sequence)
    }

    /// The last accepted sequence on each link the session's partition is an end of, in the session's sending
    /// direction (0 where it never sent with a sequence), by guest-protocol link id.
    package func lastAcceptedSequences(session: SessionID) -> [(link: UInt32, lastAccepted: UInt64)] {
        guard let partition = partitionState(of: session) else { return [] }
        return links.compactMap { link in
            link.sendingDirection(of: partition.index).map { (link.id, link.directions[$0].lastSenderSequence) }
        }
    }

    /// The last accepted sequence of one link in the session's sending direction; nil when it is not an end.
    package func lastAcceptedSequence(session: SessionID, linkID: UInt32) -> UInt64? {
        guard let partition = partitionState(of: session), let index = linkIndex(forID: linkID),
            let direction = links[index].sendingDirection(of: partition.index)
        else { return nil }
        return links[index].directions[direction].lastSenderSequence
    }
}
