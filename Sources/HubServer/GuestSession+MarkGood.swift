import GuestWire

extension GuestSession {
    /// MARK_GOOD (`Protocols/guest.md` §9.4, feature `mark-good`): the guest says its image is healthy, which
    /// ends its partition's probation (`Protocols/management.md` §"Images"); answered `OK` when asked, also
    /// when no probation was running.
    func markGood(requestId request: UInt32) {
        guard marksGood, let partition else {
            return sendError(
                .unknownFrameType, "MARK_GOOD needs the '\(GuestProtocol.markGoodFeature)' feature in HELLO",
                requestId: request)
        }
        hub.software?.slots.markGood(partition: partition)
        if request != 0 { queue(GuestFrame(.ok, requestId: request)) }
    }
}
