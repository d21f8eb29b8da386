import ATWire

/// The built-in network simulator: a modem's AT interface (3GPP TS 27.007 / 27.005) and the network
/// behind it, as one pure state machine. Bytes go in through `receive`, bytes for the host come out of
/// `takeOutput`; time moves only through `advance(to:)` (milliseconds on any monotonic clock), so tests
/// drive it with a manual clock. The network side (`incomingCall`, `deliverSMS`, …) is what the hub's
/// control methods call.
package final class ModemSimulator {
    package let profile: ModemProfile
    var assembler: ATLineAssembler
    var formatter = ATFormatter()
    var output: [UInt8] = []
    var echoOutput: [UInt8] = []
    var events: [ModemEvent] = []
    /// URCs held back while the host types an SMS body: at most `heldUnsolicitedCapacity`, the oldest dropped.
    var heldUnsolicited: [[UInt8]] = []
    /// Unsolicited results dropped from a full hold (a host that sat in the SMS prompt while they kept coming).
    package private(set) var heldUnsolicitedDropped: UInt64 = 0
    /// How many unsolicited results wait while the host types an SMS body. A host may sit in the prompt for as
    /// long as it likes while calls and messages keep coming; TS 27.005 (`+CNMI` mode 2) lets a full buffer
    /// discard its oldest indications, so the hold is bounded and the newest are kept.
    package static let heldUnsolicitedCapacity = 64
    var now: UInt64
    var lastLine: String?

    // The modem's state, one structure per concern (ModemSimulator+State.swift).
    /// Result-code and reporting settings the host sets (reset by ATZ / AT&F).
    var options = HostOptions()
    /// The SIM: lock state, PIN and remaining attempts.
    var simCard: SIMCard
    /// Radio, registration, the serving operator, signal, packet attach.
    var network: NetworkState
    /// Calls and their timers (ringing, alerting, no answer).
    var telephony = Telephony()
    /// SMS settings, the message store, references, the submit being typed and what was sent.
    var messaging: Messaging

    /// SMS the host sent, oldest first.
    package var sent: [SentSMS] { messaging.sent }

    enum PendingSubmit {
        case text(destination: String)
        case pdu(length: Int)
    }

    package init(profile: ModemProfile = ModemProfile(), now: UInt64 = 0) {
        self.profile = profile
        self.now = now
        assembler = ATLineAssembler(maxLineBytes: profile.maxLineBytes)
        simCard = SIMCard(state: profile.pin == nil ? .ready : .pin, currentPIN: profile.pin)
        network = NetworkState(currentOperator: profile.homeOperator)
        messaging = Messaging(serviceCentre: profile.serviceCentre)
        recordRegistration()
    }

    // MARK: - Host side

    /// Bytes the host wrote.
    package func receive(_ bytes: some Sequence<UInt8>, now: UInt64) {
        advance(to: now)
        var echo: [UInt8] = []
        let recognised = assembler.feed(bytes, echoOut: &echo)
        if profile.separateEcho { echoOutput += echo } else { output += echo }
        for event in recognised {
            handle(event)
        }
    }

    /// What the modem has for the host since the last call.
    package func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    /// The echo of what the host typed since the last call (only with `profile.separateEcho`).
    package func takeEcho() -> [UInt8] {
        defer { echoOutput.removeAll(keepingCapacity: true) }
        return echoOutput
    }

    /// What happened since the last call.
    package func takeEvents() -> [ModemEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    /// Whether an SMS body is being typed.
    package var isInPrompt: Bool { assembler.inPrompt }

    /// The earliest time `advance(to:)` has something to do.
    package var nextDeadline: UInt64? {
        ([telephony.ringAt].compactMap { $0 } + Array(telephony.alertAt.values) + Array(telephony.giveUpAt.values))
            .min()
    }

    /// Runs what is due at `now` (rings, alerting, no-answer).
    package func advance(to time: UInt64) {
        if time > now { now = time }
        for (id, at) in telephony.alertAt.sorted(by: { $0.key < $1.key }) where at <= now {
            telephony.alertAt[id] = nil
            guard let index = telephony.calls.firstIndex(where: { $0.id == id }),
                telephony.calls[index].state == .dialing
            else { continue }
            telephony.calls[index].state = .alerting
            events.append(.call(telephony.calls[index], ended: nil))
            if profile.noAnswerTimeoutMs > 0 { telephony.giveUpAt[id] = now + profile.noAnswerTimeoutMs }
        }
        for (id, at) in telephony.giveUpAt.sorted(by: { $0.key < $1.key }) where at <= now {
            telephony.giveUpAt[id] = nil
            guard let call = telephony.calls.first(where: { $0.id == id }), call.state == .alerting else { continue }
            end(id, reason: "no_answer", result: .noAnswer)
        }
        if let at = telephony.ringAt, at <= now {
            telephony.ringAt = nil
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
            messaging.pendingSubmit = nil
            final(.ok)
            releaseHeld()
        case .promptTooLong:
            messaging.pendingSubmit = nil
            finalCMS(pendingSubmitIsPDU ? .invalidPDUModeParameter : .invalidTextModeParameter)
            releaseHeld()
        }
    }

    var pendingSubmitIsPDU: Bool { messaging.cmgf == 0 }

    // MARK: - Output helpers

    func info(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        output += formatter.information(lines.joined(separator: "\r\n"))
    }

    func info(_ line: String) { info([line]) }

    func final(_ code: ATResultCode) { output += formatter.result(code) }

    func finalCME(_ code: CMEError) {
        switch options.cmee {
        case 0: final(.error)
        case 1: output += formatter.extendedResult("+CME ERROR: \(code.rawValue)")
        default: output += formatter.extendedResult("+CME ERROR: \(code.text)")
        }
    }

    func finalCMS(_ code: CMSError) {
        let text = options.cmee == 2 ? code.text : "\(code.rawValue)"
        output += formatter.extendedResult("+CMS ERROR: \(text)")
    }

    /// An unsolicited result: written now, or held while the host types an SMS body.
    func unsolicited(_ lines: [String]) {
        let bytes = formatter.information(lines.joined(separator: "\r\n"))
        if assembler.inPrompt {
            hold(bytes)
        } else {
            output += bytes
        }
        events.append(.unsolicited(lines.joined(separator: "\n")))
    }

    /// An unsolicited final-style code (`RING`, `NO CARRIER`, `BUSY`) that ATV0 turns into a digit.
    func unsolicitedResult(_ code: ATResultCode) {
        let bytes = formatter.verbose ? formatter.information(code.verbose) : Array("\(code.rawValue)\r".utf8)
        if assembler.inPrompt {
            hold(bytes)
        } else {
            output += bytes
        }
        events.append(.unsolicited(code.verbose))
    }

    private func hold(_ bytes: [UInt8]) {
        if heldUnsolicited.count >= ModemSimulator.heldUnsolicitedCapacity {
            heldUnsolicited.removeFirst()
            heldUnsolicitedDropped &+= 1
        }
        heldUnsolicited.append(bytes)
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
        for (name, mode) in [("+CREG", options.cregMode), ("+CGREG", options.cgregMode), ("+CEREG", options.ceregMode)]
        {
            guard network.reportedStat[name] != stat else { continue }
            network.reportedStat[name] = stat
            if mode > 0 { unsolicited(["\(name): \(registrationFields(name, mode: mode, includeMode: false))"]) }
        }
        events.append(.registration(effectiveRegistration))
        if !isRegistered { dropCallsForNetworkLoss() }
    }

    func recordRegistration() {
        let stat = effectiveRegistration.rawValue
        for name in ["+CREG", "+CGREG", "+CEREG"] { network.reportedStat[name] = stat }
    }
}
