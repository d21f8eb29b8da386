/// A `+CME ERROR` code (3GPP TS 27.007 §9.2): the mobile-equipment errors the simulator and the hub answer
/// with. Case names follow the standard's texts; `text` is the verbose form `AT+CMEE=2` selects
/// (`Protocols/modem.md` §2, error reporting). Only the codes the hub uses are listed.
package enum CMEError: Int, Sendable, CaseIterable {
    case phoneFailure = 0
    case operationNotAllowed = 3
    case operationNotSupported = 4
    case simNotInserted = 10
    case simPINRequired = 11
    case simPUKRequired = 12
    case simFailure = 13
    case incorrectPassword = 16
    case memoryFull = 20
    case invalidIndex = 21
    case notFound = 22
    case textStringTooLong = 24
    case invalidCharactersInTextString = 25
    case dialStringTooLong = 26
    case invalidCharactersInDialString = 27
    case noNetworkService = 30
    case networkTimeout = 31
    case networkNotAllowedEmergencyCallsOnly = 32
    case incorrectParameters = 50
    case unknown = 100

    /// The verbose text (`AT+CMEE=2`).
    package var text: String {
        switch self {
        case .phoneFailure: return "phone failure"
        case .operationNotAllowed: return "operation not allowed"
        case .operationNotSupported: return "operation not supported"
        case .simNotInserted: return "SIM not inserted"
        case .simPINRequired: return "SIM PIN required"
        case .simPUKRequired: return "SIM PUK required"
        case .simFailure: return "SIM failure"
        case .incorrectPassword: return "incorrect password"
        case .memoryFull: return "memory full"
        case .invalidIndex: return "invalid index"
        case .notFound: return "not found"
        case .textStringTooLong: return "text string too long"
        case .invalidCharactersInTextString: return "invalid characters in text string"
        case .dialStringTooLong: return "dial string too long"
        case .invalidCharactersInDialString: return "invalid characters in dial string"
        case .noNetworkService: return "no network service"
        case .networkTimeout: return "network timeout"
        case .networkNotAllowedEmergencyCallsOnly: return "network not allowed - emergency calls only"
        case .incorrectParameters: return "Incorrect parameters"
        case .unknown: return "unknown"
        }
    }
}

/// A `+CMS ERROR` code (3GPP TS 27.005 §3.2.5): the message-service errors of the SMS commands. Case names
/// follow the standard's texts; `text` is the verbose form `AT+CMEE=2` selects. Only the codes the hub uses
/// are listed.
package enum CMSError: Int, Sendable, CaseIterable {
    case meFailure = 300
    case operationNotAllowed = 302
    case operationNotSupported = 303
    case invalidPDUModeParameter = 304
    case invalidTextModeParameter = 305
    case simNotInserted = 310
    case simPINRequired = 311
    case simPUKRequired = 316
    case memoryFailure = 320
    case invalidMemoryIndex = 321
    case memoryFull = 322
    case smscAddressUnknown = 330
    case noNetworkService = 331
    case networkTimeout = 332
    case noCNMAAcknowledgementExpected = 340
    case unknownError = 500

    /// The verbose text (`AT+CMEE=2`).
    package var text: String {
        switch self {
        case .meFailure: return "ME failure"
        case .operationNotAllowed: return "operation not allowed"
        case .operationNotSupported: return "operation not supported"
        case .invalidPDUModeParameter: return "invalid PDU mode parameter"
        case .invalidTextModeParameter: return "invalid text mode parameter"
        case .simNotInserted: return "SIM not inserted"
        case .simPINRequired: return "SIM PIN required"
        case .simPUKRequired: return "SIM PUK required"
        case .memoryFailure: return "memory failure"
        case .invalidMemoryIndex: return "invalid memory index"
        case .memoryFull: return "memory full"
        case .smscAddressUnknown: return "SMSC address unknown"
        case .noNetworkService: return "no network service"
        case .networkTimeout: return "network timeout"
        case .noCNMAAcknowledgementExpected: return "no +CNMA acknowledgement expected"
        case .unknownError: return "unknown error"
        }
    }

    /// The error for a malformed parameter in the current message format (`AT+CMGF`): 304 in PDU mode
    /// (`cmgf` 0), 305 in text mode.
    package static func invalidParameter(cmgf: Int) -> CMSError {
        cmgf == 0 ? .invalidPDUModeParameter : .invalidTextModeParameter
    }
}
