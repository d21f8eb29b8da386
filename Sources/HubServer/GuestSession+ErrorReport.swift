import ErrorLogServer
import GuestWire

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
