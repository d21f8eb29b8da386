import ErrorLogServer
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

extension GuestSession {
    /// ERROR_REPORT (`Protocols/guest.md` §9.5, feature `error-log`): one entry for the partition's persistent
    /// error log (`Protocols/errorlog.md`); answered `OK` when asked, `rate_limited` beyond
    /// `errorLogReportsPerSecond`.
    func reportError(severity: GuestErrorSeverity, code: String, text: String, requestId request: UInt32) {
        guard reportsErrors, let partition, let errorLog = hub.errorLog else {
            hub.errorLog?.reportWithoutFeature()
            return sendError(
                .unknownFrameType, "ERROR_REPORT needs the '\(GuestProtocol.errorLogFeature)' feature in HELLO",
                requestId: request)
        }
        switch errorLog.guestReport(partition: partition, severity: severity, code: code, text: text) {
        case .recorded: if request != 0 { queue(GuestFrame(.ok, requestId: request)) }
        case .rateLimited:
            sendError(.rateLimited, "more than hub.limits.errorLogReportsPerSecond reports", requestId: request)
        case .unknownPartition: sendError(.internalError, "no error log for \(partition)", requestId: request)
        }
    }
}
