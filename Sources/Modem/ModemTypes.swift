import ATWire

/// A network operator as `+COPS` shows it.
public struct ModemOperator: Sendable, Equatable {
    public var longName: String
    public var shortName: String
    /// MCC+MNC, e.g. `00101`.
    public var numeric: String
    /// Access technology for `+COPS`/`+CREG` (0 GSM, 2 UTRAN, 7 E-UTRAN).
    public var accessTechnology: Int
    /// Listed by `+COPS=?` but refuses manual selection (`+CME ERROR: 32`).
    public var forbidden: Bool

    public init(
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
public struct ModemProfile: Sendable, Equatable {
    public var manufacturer = "HandsetHub"
    public var model = "Virtual Modem"
    public var revision = "1.0"
    public var imei = "356938035643809"
    public var imsi = "001010123456789"
    public var ownNumber = "+15550000001"
    /// SIM PIN; nil for an unlocked SIM.
    public var pin: String?
    public var puk = "12345678"
    public var serviceCentre = "+15550000000"
    public var homeOperator = ModemOperator(longName: "HandsetHub Mobile", shortName: "HubMob", numeric: "00101")
    public var otherOperators = [
        ModemOperator(longName: "Other Network", shortName: "Other", numeric: "00102", forbidden: true)
    ]
    /// Messages the SIM store holds (`+CPMS` total).
    public var smsCapacity = 30
    /// Calls at once (`+CLCC` ids 1…maxCalls, at most `ModemSimulator.maxCalls`).
    public var maxCalls = ModemSimulator.maxCalls
    /// Echo goes to `takeEcho()` instead of the output, so a shared line can echo only to the typist.
    public var separateEcho = false
    /// Interval between `RING`s of an unanswered incoming call.
    public var ringIntervalMs: UInt64 = 3000
    /// Dialling → alerting.
    public var alertDelayMs: UInt64 = 200
    /// An outgoing call the network side does not answer ends with `NO ANSWER` after this; 0 = never.
    public var noAnswerTimeoutMs: UInt64 = 60_000
    /// Longest command line or SMS body.
    public var maxLineBytes = ATLineAssembler.defaultMaxLineBytes

    public init() {}
}

/// A voice call, as `+CLCC` lists it.
public struct ModemCall: Sendable, Equatable {
    public enum Direction: String, Sendable { case outgoing, incoming }
    /// `+CLCC` `<stat>` values.
    public enum State: Int, Sendable {
        case active = 0, held = 1, dialing = 2, alerting = 3, incoming = 4, waiting = 5

        public var name: String {
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
    public enum Presentation: Int, Sendable {
        case allowed = 0, restricted = 1, unavailable = 2

        public var name: String {
            switch self {
            case .allowed: "allowed"
            case .restricted: "restricted"
            case .unavailable: "unavailable"
            }
        }
    }

    public var id: Int
    public var direction: Direction
    public var state: State
    public var number: String
    public var presentation: Presentation
    public var multiparty = false
    public var dtmf = ""

    public var typeOfAddress: Int { number.hasPrefix("+") ? 145 : 129 }
}

/// Network registration status (`+CREG` `<stat>`).
public enum RegistrationState: Int, Sendable, CaseIterable {
    case unregistered = 0, home = 1, searching = 2, denied = 3, unknown = 4, roaming = 5

    public var name: String {
        switch self {
        case .unregistered: "unregistered"
        case .home: "home"
        case .searching: "searching"
        case .denied: "denied"
        case .unknown: "unknown"
        case .roaming: "roaming"
        }
    }

    public init?(name: String) {
        guard let value = RegistrationState.allCases.first(where: { $0.name == name }) else { return nil }
        self = value
    }
}

/// One SMS the guest sent, decoded.
public struct SentSMS: Sendable, Equatable {
    public var messageReference: Int
    public var destination: String
    /// Decoded text (nil for 8-bit data).
    public var text: String?
    public var alphabet: SMSAlphabet
    /// `text` or `pdu`: how the guest submitted it.
    public var mode: String
    /// The TPDU (SMS-SUBMIT) as hex.
    public var pduHex: String
    public var concatenation: SMSConcatenation?
}

/// A message in the SIM store.
public struct StoredSMS: Sendable, Equatable {
    /// `+CMGL` `<stat>`: 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
    public var status: Int
    /// The SMS-DELIVER TPDU.
    public var tpdu: [UInt8]
    public var deliver: SMSDeliver
}

/// What happened inside the simulator, for the hub (events, waits, interrupt line).
public enum ModemEvent: Sendable, Equatable {
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
public struct ModemNetworkError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable { case notFound, wrongState, invalid, unavailable, storageFull }
    public var kind: Kind
    public var description: String
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
