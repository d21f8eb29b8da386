import ATWire

extension ModemSimulator {
    /// Registration as the host sees it: radio off, locked SIM or deregistration show "not registered".
    public var effectiveRegistration: RegistrationState {
        if sim != .ready || cfun != 1 || copsMode == 2 { return .unregistered }
        if !networkAvailable { return .searching }
        return configuredRegistration
    }

    public var isRegistered: Bool { effectiveRegistration == .home || effectiveRegistration == .roaming }

    var signalRSSI: Int { networkAvailable && cfun == 1 ? rssi : 99 }

    /// `<stat>[,"<lac>","<ci>",<AcT>]`, with `<n>,` in front for the read form.
    func registrationFields(_ name: String, mode: Int, includeMode: Bool) -> String {
        var text = includeMode ? "\(mode),\(effectiveRegistration.rawValue)" : "\(effectiveRegistration.rawValue)"
        if mode == 2, isRegistered {
            let area = String(lac, radix: 16, uppercase: true)
            let cell = String(cellID, radix: 16, uppercase: true)
            let act =
                name == "+CREG" && currentOperator.accessTechnology != 7 ? "" : ",\(currentOperator.accessTechnology)"
            text += ",\"\(pad(area, 4))\",\"\(pad(cell, name == "+CEREG" ? 8 : 4))\"\(act)"
        }
        return text
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    func registrationCommand(_ c: ATCommand) -> Outcome {
        let mode: Int
        switch c.name {
        case "+CREG": mode = cregMode
        case "+CGREG": mode = cgregMode
        default: mode = ceregMode
        }
        switch c.form {
        case .read: return info("\(c.name): \(registrationFields(c.name, mode: mode, includeMode: true))", .ok)
        case .test: return info("\(c.name): (0-2)", .ok)
        case .execute: return .error
        case .set:
            let value = c.parameter(0).isOmitted ? 0 : c.parameter(0).int
            guard let value, (0...2).contains(value) else { return .cme(.incorrectParameters) }
            switch c.name {
            case "+CREG": cregMode = value
            case "+CGREG": cgregMode = value
            default: ceregMode = value
            }
            return .ok
        }
    }

    var allOperators: [ModemOperator] { [profile.homeOperator] + profile.otherOperators }

    func operatorName(_ op: ModemOperator, format: Int) -> String {
        switch format {
        case 1: op.shortName
        case 2: op.numeric
        default: op.longName
        }
    }

    func cops(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read:
            if isRegistered {
                info(
                    "+COPS: \(copsMode),\(copsFormat),\"\(operatorName(currentOperator, format: copsFormat))\","
                        + "\(currentOperator.accessTechnology)")
            } else {
                info("+COPS: \(copsMode)")
            }
            return .ok
        case .test:
            guard cfun == 1, networkAvailable else { return .cme(.noNetworkService) }
            let entries = allOperators.map { op in
                let status = op.forbidden ? 3 : op == currentOperator && isRegistered ? 2 : 1
                return "(\(status),\"\(op.longName)\",\"\(op.shortName)\",\"\(op.numeric)\",\(op.accessTechnology))"
            }
            info("+COPS: " + entries.joined(separator: ",") + ",,(0,1,2,3,4),(0,1,2)")
            return .ok
        case .execute: return .error
        case .set:
            guard let mode = c.parameter(0).isOmitted ? 0 : c.parameter(0).int, (0...4).contains(mode) else {
                return .cme(.incorrectParameters)
            }
            if !c.parameter(1).isOmitted {
                guard let format = c.parameter(1).int, (0...2).contains(format) else {
                    return .cme(.incorrectParameters)
                }
                copsFormat = format
            }
            switch mode {
            case 0:
                copsMode = 0
                currentOperator = profile.homeOperator
            case 1, 4:
                guard let name = c.parameter(2).string else { return .cme(.incorrectParameters) }
                guard let op = allOperators.first(where: { operatorName($0, format: copsFormat) == name }) else {
                    if mode == 4 {
                        copsMode = 0
                        currentOperator = profile.homeOperator
                        break
                    }
                    return .cme(.noNetworkService)
                }
                guard !op.forbidden else { return .cme(.networkNotAllowedEmergencyCallsOnly) }
                guard networkAvailable else { return .cme(.noNetworkService) }
                copsMode = 1
                currentOperator = op
            case 2:
                copsMode = 2
            default:
                break  // 3 only sets the format
            }
            registrationDidChange()
            return .ok
        }
    }

    // MARK: - Network side

    /// Sets the registration the network grants (shown while the SIM is ready and the radio is on).
    public func setRegistration(_ state: RegistrationState) {
        configuredRegistration = state
        registrationDidChange()
    }

    /// Loses or regains the network: while lost the modem shows "searching" and calls drop.
    public func setNetworkAvailable(_ available: Bool) {
        networkAvailable = available
        registrationDidChange()
    }

    /// Signal strength (`+CSQ` scale: 0-31, 99 unknown) and bit error rate (0-7, 99).
    public func setSignal(rssi: Int, ber: Int) throws(ModemNetworkError) {
        guard (0...31).contains(rssi) || rssi == 99 else {
            throw ModemNetworkError(.invalid, "rssi must be 0-31 or 99")
        }
        guard (0...7).contains(ber) || ber == 99 else { throw ModemNetworkError(.invalid, "ber must be 0-7 or 99") }
        self.rssi = rssi
        self.ber = ber
    }

    /// Replaces the serving operator's names (the home operator when `numeric` is the home one).
    public func setOperator(_ op: ModemOperator) {
        currentOperator = op
        // A cell change is what `+CREG=2` reports; force the URC by forgetting the last status.
        cellID += 1
        for (name, mode) in [("+CREG", cregMode), ("+CGREG", cgregMode), ("+CEREG", ceregMode)] where mode == 2 {
            reportedStat[name] = nil
        }
        registrationDidChange()
    }

    public var registrationSnapshot: (state: RegistrationState, operator: ModemOperator, rssi: Int, ber: Int) {
        (effectiveRegistration, currentOperator, signalRSSI, ber)
    }

    public var radioOn: Bool { cfun == 1 }
    public var simReady: Bool { sim == .ready }
}
