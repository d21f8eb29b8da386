import ATWire

/// What the host has set on the modem (Protocols/modem.md §6.2): everything a host stack configures
/// once and relies on afterwards — echo and result format, error mode, notifications, caller id,
/// the SMS mode and character set, the SIM unlock — and the SMS message reference counters, so that
/// a modem rebuilt elsewhere (a restarted remote simulator) continues where the old one stopped.
/// Calls, the SMS store and the network side are not part of it: they belong to the network.
public struct ModemHostSettings: Sendable, Equatable {
    public var echo = true
    public var verbose = true
    public var quiet = false
    public var cmee = 0
    public var crc = 0
    public var clip = 0
    public var ccwa = 0
    public var colp = 0
    public var cvhu = 0
    /// `+CREG`, `+CGREG`, `+CEREG` `<n>`.
    public var cregMode = 0
    public var cgregMode = 0
    public var ceregMode = 0
    /// The registration `<stat>` the host last saw (so a rebuilt modem reports a change it missed).
    public var reportedStat: Int?
    public var cmgf = 0
    public var csms = 0
    public var cscs = "IRA"
    public var serviceCentre: String?
    public var cnmi = [0, 0, 0, 0, 0]
    public var csmp = [17, 167, 0, 0]
    public var csdh = 0
    public var cfun = 1
    public var copsMode = 0
    public var copsFormat = 0
    /// MCC+MNC of a manually selected operator.
    public var copsOperator: String?
    public var gprsAttached = true
    public var pdpContexts: [Int: String] = [:]
    public var sRegisters: [Int: Int] = [:]
    /// Whether the host unlocked the SIM (a rebuilt modem must not ask for the PIN again).
    public var simUnlocked = false
    /// The PIN, only when the host changed it (`+CPIN="<puk>","<newpin>"`).
    public var changedPIN: String?
    /// TP-MR of the next SMS-SUBMIT (23.040 §9.2.3.6) and the next 8-bit concatenation reference.
    public var nextReference = 0
    public var nextConcatReference = 0

    public init() {}

    /// The accepted range of every numeric field; `restore` keeps the current value of anything outside.
    public static let cnmiLimits = [2, 3, 3, 2, 1]
    public static let characterSets: Set<String> = ["IRA", "GSM", "UCS2"]
}

extension ModemSimulator {
    /// The host-set state now.
    public var hostSettings: ModemHostSettings {
        var settings = ModemHostSettings()
        settings.echo = assembler.echo
        settings.verbose = formatter.verbose
        settings.quiet = formatter.quiet
        settings.cmee = cmee
        settings.crc = crc
        settings.clip = clip
        settings.ccwa = ccwa
        settings.colp = colp
        settings.cvhu = cvhu
        settings.cregMode = cregMode
        settings.cgregMode = cgregMode
        settings.ceregMode = ceregMode
        settings.reportedStat = reportedStat["+CREG"]
        settings.cmgf = cmgf
        settings.csms = csms
        settings.cscs = cscs
        settings.serviceCentre = serviceCentre == profile.serviceCentre ? nil : serviceCentre
        settings.cnmi = cnmi
        settings.csmp = csmp
        settings.csdh = csdh
        settings.cfun = cfun
        settings.copsMode = copsMode
        settings.copsFormat = copsFormat
        settings.copsOperator = copsMode == 1 ? currentOperator.numeric : nil
        settings.gprsAttached = gprsAttached
        settings.pdpContexts = pdpContexts
        settings.sRegisters = sRegisters
        settings.simUnlocked = profile.pin != nil && sim == .ready
        settings.changedPIN = currentPIN == profile.pin ? nil : currentPIN
        settings.nextReference = nextReference
        settings.nextConcatReference = Int(nextConcatReference)
        return settings
    }

    /// Applies what a previous modem's host set. Values out of range are ignored one by one (the
    /// settings come over a link), so a bad field cannot put the modem in a state no command could.
    /// When the restored registration differs from what the host last saw, the `+CREG`-family URCs
    /// the host asked for are written, as on any registration change.
    public func restore(_ settings: ModemHostSettings) {
        assembler.echo = settings.echo
        formatter.verbose = settings.verbose
        formatter.quiet = settings.quiet
        if (0...2).contains(settings.cmee) { cmee = settings.cmee }
        if (0...1).contains(settings.crc) { crc = settings.crc }
        if (0...1).contains(settings.clip) { clip = settings.clip }
        if (0...1).contains(settings.ccwa) { ccwa = settings.ccwa }
        if (0...1).contains(settings.colp) { colp = settings.colp }
        if (0...2).contains(settings.cvhu) { cvhu = settings.cvhu }
        if (0...2).contains(settings.cregMode) { cregMode = settings.cregMode }
        if (0...2).contains(settings.cgregMode) { cgregMode = settings.cgregMode }
        if (0...2).contains(settings.ceregMode) { ceregMode = settings.ceregMode }
        if (0...1).contains(settings.cmgf) { cmgf = settings.cmgf }
        if (0...1).contains(settings.csms) { csms = settings.csms }
        if ModemHostSettings.characterSets.contains(settings.cscs) { cscs = settings.cscs }
        if let centre = settings.serviceCentre, (1...21).contains(centre.count) { serviceCentre = centre }
        if settings.cnmi.count == 5,
            zip(settings.cnmi, ModemHostSettings.cnmiLimits).allSatisfy({ (0...$1).contains($0) })
        {
            cnmi = settings.cnmi
        }
        if settings.csmp.count == 4, settings.csmp.allSatisfy({ (0...255).contains($0) }),
            (try? SMSAlphabet.from(dcs: UInt8(settings.csmp[3]))) != nil
        {
            csmp = settings.csmp
        }
        if (0...1).contains(settings.csdh) { csdh = settings.csdh }
        if [0, 1, 4].contains(settings.cfun) { cfun = settings.cfun }
        if (0...2).contains(settings.copsFormat) { copsFormat = settings.copsFormat }
        switch settings.copsMode {
        case 0: copsMode = 0
        case 2: copsMode = 2
        case 1:
            if let numeric = settings.copsOperator,
                let op = allOperators.first(where: { $0.numeric == numeric && !$0.forbidden })
            {
                copsMode = 1
                currentOperator = op
            }
        default: break
        }
        gprsAttached = settings.gprsAttached
        if settings.pdpContexts.count <= 8,
            settings.pdpContexts.allSatisfy({ (1...8).contains($0.key) && $0.value.utf8.count <= 256 })
        {
            pdpContexts = settings.pdpContexts
        }
        for (number, value) in settings.sRegisters where (0...12).contains(number) && (0...255).contains(value) {
            sRegisters[number] = value
        }
        if let pin = settings.changedPIN, (4...8).contains(pin.count), pin.allSatisfy(\.isNumber) { currentPIN = pin }
        if settings.simUnlocked, sim == .pin {
            sim = .ready
            pinAttempts = 3
        }
        if (0...255).contains(settings.nextReference) { nextReference = settings.nextReference }
        if (0...65535).contains(settings.nextConcatReference) {
            nextConcatReference = UInt16(settings.nextConcatReference)
        }
        // The host's view of registration: what it last saw, so a change it missed is reported.
        let seen = settings.reportedStat.flatMap { RegistrationState(rawValue: $0) }?.rawValue
        for name in ["+CREG", "+CGREG", "+CEREG"] { reportedStat[name] = seen ?? effectiveRegistration.rawValue }
        registrationDidChange()
        // The restore itself is no event for the network side.
        events.removeAll { if case .registration = $0 { true } else { false } }
    }
}
