/// Final result codes (ITU-T V.250 §5.7.1) with their numeric forms for ATV0.
package enum ATResultCode: Int, Sendable, Equatable {
    case ok = 0, connect = 1, ring = 2, noCarrier = 3, error = 4, noDialtone = 6, busy = 7, noAnswer = 8

    package var verbose: String {
        switch self {
        case .ok: "OK"
        case .connect: "CONNECT"
        case .ring: "RING"
        case .noCarrier: "NO CARRIER"
        case .error: "ERROR"
        case .noDialtone: "NO DIALTONE"
        case .busy: "BUSY"
        case .noAnswer: "NO ANSWER"
        }
    }
}

/// How a modem frames what it sends, per ATV and ATQ.
package struct ATFormatter: Sendable, Equatable {
    /// ATV1 (text) or ATV0 (digits).
    package var verbose = true
    /// ATQ1: result codes are suppressed; information text still goes out.
    package var quiet = false

    package init(verbose: Bool = true, quiet: Bool = false) {
        self.verbose = verbose
        self.quiet = quiet
    }

    /// An information line (`+CSQ: 20,99`) or an unsolicited result.
    package func information(_ text: String) -> [UInt8] {
        verbose ? Array("\r\n\(text)\r\n".utf8) : Array("\(text)\r\n".utf8)
    }

    /// A final result code.
    package func result(_ code: ATResultCode) -> [UInt8] {
        if quiet { return [] }
        return verbose ? Array("\r\n\(code.verbose)\r\n".utf8) : Array("\(code.rawValue)\r".utf8)
    }

    /// A final result that has no numeric form (`+CME ERROR: 3`, `+CMS ERROR: 304`).
    package func extendedResult(_ text: String) -> [UInt8] {
        if quiet { return [] }
        return verbose ? Array("\r\n\(text)\r\n".utf8) : Array("\(text)\r\n".utf8)
    }

    /// The SMS body prompt.
    package var prompt: [UInt8] { Array("\r\n> ".utf8) }
}
