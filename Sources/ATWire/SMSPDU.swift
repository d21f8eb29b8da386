/// TP-VP of an SMS-SUBMIT (TS 23.040 §9.2.3.12).
package enum SMSValidity: Sendable, Equatable {
    case none
    /// One octet, relative format.
    case relative(UInt8)
    /// Seven octets: absolute timestamp or enhanced format, kept raw.
    case absolute([UInt8])
    case enhanced([UInt8])
}

/// An SMS-DELIVER TPDU (network → handset), TS 23.040 §9.2.2.1.
public struct SMSDeliver: Sendable, Equatable {
    package var originator: SMSAddress
    package var protocolIdentifier: UInt8
    package var dataCodingScheme: UInt8
    package var timestamp: SMSTimestamp
    package var userData: SMSUserData
    /// TP-MMS inverted: whether the service centre has more messages waiting.
    package var moreMessagesToSend: Bool
    package var replyPath: Bool
    package var statusReportIndication: Bool

    package init(
        originator: SMSAddress, timestamp: SMSTimestamp, userData: SMSUserData, protocolIdentifier: UInt8 = 0,
        dataCodingScheme: UInt8? = nil, moreMessagesToSend: Bool = false
    ) {
        self.originator = originator
        self.timestamp = timestamp
        self.userData = userData
        self.protocolIdentifier = protocolIdentifier
        self.dataCodingScheme = dataCodingScheme ?? userData.alphabet.dcs
        self.moreMessagesToSend = moreMessagesToSend
        replyPath = false
        statusReportIndication = false
    }

    package func encoded() throws(SMSPDUError) -> [UInt8] {
        var first: UInt8 = 0x00
        if !moreMessagesToSend { first |= 0x04 }
        if statusReportIndication { first |= 0x20 }
        if userData.header != nil { first |= 0x40 }
        if replyPath { first |= 0x80 }
        let (udl, ud) = try userData.encoded()
        return [first] + (try originator.encoded()) + [protocolIdentifier, dataCodingScheme] + timestamp.encoded()
            + [udl] + ud
    }

    package static func decode(_ tpdu: some Collection<UInt8>) throws(SMSPDUError) -> SMSDeliver {
        var cursor = PDUCursor(tpdu)
        let first = try cursor.byte("first octet")
        guard first & 0x03 == 0x00 else { throw SMSPDUError("TP-MTI \(first & 0x03) is not SMS-DELIVER") }
        let originator = try SMSAddress.decode(&cursor)
        let pid = try cursor.byte("TP-PID")
        let dcs = try cursor.byte("TP-DCS")
        let timestamp = try SMSTimestamp.decode(try cursor.take(7, "TP-SCTS"))
        let udl = try cursor.byte("TP-UDL")
        let userData = try SMSUserData.decode(length: udl, cursor: &cursor, dcs: dcs, hasHeader: first & 0x40 != 0)
        var deliver = SMSDeliver(
            originator: originator, timestamp: timestamp, userData: userData, protocolIdentifier: pid,
            dataCodingScheme: dcs, moreMessagesToSend: first & 0x04 == 0)
        deliver.statusReportIndication = first & 0x20 != 0
        deliver.replyPath = first & 0x80 != 0
        return deliver
    }
}

/// An SMS-SUBMIT TPDU (handset → network), TS 23.040 §9.2.2.2.
package struct SMSSubmit: Sendable, Equatable {
    package var messageReference: UInt8
    package var destination: SMSAddress
    package var protocolIdentifier: UInt8
    package var dataCodingScheme: UInt8
    package var validity: SMSValidity
    package var userData: SMSUserData
    package var rejectDuplicates: Bool
    package var statusReportRequest: Bool
    package var replyPath: Bool

    package init(
        messageReference: UInt8, destination: SMSAddress, userData: SMSUserData, validity: SMSValidity = .none,
        protocolIdentifier: UInt8 = 0, dataCodingScheme: UInt8? = nil
    ) {
        self.messageReference = messageReference
        self.destination = destination
        self.userData = userData
        self.validity = validity
        self.protocolIdentifier = protocolIdentifier
        self.dataCodingScheme = dataCodingScheme ?? userData.alphabet.dcs
        rejectDuplicates = false
        statusReportRequest = false
        replyPath = false
    }

    package func encoded() throws(SMSPDUError) -> [UInt8] {
        var first: UInt8 = 0x01
        if rejectDuplicates { first |= 0x04 }
        var vp: [UInt8] = []
        switch validity {
        case .none: break
        case .relative(let value):
            first |= 0x10
            vp = [value]
        case .enhanced(let raw):
            first |= 0x08
            vp = raw
        case .absolute(let raw):
            first |= 0x18
            vp = raw
        }
        if statusReportRequest { first |= 0x20 }
        if userData.header != nil { first |= 0x40 }
        if replyPath { first |= 0x80 }
        let (udl, ud) = try userData.encoded()
        return [first, messageReference] + (try destination.encoded()) + [protocolIdentifier, dataCodingScheme] + vp
            + [udl] + ud
    }

    package static func decode(_ tpdu: some Collection<UInt8>) throws(SMSPDUError) -> SMSSubmit {
        var cursor = PDUCursor(tpdu)
        let first = try cursor.byte("first octet")
        guard first & 0x03 == 0x01 else { throw SMSPDUError("TP-MTI \(first & 0x03) is not SMS-SUBMIT") }
        let reference = try cursor.byte("TP-MR")
        let destination = try SMSAddress.decode(&cursor)
        let pid = try cursor.byte("TP-PID")
        let dcs = try cursor.byte("TP-DCS")
        let validity: SMSValidity
        switch first >> 3 & 0x03 {
        case 0: validity = .none
        case 2: validity = .relative(try cursor.byte("TP-VP"))
        case 1: validity = .enhanced(try cursor.take(7, "TP-VP"))
        default: validity = .absolute(try cursor.take(7, "TP-VP"))
        }
        let udl = try cursor.byte("TP-UDL")
        let userData = try SMSUserData.decode(length: udl, cursor: &cursor, dcs: dcs, hasHeader: first & 0x40 != 0)
        var submit = SMSSubmit(
            messageReference: reference, destination: destination, userData: userData, validity: validity,
            protocolIdentifier: pid, dataCodingScheme: dcs)
        submit.rejectDuplicates = first & 0x04 != 0
        submit.statusReportRequest = first & 0x20 != 0
        submit.replyPath = first & 0x80 != 0
        return submit
    }
}

/// A PDU as AT commands carry it: the service-centre address, then the TPDU.
package struct SMSPDU: Sendable, Equatable {
    /// nil when the PDU says "use the default service centre" (length octet 0).
    package var serviceCentre: SMSAddress?
    package var tpdu: [UInt8]

    package init(serviceCentre: SMSAddress?, tpdu: [UInt8]) {
        self.serviceCentre = serviceCentre
        self.tpdu = tpdu
    }

    /// Splits the SMSC prefix off a PDU; `tpduLength` (the `+CMGS=<length>` value) must match what follows.
    package static func decode(_ bytes: [UInt8], tpduLength: Int? = nil) throws(SMSPDUError) -> SMSPDU {
        var cursor = PDUCursor(bytes)
        let centre = try SMSAddress.decodeServiceCentre(&cursor)
        let tpdu = try cursor.take(cursor.remaining, "TPDU")
        if let tpduLength, tpduLength != tpdu.count {
            throw SMSPDUError("length \(tpduLength) given, but the TPDU after the SMSC address is \(tpdu.count) octets")
        }
        return SMSPDU(serviceCentre: centre, tpdu: tpdu)
    }

    package func encoded() throws(SMSPDUError) -> [UInt8] {
        (try serviceCentre?.encodedServiceCentre() ?? [0]) + tpdu
    }
}
