import ATWire

extension ModemSimulator {
    /// The newest sent messages kept for `sent`.
    package static let sentLogCapacity = 1000
    static let textStatus = ["REC UNREAD", "REC READ", "STO UNSENT", "STO SENT", "ALL"]
    static let storages = ["SM", "ME", "MT"]

    func csmsCommand(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read: return info("+CSMS: \(messaging.csms),1,1,1", .ok)
        case .test: return info("+CSMS: (0,1)", .ok)
        case .execute: return .error
        case .set:
            guard let value = c.parameter(0).int, value <= 1 else { return .cms(.operationNotSupported) }
            messaging.csms = value
            return info("+CSMS: 1,1,1", .ok)
        }
    }

    func csca(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read:
            return info(
                "+CSCA: \"\(messaging.serviceCentre)\",\(messaging.serviceCentre.hasPrefix("+") ? 145 : 129)", .ok)
        case .test: return .ok
        case .execute: return .error
        case .set:
            // An address: an optional `+` and 1-20 digits. Anything else (escaped line ends and quotes, letters)
            // would be printed back raw in `+CSCA?`, to every opener of a shared modem, and encoded into PDUs.
            guard case .quoted(let number) = c.parameter(0), Self.isServiceCentre(number) else {
                return .cms(.invalidParameter(cmgf: messaging.cmgf))
            }
            messaging.serviceCentre = number
            return .ok
        }
    }

    /// An SMS service centre address: an optional `+` and 1-20 digits (`AT+CSCA`, and what a settings report may
    /// carry).
    package static func isServiceCentre(_ number: String) -> Bool {
        let digits = number.utf8.first == UInt8(ascii: "+") ? number.utf8.dropFirst() : number.utf8[...]
        return (1...20).contains(digits.count) && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    func cscsCommand(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read: return info("+CSCS: \"\(messaging.cscs)\"", .ok)
        case .test: return info("+CSCS: (\"IRA\",\"GSM\",\"UCS2\")", .ok)
        case .execute: return .error
        case .set:
            guard let value = c.parameter(0).string?.uppercased(), ["IRA", "GSM", "UCS2"].contains(value) else {
                return .cme(.incorrectParameters)
            }
            messaging.cscs = value
            return .ok
        }
    }

    var storeUsage: String { "\(messaging.store.count),\(profile.smsCapacity)" }

    func cpms(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read:
            return info("+CPMS: \"SM\",\(storeUsage),\"SM\",\(storeUsage),\"SM\",\(storeUsage)", .ok)
        case .test: return info("+CPMS: (\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\")", .ok)
        case .execute: return .error
        case .set:
            guard !c.parameters.isEmpty, c.parameters.count <= 3 else { return .cms(.operationNotAllowed) }
            for parameter in c.parameters where !parameter.isOmitted {
                guard let name = parameter.string?.uppercased(), ModemSimulator.storages.contains(name) else {
                    return .cms(.operationNotAllowed)
                }
            }
            // One store serves every memory name.
            return info("+CPMS: " + Array(repeating: storeUsage, count: c.parameters.count).joined(separator: ","), .ok)
        }
    }

    func cnmiCommand(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read: return info("+CNMI: " + messaging.cnmi.map(String.init).joined(separator: ","), .ok)
        case .test: return info("+CNMI: (0-2),(0-3),(0,2),(0,1),(0,1)", .ok)
        case .execute: return .error
        case .set:
            let limits = [2, 3, 3, 2, 1]
            guard c.parameters.count <= 5 else { return .cms(.operationNotSupported) }
            var values = messaging.cnmi
            for (index, parameter) in c.parameters.enumerated() where !parameter.isOmitted {
                guard let value = parameter.int, value <= limits[index] else { return .cms(.operationNotSupported) }
                values[index] = value
            }
            messaging.cnmi = values
            return .ok
        }
    }

    func csmpCommand(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .read: return info("+CSMP: " + messaging.csmp.map(String.init).joined(separator: ","), .ok)
        case .test: return .ok
        case .execute: return .error
        case .set:
            guard c.parameters.count <= 4 else { return .cms(.invalidTextModeParameter) }
            var values = messaging.csmp
            for (index, parameter) in c.parameters.enumerated() where !parameter.isOmitted {
                guard let value = parameter.int, value <= 255 else { return .cms(.invalidTextModeParameter) }
                values[index] = value
            }
            guard (try? SMSAlphabet.from(dcs: UInt8(values[3]))) != nil else { return .cms(.invalidTextModeParameter) }
            messaging.csmp = values
            return .ok
        }
    }

    // MARK: Sending

    func cmgs(_ c: ATCommand) -> Outcome {
        guard c.form == .set else { return c.form == .test ? .ok : .error }
        if messaging.cmgf == 1 {
            guard case .quoted(let raw) = c.parameter(0), !raw.isEmpty else { return .cms(.invalidTextModeParameter) }
            let destination: String
            if messaging.cscs == "UCS2" {
                guard let bytes = UCS2.unhex(raw), let text = UCS2.decode(bytes) else {
                    return .cms(.invalidTextModeParameter)
                }
                destination = text
            } else {
                destination = raw
            }
            guard (try? SMSAddress(destination).encoded()) != nil else { return .cms(.invalidTextModeParameter) }
            let type = c.parameter(1)
            guard type.isOmitted || type.int.map({ (128...255).contains($0) }) == true else {
                return .cms(.invalidTextModeParameter)
            }
            messaging.pendingSubmit = .text(destination: destination)
        } else {
            guard let length = c.parameter(0).int, (7...164).contains(length), c.parameters.count == 1 else {
                return .cms(.invalidPDUModeParameter)
            }
            messaging.pendingSubmit = .pdu(length: length)
        }
        return .prompt
    }

    func finishSubmit(_ body: [UInt8]) {
        guard let pending = messaging.pendingSubmit else { return final(.error) }
        messaging.pendingSubmit = nil
        guard isRegistered else { return finalCMS(.noNetworkService) }
        switch pending {
        case .text(let destination):
            let raw = String(decoding: body.filter { $0 != 0x0A }, as: UTF8.self).replacingCR()
            var text = raw
            if messaging.cscs == "UCS2" {
                guard let bytes = UCS2.unhex(raw.filter { !$0.isWhitespace }), let decoded = UCS2.decode(bytes) else {
                    return finalCMS(.invalidTextModeParameter)
                }
                text = decoded
            }
            let alphabet: SMSAlphabet = (try? SMSAlphabet.from(dcs: UInt8(messaging.csmp[3]))) ?? .gsm7
            let submitAlphabet: SMSAlphabet = alphabet == .gsm7 && !GSM7.canEncode(text) ? .ucs2 : alphabet
            // Text longer than one SMS goes out as a concatenated message, one SMS-SUBMIT per part, as
            // modems with long-SMS support do; `+CMGS` reports the last part's reference.
            let parts: [SMSUserData]
            do {
                if let single = try? SMSUserData.make(text: text, alphabet: submitAlphabet),
                    single.payload.count <= (single.alphabet == .gsm7 ? 160 : 140)
                {
                    parts = [single]
                } else {
                    let concatReference = messaging.nextConcatReference
                    messaging.nextConcatReference &+= 1
                    parts = try SMSUserData.split(
                        text, reference: concatReference, forceUCS2: submitAlphabet == .ucs2)
                }
            } catch {
                return finalCMS(.invalidTextModeParameter)
            }
            var submitted: [SentSMS] = []
            var reference = 0
            for part in parts {
                reference = takeReference()
                let submit = SMSSubmit(
                    messageReference: UInt8(reference), destination: SMSAddress(destination), userData: part,
                    validity: .relative(UInt8(messaging.csmp[1])))
                guard let tpdu = try? submit.encoded() else { return finalCMS(.invalidTextModeParameter) }
                submitted.append(
                    SentSMS(
                        messageReference: reference, destination: destination, text: part.text,
                        alphabet: part.alphabet, mode: "text", pduHex: UCS2.hex(tpdu),
                        concatenation: part.concatenation))
            }
            for sms in submitted { record(sms) }
            info("+CMGS: \(reference)")
            final(.ok)
        case .pdu(let length):
            let hex = String(
                decoding: body.filter { !($0 == 0x0D || $0 == 0x0A || $0 == 0x20 || $0 == 0x09) }, as: UTF8.self)
            guard let bytes = UCS2.unhex(hex), let pdu = try? SMSPDU.decode(bytes, tpduLength: length),
                let submit = try? SMSSubmit.decode(pdu.tpdu)
            else { return finalCMS(.invalidPDUModeParameter) }
            let reference = takeReference()
            record(
                SentSMS(
                    messageReference: reference, destination: submit.destination.number, text: submit.userData.text,
                    alphabet: submit.userData.alphabet, mode: "pdu", pduHex: UCS2.hex(pdu.tpdu),
                    concatenation: submit.userData.concatenation))
            info("+CMGS: \(reference)")
            final(.ok)
        }
    }

    func takeReference() -> Int {
        defer { messaging.nextReference = (messaging.nextReference + 1) % 256 }
        return messaging.nextReference
    }

    func record(_ sms: SentSMS) {
        messaging.sent.append(sms)
        if messaging.sent.count > ModemSimulator.sentLogCapacity {
            messaging.sent.removeFirst(messaging.sent.count - ModemSimulator.sentLogCapacity)
        }
        events.append(.smsSent(sms))
    }

    // MARK: Reading

    func statusFilter(_ c: ATCommand) -> Int?? {
        if c.form == .execute || c.parameter(0).isOmitted { return .some(messaging.cmgf == 1 ? 0 : 0) }
        if messaging.cmgf == 1 {
            guard case .quoted(let name) = c.parameter(0),
                let index = ModemSimulator.textStatus.firstIndex(of: name.uppercased())
            else { return .none }
            return .some(index)
        }
        guard let value = c.parameter(0).int, value <= 4 else { return .none }
        return .some(value)
    }

    func headerLine(_ prefix: String, index: Int?, _ sms: StoredSMS) -> [String] {
        let lead = index.map { "\($0)," } ?? ""
        if messaging.cmgf == 0 {
            return ["\(prefix): \(lead)\(sms.status),,\(sms.tpdu.count)", UCS2.hex(smscPrefix() + sms.tpdu)]
        }
        let deliver = sms.deliver
        var head =
            "\(prefix): \(lead)\"\(ModemSimulator.textStatus[sms.status])\",\"\(displayed(deliver.originator.number))\",,"
            + "\"\(deliver.timestamp.text)\""
        if messaging.csdh == 1 {
            let body = displayedBody(deliver.userData)
            head += ",\(deliver.originator.isInternational ? 145 : 129),\(body.count)"
        }
        return [head, displayedBody(deliver.userData)]
    }

    func smscPrefix() -> [UInt8] { (try? SMSAddress(messaging.serviceCentre).encodedServiceCentre()) ?? [0] }

    /// Text in the TE character set (`+CSCS`).
    func displayed(_ text: String) -> String { messaging.cscs == "UCS2" ? UCS2.hex(UCS2.encode(text)) : text }

    func displayedBody(_ data: SMSUserData) -> String {
        guard let text = data.text else { return UCS2.hex(data.payload) }
        return displayed(text)
    }

    func cmgr(_ c: ATCommand) -> Outcome {
        guard c.form == .set else { return c.form == .test ? .ok : .error }
        // Any index that is not a slot, negative or too long to be a number included, is 321, as for +CMGD.
        guard let index = c.parameter(0).int, (1...profile.smsCapacity).contains(index) else {
            return .cms(.invalidMemoryIndex)
        }
        guard var sms = messaging.store[index] else {
            // 27.005: reading an empty slot answers OK with no data.
            return .ok
        }
        let lines = headerLine("+CMGR", index: nil, sms)
        if sms.status == 0 {
            sms.status = 1
            messaging.store[index] = sms
        }
        info(lines)
        return .ok
    }

    func cmgl(_ c: ATCommand) -> Outcome {
        if c.form == .test {
            return info(
                messaging.cmgf == 1
                    ? "+CMGL: (" + ModemSimulator.textStatus.map { "\"\($0)\"" }.joined(separator: ",") + ")"
                    : "+CMGL: (0-4)", .ok)
        }
        guard c.form == .set || c.form == .execute else { return .error }
        guard case .some(let filter) = statusFilter(c), let filter else {
            return .cms(.invalidParameter(cmgf: messaging.cmgf))
        }
        var lines: [String] = []
        for index in messaging.store.keys.sorted() {
            guard var sms = messaging.store[index], filter == 4 || sms.status == filter else { continue }
            lines += headerLine("+CMGL", index: index, sms)
            if sms.status == 0 {
                sms.status = 1
                messaging.store[index] = sms
            }
        }
        info(lines)
        return .ok
    }

    func cmgd(_ c: ATCommand) -> Outcome {
        guard c.form == .set else {
            return c.form == .test ? info("+CMGD: (1-\(profile.smsCapacity)),(0-4)", .ok) : .error
        }
        let flag = c.parameter(1).isOmitted ? 0 : c.parameter(1).int
        guard let flag, flag <= 4 else { return .cms(.invalidParameter(cmgf: messaging.cmgf)) }
        if flag == 0 {
            guard let index = c.parameter(0).int, (1...profile.smsCapacity).contains(index) else {
                return .cms(.invalidMemoryIndex)
            }
            messaging.store[index] = nil
            return .ok
        }
        let doomed: Set<Int> =
            switch flag {
            case 1: [1]
            case 2: [1, 3]
            case 3: [1, 2, 3]
            default: [0, 1, 2, 3]
            }
        for (index, sms) in messaging.store where doomed.contains(sms.status) { messaging.store[index] = nil }
        return .ok
    }

    func cnma(_ c: ATCommand) -> Outcome {
        guard c.form == .execute || c.form == .set else { return c.form == .test ? .ok : .error }
        guard messaging.csms == 1, messaging.ackPending else { return .cms(.noCNMAAcknowledgementExpected) }
        messaging.ackPending = false
        return .ok
    }

    // MARK: - Network side

    /// The messages in the SIM store, by index.
    package var storedMessages: [(index: Int, sms: StoredSMS)] {
        messaging.store.keys.sorted().map { ($0, messaging.store[$0]!) }
    }

    /// Delivers `text` from `originator`, split into concatenated parts when it does not fit one SMS.
    /// Returns the store indexes used (nil entries for direct `+CMT` delivery).
    @discardableResult
    package func deliverSMS(from originator: String, text: String, timestamp: SMSTimestamp) throws(ModemNetworkError)
        -> [Int?]
    {
        let reference = messaging.nextConcatReference
        messaging.nextConcatReference &+= 1
        let parts: [SMSUserData]
        do {
            parts = try SMSUserData.split(text, reference: reference)
        } catch {
            throw ModemNetworkError(
                .invalid, error.description, parameter: .init("text", expected: "a text of at most 255 parts"))
        }
        var tpdus: [[UInt8]] = []
        for part in parts {
            do {
                tpdus.append(
                    try SMSDeliver(originator: SMSAddress(originator), timestamp: timestamp, userData: part).encoded())
            } catch {
                throw ModemNetworkError(
                    .invalid, error.description, parameter: .init("from", expected: "an SMS originator address"))
            }
        }
        return try deliverSMS(tpdus: tpdus)
    }

    /// Delivers raw SMS-DELIVER TPDUs (each one SMS; several for a multi-part message).
    @discardableResult
    package func deliverSMS(tpdus: [[UInt8]]) throws(ModemNetworkError) -> [Int?] {
        guard isRegistered else { throw ModemNetworkError(.unavailable, "the modem is not registered") }
        var decoded: [SMSDeliver] = []
        for tpdu in tpdus {
            do {
                decoded.append(try SMSDeliver.decode(tpdu))
            } catch {
                throw ModemNetworkError(
                    .invalid, "not an SMS-DELIVER TPDU: \(error.description)",
                    parameter: .init("pdus", expected: "hex SMS-DELIVER TPDUs"))
            }
        }
        let direct = messaging.cnmi[1] == 2 || messaging.cnmi[1] == 3
        if !direct {
            let free = profile.smsCapacity - messaging.store.count
            guard free >= tpdus.count else {
                throw ModemNetworkError(.storageFull, "the SIM store has \(free) free slots, \(tpdus.count) needed")
            }
        }
        var indexes: [Int?] = []
        for (tpdu, deliver) in zip(tpdus, decoded) {
            if direct {
                indexes.append(nil)
                events.append(.smsReceived(index: nil, from: deliver.originator.number, text: deliver.userData.text))
                guard messaging.cnmi[0] != 0 else { continue }
                if messaging.cmgf == 0 {
                    unsolicited(["+CMT: ,\(tpdu.count)", UCS2.hex(smscPrefix() + tpdu)])
                } else {
                    unsolicited([
                        "+CMT: \"\(displayed(deliver.originator.number))\",,\"\(deliver.timestamp.text)\"",
                        displayedBody(deliver.userData),
                    ])
                }
                if messaging.csms == 1 { messaging.ackPending = true }
            } else {
                let index = (1...profile.smsCapacity).first { messaging.store[$0] == nil }!
                messaging.store[index] = StoredSMS(status: 0, tpdu: tpdu, deliver: deliver)
                indexes.append(index)
                events.append(.smsReceived(index: index, from: deliver.originator.number, text: deliver.userData.text))
                if messaging.cnmi[0] != 0, messaging.cnmi[1] == 1 { unsolicited(["+CMTI: \"SM\",\(index)"]) }
            }
        }
        return indexes
    }
}

extension String {
    /// A CR typed inside an SMS body is a line break in the message.
    func replacingCR() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\r" ? "\n" : $0 }))
    }
}
