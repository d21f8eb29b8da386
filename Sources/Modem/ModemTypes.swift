import ATWire

/// A network operator as `+COPS` shows it.
package struct ModemOperator: Sendable, Equatable {
    package var longName: String
    package var shortName: String
    /// MCC+MNC, e.g. `00101`.
    package var numeric: String
    /// Access technology for `+COPS`/`+CREG` (0 GSM, 2 UTRAN, 7 E-UTRAN).
    package var accessTechnology: Int
    /// Listed by `+COPS=?` but refuses manual selection (`+CME ERROR: 32`).
    package var forbidden: Bool

    package init(
        longName: String, shortName: String, numeric: String, accessTechnology: Int = 7, forbidden: Bool = false
    ) {
        self.longName = longName
        self.shortName = shortName
        self.numeric = numeric
        self.accessTechnology = accessTechnology
        self.forbidden = forbidden
    }
}

/// What the simulated SIM and network look like, and its timing.
package struct ModemProfile: Sendable, Equatable {
    package var manufacturer = "HandsetHub"
    package var model = "Virtual Modem"
    package var revision = "1.0"
    package var imei = "356938035643809"
    package var imsi = "001010123456789"
    package var ownNumber = "+15550000001"
    /// SIM PIN; nil for an unlocked SIM.
    package var pin: String?
    package var puk = "12345678"
    package var serviceCentre = "+15550000000"
    package var homeOperator = ModemOperator(longName: "HandsetHub Mobile", shortName: "HubMob", numeric: "00101")
    package var otherOperators = [
        ModemOperator(longName: "Other Network", shortName: "Other", numeric: "00102", forbidden: true)
    ]
    /// Messages the SIM store holds (`+CPMS` total).
    package var smsCapacity = 30
    /// Calls at once (`+CLCC` ids 1…maxCalls, at most `ModemSimulator.maxCalls`).
    package var maxCalls = ModemSimulator.maxCalls
    /// Echo goes to `takeEcho()` instead of the output, so a shared line can echo only to the typist.
    package var separateEcho = false
    /// Interval between `RING`s of an unanswered incoming call.
    package var ringIntervalMs: UInt64 = 3000
    /// Dialling → alerting.
    package var alertDelayMs: UInt64 = 200
    /// An outgoing call the network side does not answer ends with `NO ANSWER` after this; 0 = never.
    package var noAnswerTimeoutMs: UInt64 = 60_000
    /// Longest command line or SMS body.
    package var maxLineBytes = ATLineAssembler.defaultMaxLineBytes

    package init() {}
}

/// A voice call, as `+CLCC` lists it.
package struct ModemCall: Sendable, Equatable {
    package enum Direction: String, Sendable { case outgoing, incoming }
    /// `+CLCC` `<stat>` values.
    package enum State: Int, Sendable {
        case active = 0, held = 1, dialing = 2, alerting = 3, incoming = 4, waiting = 5

        package var name: String {
            switch self {
            case .active: "active"
            case .held: "held"
            case .dialing: "dialing"
            case .alerting: "alerting"
            case .incoming: "incoming"
            case .waiting: "waiting"
            }
        }
    }
    /// Whether the caller's number is shown (`+CLIP` `<CLI validity>`).
    package enum Presentation: Int, Sendable {
        case allowed = 0, restricted = 1, unavailable = 2

        package var name: String {
            switch self {
            case .allowed: "allowed"
            case .restricted: "restricted"
            case .unavailable: "unavailable"
            }
        }
    }

    package var id: Int
    package var direction: Direction
    package var state: State
    package var number: String
    package var presentation: Presentation
    package var multiparty = false
    package var dtmf = ""

    package var typeOfAddress: Int { number.hasPrefix("+") ? 145 : 129 }
}

/// Network registration status (`+CREG` `<stat>`).
package enum RegistrationState: Int, Sendable, CaseIterable {
    case unregistered = 0, home = 1, searching = 2, denied = 3, unknown = 4, roaming = 5

    package var name: String {
        switch self {
        case .unregistered: "unregistered"
        case .home: "home"
        case .searching: "searching"
        case .denied: "denied"
        case .unknown: "unknown"
        case .roaming: "roaming"
        }
    }

    package init?(name: String) {
        guard let value = RegistrationState.allCases.first(where: { $0.name == name }) else { return nil }
        self = value
    }
}

/// One SMS the guest sent, decoded.
package struct SentSMS: Sendable, Equatable {
    package var messageReference: Int
    package var destination: String
    /// Decoded text (nil for 8-bit data).
    package var text: String?
    package var alphabet: SMSAlphabet
    /// `text` or `pdu`: how the guest submitted it.
    package var mode: String
    /// The TPDU (SMS-SUBMIT) as hex.
    package var pduHex: String
    package var concatenation: SMSConcatenation?

    package init(
        messageReference: Int, destination: String, text: String?, alphabet: SMSAlphabet, mode: String,
        pduHex: String, concatenation: SMSConcatenation?
    ) {
        self.messageReference = messageReference
        self.destination = destination
        self.text = text
        self.alphabet = alphabet
        self.mode = mode
        self.pduHex = pduHex
        self.concatenation = concatenation
    }
}

/// A message in the SIM store.
package struct StoredSMS: Sendable, Equatable {
    /// `+CMGL` `<stat>`: 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
    package var status: Int
    /// The SMS-DELIVER TPDU.
    package var tpdu: [UInt8]
    package var deliver: SMSDeliver
}

/// What happened inside the simulator, for the hub (events, waits, interrupt line).
package enum ModemEvent: Sendable, Equatable {
    /// An unsolicited result went out (`RING`, `+CMTI: …`).
    case unsolicited(String)
    /// A call changed state; `ended` carries why a call is gone.
    case call(ModemCall, ended: String?)
    case smsSent(SentSMS)
    /// A network message reached the modem: stored at `index` or shown directly.
    case smsReceived(index: Int?, from: String, text: String?)
    case registration(RegistrationState)
    case dtmf(callID: Int, digits: String)
}

/// Why a network-side request failed.
package struct ModemNetworkError: Error, Equatable, CustomStringConvertible {
    package enum Kind: Sendable { case notFound, wrongState, invalid, unavailable, storageFull }
    package var kind: Kind
    package var description: String
    /// For `.invalid`: the control parameter at fault and what it takes (`Protocols/control.md` §3.4).
    package var parameter: InvalidParameter?
    package init(_ kind: Kind, _ description: String, parameter: InvalidParameter? = nil) {
        self.kind = kind
        self.description = description
        self.parameter = parameter
    }

    package struct InvalidParameter: Equatable, Sendable {
        package var name: String
        package var expected: String
        package init(_ name: String, expected: String) {
            self.name = name
            self.expected = expected
        }
    }
}
