/// The alphabet a message's user data is in (from TP-DCS, TS 23.038 §4).
public enum SMSAlphabet: String, Sendable, Equatable {
    case gsm7, eightBit = "8bit", ucs2

    /// The alphabet a data-coding-scheme octet selects; compressed or reserved groups are refused.
    package static func from(dcs: UInt8) throws(SMSPDUError) -> SMSAlphabet {
        switch dcs >> 4 {
        case 0x0...0x7:
            guard dcs & 0x20 == 0 else { throw SMSPDUError("compressed user data (DCS \(dcs)) is not supported") }
            switch dcs >> 2 & 0x03 {
            case 0: return .gsm7
            case 1: return .eightBit
            case 2: return .ucs2
            default: throw SMSPDUError("DCS \(dcs) selects a reserved alphabet")
            }
        case 0xC, 0xD: return .gsm7
        case 0xE: return .ucs2
        case 0xF: return dcs & 0x04 == 0 ? .gsm7 : .eightBit
        default: throw SMSPDUError("DCS \(dcs) is in a reserved coding group")
        }
    }

    /// The plain DCS for this alphabet (no class, no compression).
    package var dcs: UInt8 {
        switch self {
        case .gsm7: 0x00
        case .eightBit: 0x04
        case .ucs2: 0x08
        }
    }
}

/// A concatenated-message information element (IEI 0x00 with an 8-bit reference, 0x08 with 16-bit).
public struct SMSConcatenation: Sendable, Equatable {
    package var reference: UInt16
    package var total: Int
    package var sequence: Int
    package var sixteenBitReference: Bool

    package init(reference: UInt16, total: Int, sequence: Int, sixteenBitReference: Bool = false) {
        self.reference = reference
        self.total = total
        self.sequence = sequence
        self.sixteenBitReference = sixteenBitReference
    }

    var element: [UInt8] {
        sixteenBitReference
            ? [0x08, 4, UInt8(reference >> 8), UInt8(reference & 0xFF), UInt8(total), UInt8(sequence)]
            : [0x00, 3, UInt8(reference & 0xFF), UInt8(total), UInt8(sequence)]
    }
}

/// TP-UD with its header, decoded.
package struct SMSUserData: Sendable, Equatable {
    package var alphabet: SMSAlphabet
    /// The user-data header's information elements (without the UDHL octet), if TP-UDHI was set.
    package var header: [UInt8]?
    /// The text for 7-bit and UCS2; nil for 8-bit data.
    package var text: String?
    /// The payload after the header: septets (7-bit) or octets (8-bit, UCS2).
    package var payload: [UInt8]

    package init(alphabet: SMSAlphabet, header: [UInt8]? = nil, text: String?, payload: [UInt8]) {
        self.alphabet = alphabet
        self.header = header
        self.text = text
        self.payload = payload
    }

    /// User data for `text` in the given alphabet, with an optional concatenation header.
    package static func make(
        text: String, alphabet: SMSAlphabet, concatenation: SMSConcatenation? = nil
    ) throws(SMSPDUError) -> SMSUserData {
        let header = concatenation.map(\.element)
        switch alphabet {
        case .gsm7:
            guard let septets = GSM7.septets(text) else {
                throw SMSPDUError("text has characters outside the GSM 7-bit alphabet")
            }
            return SMSUserData(alphabet: .gsm7, header: header, text: text, payload: septets)
        case .ucs2:
            return SMSUserData(alphabet: .ucs2, header: header, text: text, payload: UCS2.encode(text))
        case .eightBit:
            return SMSUserData(alphabet: .eightBit, header: header, text: nil, payload: Array(text.utf8))
        }
    }

    /// The concatenation element of the header, if any.
    package var concatenation: SMSConcatenation? {
        guard let header else { return nil }
        var index = 0
        while index + 2 <= header.count {
            let iei = header[index]
            let length = Int(header[index + 1])
            let start = index + 2
            guard start + length <= header.count else { return nil }
            if iei == 0x00, length == 3 {
                return SMSConcatenation(
                    reference: UInt16(header[start]), total: Int(header[start + 1]), sequence: Int(header[start + 2]))
            }
            if iei == 0x08, length == 4 {
                return SMSConcatenation(
                    reference: UInt16(header[start]) << 8 | UInt16(header[start + 1]), total: Int(header[start + 2]),
                    sequence: Int(header[start + 3]), sixteenBitReference: true)
            }
            index = start + length
        }
        return nil
    }

    /// TP-UDL and TP-UD octets; refuses more than 140 octets.
    func encoded() throws(SMSPDUError) -> (length: UInt8, octets: [UInt8]) {
        let headerOctets = header.map { [UInt8($0.count)] + $0 } ?? []
        switch alphabet {
        case .gsm7:
            let fill = headerOctets.isEmpty ? 0 : (7 - (headerOctets.count * 8) % 7) % 7
            let headerSeptets = (headerOctets.count * 8 + fill) / 7
            let packed = GSM7.pack(payload, fillBits: fill)
            let octets = headerOctets + packed
            let septets = headerSeptets + payload.count
            guard septets <= 160, octets.count <= 140 else {
                throw SMSPDUError("user data is \(septets) septets, more than 160")
            }
            return (UInt8(septets), octets)
        case .eightBit, .ucs2:
            let octets = headerOctets + payload
            guard octets.count <= 140 else { throw SMSPDUError("user data is \(octets.count) octets, more than 140") }
            return (UInt8(octets.count), octets)
        }
    }

    static func decode(
        length: UInt8, cursor: inout PDUCursor, dcs: UInt8, hasHeader: Bool
    ) throws(SMSPDUError) -> SMSUserData {
        let alphabet = try SMSAlphabet.from(dcs: dcs)
        let udl = Int(length)
        let octetCount = alphabet == .gsm7 ? (udl * 7 + 7) / 8 : udl
        guard octetCount <= 140 else { throw SMSPDUError("TP-UDL \(udl) exceeds the 140-octet user data") }
        guard octetCount == cursor.remaining else {
            throw SMSPDUError("TP-UDL \(udl) needs \(octetCount) octets, the PDU has \(cursor.remaining)")
        }
        let octets = try cursor.take(octetCount, "user data")
        var header: [UInt8]?
        var headerOctets = 0
        if hasHeader {
            guard let udhl = octets.first, Int(udhl) + 1 <= octets.count else {
                throw SMSPDUError("user-data header length exceeds the user data")
            }
            header = Array(octets[1..<1 + Int(udhl)])
            headerOctets = 1 + Int(udhl)
        }
        switch alphabet {
        case .gsm7:
            let fill = headerOctets == 0 ? 0 : (7 - (headerOctets * 8) % 7) % 7
            let headerSeptets = (headerOctets * 8 + fill) / 7
            guard udl >= headerSeptets else { throw SMSPDUError("TP-UDL \(udl) is shorter than the header") }
            guard let septets = GSM7.unpack(octets, count: udl - headerSeptets, fillBits: headerOctets * 8 + fill)
            else { throw SMSPDUError("7-bit user data is truncated") }
            return SMSUserData(alphabet: .gsm7, header: header, text: GSM7.text(septets), payload: septets)
        case .ucs2:
            let body = Array(octets[headerOctets...])
            guard let text = UCS2.decode(body) else { throw SMSPDUError("UCS2 user data has an odd octet count") }
            return SMSUserData(alphabet: .ucs2, header: header, text: text, payload: body)
        case .eightBit:
            return SMSUserData(alphabet: .eightBit, header: header, text: nil, payload: Array(octets[headerOctets...]))
        }
    }

    /// Splits `text` into the user data of one or more parts: GSM 7-bit when every character has a GSM
    /// form, UCS2 otherwise; 160/70 per single part, 153/67 per part with a concatenation header.
    /// `forceUCS2` skips GSM 7-bit even when every character has a GSM form.
    package static func split(_ text: String, reference: UInt16, forceUCS2: Bool = false) throws(SMSPDUError)
        -> [SMSUserData]
    {
        if !forceUCS2, let septets = GSM7.septets(text) {
            if septets.count <= 160 { return [SMSUserData(alphabet: .gsm7, text: text, payload: septets)] }
            var chunks: [[UInt8]] = []
            var current: [UInt8] = []
            var index = 0
            while index < septets.count {
                // An escape and its code stay in the same part.
                let width = septets[index] == GSM7.escape && index + 1 < septets.count ? 2 : 1
                if current.count + width > 153 {
                    chunks.append(current)
                    current = []
                }
                current += septets[index..<index + width]
                index += width
            }
            if !current.isEmpty { chunks.append(current) }
            return try parts(chunks, alphabet: .gsm7, reference: reference) { GSM7.text($0) }
        }
        let units = Array(text.utf16)
        if units.count <= 70 { return [SMSUserData(alphabet: .ucs2, text: text, payload: UCS2.encode(text))] }
        var chunks: [[UInt8]] = []
        var start = 0
        while start < units.count {
            var end = min(start + 67, units.count)
            // Never split a surrogate pair.
            if end < units.count, UTF16.isLeadSurrogate(units[end - 1]) { end -= 1 }
            chunks.append(UCS2.encode(String(decoding: units[start..<end], as: UTF16.self)))
            start = end
        }
        return try parts(chunks, alphabet: .ucs2, reference: reference) { UCS2.decode($0) ?? "" }
    }

    private static func parts(
        _ chunks: [[UInt8]], alphabet: SMSAlphabet, reference: UInt16, text: ([UInt8]) -> String
    ) throws(SMSPDUError) -> [SMSUserData] {
        guard chunks.count <= 255 else { throw SMSPDUError("text needs \(chunks.count) parts, more than 255") }
        return chunks.enumerated().map { index, chunk in
            let concat = SMSConcatenation(reference: reference & 0xFF, total: chunks.count, sequence: index + 1)
            return SMSUserData(alphabet: alphabet, header: concat.element, text: text(chunk), payload: chunk)
        }
    }
}
