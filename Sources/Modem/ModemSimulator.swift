import ATWire

/// The built-in network simulator: a modem's AT interface (3GPP TS 27.007 / 27.005) and the network
/// behind it, as one pure state machine. Bytes go in through `receive`, bytes for the host come out of
/// `takeOutput`; time moves only through `advance(to:)` (milliseconds on any monotonic clock), so tests
/// drive it with a manual clock. The network side (`incomingCall`, `deliverSMS`, …) is what the hub's
/// control methods call.
public final class ModemSimulator {
    public let profile: ModemProfile
    var assembler: ATLineAssembler
    var formatter = ATFormatter()
    var output: [UInt8] = []
    var echoOutput: [UInt8] = []
    var events: [ModemEvent] = []
    /// URCs held back while the host types an SMS body.
    var heldUnsolicited: [[UInt8]] = []
    var now: UInt64
    var lastLine: String?

    // Settings (reset by ATZ / AT&F).
    var cmee = 0
    var crc = 0
    var clip = 0
    var ccwa = 0
    var colp = 0
    /// Voice hangup control (27.007 §6.20): 0 and 2 let ATH end calls, 1 makes ATH a no-op.
    var cvhu = 0
    var cregMode = 0
    var cgregMode = 0
    var ceregMode = 0
    var sRegisters: [Int: Int] = [0: 0, 3: 13, 4: 10, 5: 8, 7: 60]

    // SIM and radio.
    enum SIMState { case ready, pin, puk }
    var sim: SIMState
    var pinAttempts = 3
    var pukAttempts = 10
    var currentPIN: String?
    var cfun = 1

    // Network.
    var networkAvailable = true
    var configuredRegistration = RegistrationState.home
    var reportedStat: [String: Int] = [:]
    var copsMode = 0
    var copsFormat = 0
    var currentOperator: ModemOperator
    var rssi = 20
    var ber = 0
    var lac = 0x1A2B
    var cellID = 0x0001_F00D
    var gprsAttached = true

    // Calls.
    var calls: [ModemCall] = []
    var ringAt: UInt64?
    var alertAt: [Int: UInt64] = [:]
    var giveUpAt: [Int: UInt64] = [:]

    // SMS.
    var cmgf = 0
    var csms = 0
    var cscs = "IRA"
    var serviceCentre: String
    var cnmi = [0, 0, 0, 0, 0]
    var csmp = [17, 167, 0, 0]
    var csdh = 0
    var store: [Int: StoredSMS] = [:]
    var nextReference = 0
    var nextConcatReference: UInt16 = 0
    var ackPending = false
    public internal(set) var sent: [SentSMS] = []
    var pendingSubmit: PendingSubmit?
    var pdpContexts: [Int: String] = [:]

    enum PendingSubmit {
        case text(destination: String)
        case pdu(length: Int)
    }

    public init(profile: ModemProfile = ModemProfile(), now: UInt64 = 0) {
        self.profile = profile
        self.now = now
        assembler = ATLineAssembler(maxLineBytes: profile.maxLineBytes)
        sim = profile.pin == nil ? .ready : .pin
        currentPIN = profile.pin
        currentOperator = profile.homeOperator
        serviceCentre = profile.serviceCentre
        recordRegistration()
    }

    // MARK: - Host side

    /// Bytes the host wrote.
    public func receive(_ bytes: some Sequence<UInt8>, now: UInt64) {
        advance(to: now)
        var echo: [UInt8] = []
        let recognised = assembler.feed(bytes, echoOut: &echo)
        if profile.separateEcho { echoOutput += echo } else { output += echo }
        for event in recognised {
            handle(event)
        }
    }

    /// What the modem has for the host since the last call.
    public func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    /// The echo of what the host typed since the last call (only with `profile.separateEcho`).
    public func takeEcho() -> [UInt8] {
        defer { echoOutput.removeAll(keepingCapacity: true) }
        return echoOutput
    }

    /// What happened since the last call.
    public func takeEvents() -> [ModemEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    /// Whether an SMS body is being typed.
    public var isInPrompt: Bool { assembler.inPrompt }

    /// The earliest time `advance(to:)` has something to do.
    public var nextDeadline: UInt64? {
        ([ringAt].compactMap { $0 } + Array(alertAt.values) + Array(giveUpAt.values)).min()
    }

    /// Runs what is due at `now` (rings, alerting, no-answer).
    public func advance(to time: UInt64) {
        if time > now { now = time }
        for (id, at) in alertAt.sorted(by: { $0.key < $1.key }) where at <= now {
            alertAt[id] = nil
            guard let index = calls.firstIndex(where: { $0.id == id }), calls[index].state == .dialing else { continue }
            calls[index].state = .alerting
            events.append(.call(calls[index], ended: nil))
            if profile.noAnswerTimeoutMs > 0 { giveUpAt[id] = now + profile.noAnswerTimeoutMs }
        }
        for (id, at) in giveUpAt.sorted(by: { $0.key < $1.key }) where at <= now {
            giveUpAt[id] = nil
            guard let call = calls.first(where: { $0.id == id }), call.state == .alerting else { continue }
            end(id, reason: "no_answer", result: .noAnswer)
        }
        if let at = ringAt, at <= now {
            ringAt = nil
            ring()
        }
    }

    func handle(_ event: ATLineAssembler.Event) {
        switch event {
        case .line(let line):
            execute(line)
        case .garbage, .strayCtrlZ:
            final(.error)
        case .tooLong:
            final(.error)
        case .promptBody(let body):
            finishSubmit(body)
            releaseHeld()
        case .promptAborted:
            // 27.005 §3.5.1: Esc aborts sending; the command ends with OK.
            pendingSubmit = nil
            final(.ok)
            releaseHeld()
        case .promptTooLong:
            pendingSubmit = nil
            finalCMS(pendingSubmitIsPDU ? .invalidPDUModeParameter : .invalidTextModeParameter)
            releaseHeld()
        }
    }

    var pendingSubmitIsPDU: Bool { cmgf == 0 }

    // MARK: - Output helpers

    func info(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        output += formatter.information(lines.joined(separator: "\r\n"))
    }

    func info(_ line: String) { info([line]) }

    func final(_ code: ATResultCode) { output += formatter.result(code) }

    func finalCME(_ code: CMEError) {
        switch cmee {
        case 0: final(.error)
        case 1: output += formatter.extendedResult("+CME ERROR: \(code.rawValue)")
        default: output += formatter.extendedResult("+CME ERROR: \(code.text)")
        }
    }

    func finalCMS(_ code: CMSError) {
        let text = cmee == 2 ? code.text : "\(code.rawValue)"
        output += formatter.extendedResult("+CMS ERROR: \(text)")
    }

    /// An unsolicited result: written now, or held while the host types an SMS body.
    func unsolicited(_ lines: [String]) {
        let bytes = formatter.information(lines.joined(separator: "\r\n"))
        if assembler.inPrompt {
            heldUnsolicited.append(bytes)
        } else {
            output += bytes
        }
        events.append(.unsolicited(lines.joined(separator: "\n")))
    }

    /// An unsolicited final-style code (`RING`, `NO CARRIER`, `BUSY`) that ATV0 turns into a digit.
    func unsolicitedResult(_ code: ATResultCode) {
        let bytes = formatter.verbose ? formatter.information(code.verbose) : Array("\(code.rawValue)\r".utf8)
        if assembler.inPrompt {
            heldUnsolicited.append(bytes)
        } else {
            output += bytes
        }
        events.append(.unsolicited(code.verbose))
    }

    func releaseHeld() {
        for bytes in heldUnsolicited { output += bytes }
        heldUnsolicited.removeAll()
    }

    // MARK: - Command lines

    func execute(_ line: String) {
        var line = line
        if line.uppercased() == "A/" {
            guard let last = lastLine else { return final(.error) }
            line = last
        }
        let commands: [ATCommand]
        do {
            commands = try ATCommandParser.parse(line)
        } catch {
            return final(.error)
        }
        lastLine = line
        for command in commands {
            switch run(command) {
            case .next: continue
            case .done: return
            }
        }
        final(.ok)
    }

    enum Step { case next, done }

    /// Runs one command; `.done` when it already wrote the final result (error, prompt, dial outcome).
    func run(_ c: ATCommand) -> Step {
        let outcome = dispatch(c)
        switch outcome {
        case .ok: return .next
        case .final(let code):
            final(code)
            return .done
        case .cme(let code):
            finalCME(code)
            return .done
        case .cms(let code):
            finalCMS(code)
            return .done
        case .error:
            final(.error)
            return .done
        case .prompt:
            output += formatter.prompt
            assembler.enterPrompt()
            return .done
        }
    }

    enum Outcome {
        case ok, error, prompt
        case final(ATResultCode)
        case cme(CMEError)
        case cms(CMSError)
    }

    func registrationDidChange() {
        let stat = effectiveRegistration.rawValue
        for (name, mode) in [("+CREG", cregMode), ("+CGREG", cgregMode), ("+CEREG", ceregMode)] {
            guard reportedStat[name] != stat else { continue }
            reportedStat[name] = stat
            if mode > 0 { unsolicited(["\(name): \(registrationFields(name, mode: mode, includeMode: false))"]) }
        }
        events.append(.registration(effectiveRegistration))
        if !isRegistered { dropCallsForNetworkLoss() }
    }

    func recordRegistration() {
        let stat = effectiveRegistration.rawValue
        for name in ["+CREG", "+CGREG", "+CEREG"] { reportedStat[name] = stat }
    }
}
