import ATWire

extension ModemSimulator {
    /// Registration as the host sees it: radio off, locked SIM or deregistration show "not registered".
    package var effectiveRegistration: RegistrationState {
        if simCard.state != .ready || network.cfun != 1 || network.copsMode == 2 { return .unregistered }
        if !network.available { return .searching }
        return network.configuredRegistration
    }

    package var isRegistered: Bool { effectiveRegistration == .home || effectiveRegistration == .roaming }

    var signalRSSI: Int { network.available && network.cfun == 1 ? network.rssi : 99 }

    /// `<stat>[,"<lac>","<ci>",<AcT>]`, with `<n>,` in front for the read form.
    func registrationFields(_ name: String, mode: Int, includeMode: Bool) -> String {
        var text = includeMode ? "\(mode),\(effectiveRegistration.rawValue)" : "\(effectiveRegistration.rawValue)"
        if mode == 2, isRegistered {
            let area = String(network.lac, radix: 16, uppercase: true)
            let cell = String(network.cellID, radix: 16, uppercase: true)
            let act =
                name == "+CREG" && network.currentOperator.accessTechnology != 7
                ? "" : ",\(network.currentOperator.accessTechnology)"
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
        case "+CREG": mode = options.cregMode
        case "+CGREG": mode = options.cgregMode
        default: mode = options.ceregMode
        }
        switch c.form {
        case .read: return info("\(c.name): \(registrationFields(c.name, mode: mode, includeMode: true))", .ok)
        case .test: return info("\(c.name): (0-2)", .ok)
        case .execute: return .error
        case .set:
            let value = c.parameter(0).isOmitted ? 0 : c.parameter(0).int
            guard let value, (0...2).contains(value) else { return .cme(.incorrectParameters) }
            switch c.name {
            case "+CREG": options.cregMode = value
            case "+CGREG": options.cgregMode = value
            default: options.ceregMode = value
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
                    "+COPS: \(network.copsMode),\(network.copsFormat),\"\(operatorName(network.currentOperator, format: network.copsFormat))\","
                        + "\(network.currentOperator.accessTechnology)")
            } else {
                info("+COPS: \(network.copsMode)")
            }
            return .ok
        case .test:
            guard network.cfun == 1, network.available else { return .cme(.noNetworkService) }
            let entries = allOperators.map { op in
                let status = op.forbidden ? 3 : op == network.currentOperator && isRegistered ? 2 : 1
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
                network.copsFormat = format
            }
            switch mode {
            case 0:
                network.copsMode = 0
                network.currentOperator = profile.homeOperator
            case 1, 4:
                guard let name = c.parameter(2).string else { return .cme(.incorrectParameters) }
                guard let op = allOperators.first(where: { operatorName($0, format: network.copsFormat) == name })
                else {
                    if mode == 4 {
                        network.copsMode = 0
                        network.currentOperator = profile.homeOperator
                        break
                    }
                    return .cme(.noNetworkService)
                }
                guard !op.forbidden else { return .cme(.networkNotAllowedEmergencyCallsOnly) }
                guard network.available else { return .cme(.noNetworkService) }
                network.copsMode = 1
                network.currentOperator = op
            case 2:
                network.copsMode = 2
            default:
                break  // 3 only sets the format
            }
            registrationDidChange()
            return .ok
        }
    }

    // MARK: - Network side

    /// Sets the registration the network grants (shown while the SIM is ready and the radio is on).
    package func setRegistration(_ state: RegistrationState) {
        network.configuredRegistration = state
        registrationDidChange()
    }

    /// Loses or regains the network: while lost the modem shows "searching" and calls drop.
    package func setNetworkAvailable(_ available: Bool) {
        network.available = available
        registrationDidChange()
    }

    /// Signal strength (`+CSQ` scale: 0-31, 99 unknown) and bit error rate (0-7, 99).
    package func setSignal(rssi: Int, ber: Int) throws(ModemNetworkError) {
        guard (0...31).contains(rssi) || rssi == 99 else {
            throw ModemNetworkError(
                .invalid, "rssi must be 0-31 or 99", parameter: .init("rssi", expected: "0...31 or 99"))
        }
        guard (0...7).contains(ber) || ber == 99 else {
            throw ModemNetworkError(.invalid, "ber must be 0-7 or 99", parameter: .init("ber", expected: "0...7 or 99"))
        }
        network.rssi = rssi
        network.ber = ber
    }

    /// Replaces the serving operator's names (the home operator when `numeric` is the home one).
    package func setOperator(_ op: ModemOperator) {
        network.currentOperator = op
        // A cell change is what `+CREG=2` reports; force the URC by forgetting the last status.
        network.cellID += 1
        for (name, mode) in [("+CREG", options.cregMode), ("+CGREG", options.cgregMode), ("+CEREG", options.ceregMode)]
        where mode == 2 {
            network.reportedStat[name] = nil
        }
        registrationDidChange()
    }

    package var registrationSnapshot: (state: RegistrationState, operator: ModemOperator, rssi: Int, ber: Int) {
        (effectiveRegistration, network.currentOperator, signalRSSI, network.ber)
    }

    package var radioOn: Bool { network.cfun == 1 }
    package var simReady: Bool { simCard.state == .ready }
}
