import ATWire

/// What the host has set on the modem (Protocols/modem.md §6.2): everything a host stack configures
/// once and relies on afterwards — echo and result format, error mode, notifications, caller id,
/// the SMS mode and character set, the SIM unlock — and the SMS message reference counters, so that
/// a modem rebuilt elsewhere (a restarted remote simulator) continues where the old one stopped.
/// Calls, the SMS store and the network side are not part of it: they belong to the network.
package struct ModemHostSettings: Sendable, Equatable {
    package var echo = true
    package var verbose = true
    package var quiet = false
    package var cmee = 0
    package var crc = 0
    package var clip = 0
    package var ccwa = 0
    package var colp = 0
    package var cvhu = 0
    /// `+CREG`, `+CGREG`, `+CEREG` `<n>`.
    package var cregMode = 0
    package var cgregMode = 0
    package var ceregMode = 0
    /// The registration `<stat>` the host last saw (so a rebuilt modem reports a change it missed).
    package var reportedStat: Int?
    package var cmgf = 0
    package var csms = 0
    package var cscs = "IRA"
    package var serviceCentre: String?
    package var cnmi = [0, 0, 0, 0, 0]
    package var csmp = [17, 167, 0, 0]
    package var csdh = 0
    package var cfun = 1
    package var copsMode = 0
    package var copsFormat = 0
    /// MCC+MNC of a manually selected operator.
    package var copsOperator: String?
    package var gprsAttached = true
    package var pdpContexts: [Int: String] = [:]
    package var sRegisters: [Int: Int] = [:]
    /// Whether the host unlocked the SIM (a rebuilt modem must not ask for the PIN again).
    package var simUnlocked = false
    /// The PIN, only when the host changed it (`+CPIN="<puk>","<newpin>"`).
    package var changedPIN: String?
    /// TP-MR of the next SMS-SUBMIT (23.040 §9.2.3.6) and the next 8-bit concatenation reference.
    package var nextReference = 0
    package var nextConcatReference = 0

    package init() {}

    /// The accepted range of every numeric field; `restore` keeps the current value of anything outside.
    package static let cnmiLimits = [2, 3, 3, 2, 1]
    package static let characterSets: Set<String> = ["IRA", "GSM", "UCS2"]
}

extension ModemSimulator {
    /// The host-set state now.
    package var hostSettings: ModemHostSettings {
        var settings = ModemHostSettings()
        settings.echo = assembler.echo
        settings.verbose = formatter.verbose
        settings.quiet = formatter.quiet
        settings.cmee = options.cmee
        settings.crc = options.crc
        settings.clip = options.clip
        settings.ccwa = options.ccwa
        settings.colp = options.colp
        settings.cvhu = options.cvhu
        settings.cregMode = options.cregMode
        settings.cgregMode = options.cgregMode
        settings.ceregMode = options.ceregMode
        settings.reportedStat = network.reportedStat["+CREG"]
        settings.cmgf = messaging.cmgf
        settings.csms = messaging.csms
        settings.cscs = messaging.cscs
        settings.serviceCentre = messaging.serviceCentre == profile.serviceCentre ? nil : messaging.serviceCentre
        settings.cnmi = messaging.cnmi
        settings.csmp = messaging.csmp
        settings.csdh = messaging.csdh
        settings.cfun = network.cfun
        settings.copsMode = network.copsMode
        settings.copsFormat = network.copsFormat
        settings.copsOperator = network.copsMode == 1 ? network.currentOperator.numeric : nil
        settings.gprsAttached = network.gprsAttached
        settings.pdpContexts = network.pdpContexts
        settings.sRegisters = options.sRegisters
        settings.simUnlocked = profile.pin != nil && simCard.state == .ready
        settings.changedPIN = simCard.currentPIN == profile.pin ? nil : simCard.currentPIN
        settings.nextReference = messaging.nextReference
        settings.nextConcatReference = Int(messaging.nextConcatReference)
        return settings
    }

    /// Applies what a previous modem's host set. Values out of range are ignored one by one (the
    /// settings come over a link), so a bad field cannot put the modem in a state no command could.
    /// When the restored registration differs from what the host last saw, the `+CREG`-family URCs
    /// the host asked for are written, as on any registration change.
    package func restore(_ settings: ModemHostSettings) {
        assembler.echo = settings.echo
        formatter.verbose = settings.verbose
        formatter.quiet = settings.quiet
        if (0...2).contains(settings.cmee) { options.cmee = settings.cmee }
        if (0...1).contains(settings.crc) { options.crc = settings.crc }
        if (0...1).contains(settings.clip) { options.clip = settings.clip }
        if (0...1).contains(settings.ccwa) { options.ccwa = settings.ccwa }
        if (0...1).contains(settings.colp) { options.colp = settings.colp }
        if (0...2).contains(settings.cvhu) { options.cvhu = settings.cvhu }
        if (0...2).contains(settings.cregMode) { options.cregMode = settings.cregMode }
        if (0...2).contains(settings.cgregMode) { options.cgregMode = settings.cgregMode }
        if (0...2).contains(settings.ceregMode) { options.ceregMode = settings.ceregMode }
        if (0...1).contains(settings.cmgf) { messaging.cmgf = settings.cmgf }
        if (0...1).contains(settings.csms) { messaging.csms = settings.csms }
        if ModemHostSettings.characterSets.contains(settings.cscs) { messaging.cscs = settings.cscs }
        if let centre = settings.serviceCentre, (1...21).contains(centre.count) { messaging.serviceCentre = centre }
        if settings.cnmi.count == 5,
            zip(settings.cnmi, ModemHostSettings.cnmiLimits).allSatisfy({ (0...$1).contains($0) })
        {
            messaging.cnmi = settings.cnmi
        }
        if settings.csmp.count == 4, settings.csmp.allSatisfy({ (0...255).contains($0) }),
            (try? SMSAlphabet.from(dcs: UInt8(settings.csmp[3]))) != nil
        {
            messaging.csmp = settings.csmp
        }
        if (0...1).contains(settings.csdh) { messaging.csdh = settings.csdh }
        if [0, 1, 4].contains(settings.cfun) { network.cfun = settings.cfun }
        if (0...2).contains(settings.copsFormat) { network.copsFormat = settings.copsFormat }
        switch settings.copsMode {
        case 0: network.copsMode = 0
        case 2: network.copsMode = 2
        case 1:
            if let numeric = settings.copsOperator,
                let op = allOperators.first(where: { $0.numeric == numeric && !$0.forbidden })
            {
                network.copsMode = 1
                network.currentOperator = op
            }
        default: break
        }
        network.gprsAttached = settings.gprsAttached
        if settings.pdpContexts.count <= 8,
            settings.pdpContexts.allSatisfy({ (1...8).contains($0.key) && $0.value.utf8.count <= 256 })
        {
            network.pdpContexts = settings.pdpContexts
        }
        for (number, value) in settings.sRegisters where (0...12).contains(number) && (0...255).contains(value) {
            options.sRegisters[number] = value
        }
        if let pin = settings.changedPIN, (4...8).contains(pin.count), pin.allSatisfy(\.isNumber) {
            simCard.currentPIN = pin
        }
        if settings.simUnlocked, simCard.state == .pin {
            simCard.state = .ready
            simCard.pinAttempts = 3
        }
        if (0...255).contains(settings.nextReference) { messaging.nextReference = settings.nextReference }
        if (0...65535).contains(settings.nextConcatReference) {
            messaging.nextConcatReference = UInt16(settings.nextConcatReference)
        }
        // The host's view of registration: what it last saw, so a change it missed is reported.
        let seen = settings.reportedStat.flatMap { RegistrationState(rawValue: $0) }?.rawValue
        for name in ["+CREG", "+CGREG", "+CEREG"] {
            network.reportedStat[name] = seen ?? effectiveRegistration.rawValue
        }
        registrationDidChange()
        // The restore itself is no event for the network side.
        events.removeAll { if case .registration = $0 { true } else { false } }
    }
}
