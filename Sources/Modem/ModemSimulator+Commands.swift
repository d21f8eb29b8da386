import ATWire

extension ModemSimulator {
    /// Every command the simulator knows, for `+CLAC` and `Protocols/modem.md`.
    public static let supportedCommands = [
        "A", "D", "E", "H", "I", "L", "M", "Q", "S", "V", "X", "Z", "&C", "&D", "&F", "&W", "+CBC", "+CCWA", "+CEREG",
        "+CESQ", "+CFUN", "+CGATT", "+CGDCONT", "+CGMI", "+CGMM", "+CGMR", "+CGREG", "+CGSN", "+CHLD", "+CHUP",
        "+CIMI", "+CLAC", "+CLCC", "+CLIP", "+CMEE", "+CMGD", "+CMGF", "+CMGL", "+CMGR", "+CMGS", "+CNMA", "+CNMI",
        "+CNUM", "+COLP", "+COPS", "+CPAS", "+CPIN", "+CPMS", "+CRC", "+CREG", "+CSCA", "+CSCS", "+CSDH", "+CSMP",
        "+CSMS", "+CSQ", "+CVHU", "+GCAP", "+GMI", "+GMM", "+GMR", "+GSN", "+VTS",
    ]

    /// Commands that work before the SIM is unlocked.
    static let withoutSIM: Set<String> = [
        "A", "E", "H", "I", "L", "M", "Q", "S", "V", "X", "Z", "&C", "&D", "&F", "&W", "+CMEE", "+CGMI", "+CGMM",
        "+CGMR", "+CGSN", "+GMI", "+GMM", "+GMR", "+GSN", "+GCAP", "+CLAC", "+CPIN", "+CFUN", "+CSQ", "+CESQ",
        "+CREG", "+CGREG", "+CEREG", "+CPAS", "+CHUP", "+CLCC", "+CBC", "+CRC", "+CLIP", "+CCWA", "+COLP", "+CSCS",
        "+CVHU",
    ]
    static let smsCommands: Set<String> = [
        "+CSMS", "+CMGF", "+CSCA", "+CPMS", "+CNMI", "+CMGS", "+CMGR", "+CMGL", "+CMGD", "+CNMA", "+CSMP", "+CSDH",
    ]

    // shape: switch table (one case per AT command name, each a line or a call to its handler)
    func dispatch(_ c: ATCommand) -> Outcome {
        let name = c.name.hasPrefix("S") && c.name.count > 1 && c.name.dropFirst().allSatisfy(\.isNumber) ? "S" : c.name
        if simCard.state != .ready, !ModemSimulator.withoutSIM.contains(name),
            ModemSimulator.supportedCommands.contains(name)
                || name == "D"
        {
            let puk = simCard.state == .puk
            if ModemSimulator.smsCommands.contains(name) { return .cms(puk ? .simPUKRequired : .simPINRequired) }
            return .cme(puk ? .simPUKRequired : .simPINRequired)
        }
        switch name {
        case "E": return flag(c) { self.assembler.echo = $0 }
        case "V": return flag(c) { self.formatter.verbose = $0 }
        case "Q": return flag(c) { self.formatter.quiet = $0 }
        case "L", "M", "X", "&C", "&D": return Int(c.argument.isEmpty ? "0" : c.argument) ?? 99 <= 4 ? .ok : .error
        case "&W": return .ok
        case "Z", "&F":
            guard c.argument.isEmpty || c.argument == "0" else { return .error }
            resetSettings()
            return .ok
        case "I":
            info([profile.manufacturer, profile.model, "Revision: \(profile.revision)"])
            return .ok
        case "S": return sRegister(c)
        case "A": return answer()
        case "H":
            // 27.007 §6.20: with +CVHU=1 ATH is ignored but answered OK (the call stays).
            return options.cvhu == 1 ? .ok : hangUpAll(reason: "local")
        case "D": return dial(c.argument)
        case "+CMEE":
            return setting(c, range: 0...2, get: { self.options.cmee }, set: { self.options.cmee = $0 }, test: "(0-2)")
        case "+CRC":
            return setting(c, range: 0...1, get: { self.options.crc }, set: { self.options.crc = $0 }, test: "(0,1)")
        case "+CVHU":
            return setting(c, range: 0...2, get: { self.options.cvhu }, set: { self.options.cvhu = $0 }, test: "(0-2)")
        case "+CCWA":
            return setting(c, range: 0...1, get: { self.options.ccwa }, set: { self.options.ccwa = $0 }, test: "(0,1)")
        case "+COLP":
            if c.form == .read {
                info("+COLP: \(options.colp),1")
                return .ok
            }
            return setting(c, range: 0...1, get: { self.options.colp }, set: { self.options.colp = $0 }, test: "(0,1)")
        case "+CLIP":
            if c.form == .read {
                info("+CLIP: \(options.clip),1")
                return .ok
            }
            return setting(c, range: 0...1, get: { self.options.clip }, set: { self.options.clip = $0 }, test: "(0,1)")
        case "+CGMI", "+GMI": return identity(c, profile.manufacturer)
        case "+CGMM", "+GMM": return identity(c, profile.model)
        case "+CGMR", "+GMR": return identity(c, profile.revision)
        case "+CGSN", "+GSN": return identity(c, profile.imei)
        case "+CIMI": return identity(c, profile.imsi)
        case "+GCAP": return identity(c, "+GCAP: +CGSM")
        case "+CNUM":
            guard c.form == .execute || c.form == .test else { return .error }
            if c.form == .execute {
                info("+CNUM: \"\",\"\(profile.ownNumber)\",\(profile.ownNumber.hasPrefix("+") ? 145 : 129)")
            }
            return .ok
        case "+CLAC":
            guard c.form == .execute else { return .error }
            info(
                ModemSimulator.supportedCommands.map { $0.hasPrefix("+") || $0.hasPrefix("&") ? "AT\($0)" : "AT\($0)" })
            return .ok
        case "+CBC":
            guard c.form == .execute else { return c.form == .test ? .ok : .error }
            info("+CBC: 0,100")
            return .ok
        case "+CPAS":
            guard c.form == .execute else { return c.form == .test ? info("+CPAS: (0,3,4)", .ok) : .error }
            let status = telephony.calls.contains { $0.state == .incoming } ? 3 : telephony.calls.isEmpty ? 0 : 4
            info("+CPAS: \(status)")
            return .ok
        case "+CPIN": return cpin(c)
        case "+CFUN": return cfunCommand(c)
        case "+CREG", "+CGREG", "+CEREG": return registrationCommand(c)
        case "+COPS": return cops(c)
        case "+CSQ":
            if c.form == .test { return info("+CSQ: (0-31,99),(0-7,99)", .ok) }
            guard c.form == .execute else { return .error }
            info("+CSQ: \(signalRSSI),\(signalRSSI == 99 ? 99 : network.ber)")
            return .ok
        case "+CESQ":
            if c.form == .test {
                return info("+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)", .ok)
            }
            guard c.form == .execute else { return .error }
            let rsrp = signalRSSI == 99 ? 255 : min(97, signalRSSI * 3)
            let rsrq = signalRSSI == 99 ? 255 : min(34, signalRSSI)
            info("+CESQ: 99,99,255,255,\(rsrq),\(rsrp)")
            return .ok
        case "+CGATT": return cgatt(c)
        case "+CGDCONT": return cgdcont(c)
        case "+CLCC":
            guard c.form == .execute else { return c.form == .test ? .ok : .error }
            info(telephony.calls.map(clccLine))
            return .ok
        case "+CHUP":
            guard c.form == .execute else { return c.form == .test ? .ok : .error }
            return hangUpAll(reason: "local")
        case "+CHLD": return chld(c)
        case "+VTS": return vts(c)
        case "+CSMS": return csmsCommand(c)
        case "+CMGF":
            return setting(
                c, range: 0...1, get: { self.messaging.cmgf }, set: { self.messaging.cmgf = $0 }, test: "(0,1)")
        case "+CSDH":
            return setting(
                c, range: 0...1, get: { self.messaging.csdh }, set: { self.messaging.csdh = $0 }, test: "(0,1)")
        case "+CSCA": return csca(c)
        case "+CSCS": return cscsCommand(c)
        case "+CPMS": return cpms(c)
        case "+CNMI": return cnmiCommand(c)
        case "+CSMP": return csmpCommand(c)
        case "+CMGS": return cmgs(c)
        case "+CMGR": return cmgr(c)
        case "+CMGL": return cmgl(c)
        case "+CMGD": return cmgd(c)
        case "+CNMA": return cnma(c)
        default: return .error
        }
    }

    func info(_ line: String, _ outcome: Outcome) -> Outcome {
        info(line)
        return outcome
    }

    func flag(_ c: ATCommand, _ set: (Bool) -> Void) -> Outcome {
        switch c.argument {
        case "", "0": set(false)
        case "1": set(true)
        default: return .error
        }
        return .ok
    }

    func identity(_ c: ATCommand, _ value: String) -> Outcome {
        switch c.form {
        case .execute:
            info(value)
            return .ok
        case .test: return .ok
        default: return .error
        }
    }

    /// A numeric setting with set / read / test forms.
    func setting(
        _ c: ATCommand, range: ClosedRange<Int>, get: () -> Int, set: (Int) -> Void, test: String
    ) -> Outcome {
        switch c.form {
        case .read:
            info("\(c.name): \(get())")
            return .ok
        case .test:
            info("\(c.name): \(test)")
            return .ok
        case .set:
            let first = c.parameter(0)
            let value = first.isOmitted ? range.lowerBound : first.int
            guard let value, range.contains(value), c.parameters.count <= 1 else { return cmeOrCMS(c) }
            set(value)
            return .ok
        case .execute:
            return .ok
        }
    }

    /// The parameter error for a command's family.
    func cmeOrCMS(_ c: ATCommand) -> Outcome {
        if ModemSimulator.smsCommands.contains(c.name) { return .cms(.invalidParameter(cmgf: messaging.cmgf)) }
        return .cme(.incorrectParameters)
    }

    func sRegister(_ c: ATCommand) -> Outcome {
        guard let number = Int(c.name.dropFirst()), number <= 12 else { return .error }
        if c.form == .read {
            let value = options.sRegisters[number] ?? 0
            info(value < 10 ? "00\(value)" : value < 100 ? "0\(value)" : "\(value)")
            return .ok
        }
        guard let value = Int(c.argument.isEmpty ? "0" : c.argument), (0...255).contains(value) else { return .error }
        options.sRegisters[number] = value
        return .ok
    }

    func resetSettings() {
        assembler.echo = true
        formatter = ATFormatter()
        options.cmee = 0
        options.crc = 0
        options.clip = 0
        options.ccwa = 0
        options.colp = 0
        options.cvhu = 0
        options.cregMode = 0
        options.cgregMode = 0
        options.ceregMode = 0
        messaging.cmgf = 0
        messaging.cscs = "IRA"
        messaging.cnmi = [0, 0, 0, 0, 0]
        messaging.csmp = [17, 167, 0, 0]
        messaging.csdh = 0
    }

    func cpin(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read:
            info("+CPIN: \(simCard.state == .ready ? "READY" : simCard.state == .pin ? "SIM PIN" : "SIM PUK")")
            return .ok
        case .test: return .ok
        case .execute: return .error
        case .set:
            guard let code = c.parameter(0).string else { return .cme(.incorrectParameters) }
            switch simCard.state {
            case .ready:
                // 27.007: entering a PIN when none is asked for is not allowed.
                return .cme(.operationNotAllowed)
            case .pin:
                guard code == simCard.currentPIN else {
                    simCard.pinAttempts -= 1
                    if simCard.pinAttempts <= 0 { simCard.state = .puk }
                    return .cme(.incorrectPassword)
                }
                simUnlocked()
                return .ok
            case .puk:
                guard code == profile.puk, let newPIN = c.parameter(1).string, (4...8).contains(newPIN.count),
                    newPIN.allSatisfy(\.isNumber)
                else {
                    simCard.pukAttempts -= 1
                    return .cme(.incorrectPassword)
                }
                simCard.currentPIN = newPIN
                simUnlocked()
                return .ok
            }
        }
    }

    func simUnlocked() {
        simCard.state = .ready
        simCard.pinAttempts = 3
        registrationDidChange()
    }

    func cfunCommand(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read: return info("+CFUN: \(network.cfun)", .ok)
        case .test: return info("+CFUN: (0,1,4),(0,1)", .ok)
        case .execute: return .error
        case .set:
            guard let value = c.parameter(0).int, [0, 1, 4].contains(value) else { return .cme(.incorrectParameters) }
            let reset = c.parameter(1)
            guard reset.isOmitted || reset.int == 0 || reset.int == 1 else { return .cme(.incorrectParameters) }
            network.cfun = value
            registrationDidChange()
            return .ok
        }
    }

    func cgatt(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read: return info("+CGATT: \(network.gprsAttached && isRegistered ? 1 : 0)", .ok)
        case .test: return info("+CGATT: (0,1)", .ok)
        case .execute: return .error
        case .set:
            guard let value = c.parameter(0).int, value <= 1 else { return .cme(.incorrectParameters) }
            if value == 1, !isRegistered { return .cme(.noNetworkService) }
            network.gprsAttached = value == 1
            return .ok
        }
    }

    func cgdcont(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read:
            info(
                network.pdpContexts.keys.sorted().map {
                    "+CGDCONT: \($0),\"IP\",\"\(network.pdpContexts[$0] ?? "")\",\"0.0.0.0\",0,0"
                })
            return .ok
        case .test: return info("+CGDCONT: (1-8),\"IP\",,,(0),(0)", .ok)
        case .execute: return .ok
        case .set:
            guard let cid = c.parameter(0).int, (1...8).contains(cid) else { return .cme(.incorrectParameters) }
            if c.parameters.count <= 1 {
                network.pdpContexts[cid] = nil
            } else {
                network.pdpContexts[cid] = c.parameter(2).string ?? ""
            }
            return .ok
        }
    }
}
