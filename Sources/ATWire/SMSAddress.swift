/// Why a PDU could not be decoded or built.
package struct SMSPDUError: Error, Equatable, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// A bounds-checked cursor over PDU octets.
struct PDUCursor {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: some Collection<UInt8>) { self.bytes = Array(bytes) }

    var remaining: Int { bytes.count - offset }

    mutating func byte(_ field: String) throws(SMSPDUError) -> UInt8 {
        guard offset < bytes.count else { throw SMSPDUError("PDU ends before \(field)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func take(_ count: Int, _ field: String) throws(SMSPDUError) -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw SMSPDUError("\(field) needs \(count) octets, \(remaining) left")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}

/// An SMS address (TS 23.040 §9.1.2.5): a phone number in semi-octets or an alphanumeric sender.
package struct SMSAddress: Sendable, Equatable {
    /// Digits with a leading `+` for international numbers, or the alphanumeric text.
    package var number: String
    /// Type-of-address octet: 0x91 international, 0x81 unknown/national, 0xD0 alphanumeric.
    package var typeOfAddress: UInt8

    package init(number: String, typeOfAddress: UInt8) {
        self.number = number
        self.typeOfAddress = typeOfAddress
    }

    /// `+digits` → international, digits → unknown, anything else → alphanumeric (GSM 7-bit).
    package init(_ text: String) {
        let digits = text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        if !digits.isEmpty, digits.allSatisfy({ "0123456789*#abc".contains($0) }) {
            self.init(number: text, typeOfAddress: text.hasPrefix("+") ? 0x91 : 0x81)
        } else {
            self.init(number: text, typeOfAddress: 0xD0)
        }
    }

    /// The type as `+CMGS`/`+CLIP` print it: 145 international, 129 otherwise.
    package var isInternational: Bool { typeOfAddress & 0x70 == 0x10 }
    var isAlphanumeric: Bool { typeOfAddress & 0x70 == 0x50 }

    static let semiOctetDigits = Array("0123456789*#abc".utf8)

    private var bareDigits: [UInt8] {
        Array((number.hasPrefix("+") ? String(number.dropFirst()) : number).utf8)
    }

    private func semiOctets() throws(SMSPDUError) -> (count: Int, octets: [UInt8]) {
        if isAlphanumeric {
            guard let septets = GSM7.septets(number), septets.count <= 11 else {
                throw SMSPDUError("alphanumeric address '\(number)' is not 1-11 GSM characters")
            }
            // TS 23.040 §9.1.2.5: the length counts the useful semi-octets of the packed septets,
            // ceil(7n / 4) — not twice the octets, which for 7 characters (49 bits: 13 semi-octets
            // in 7 octets) would claim 14 and make the decoder read an eighth, phantom '@'.
            return ((septets.count * 7 + 3) / 4, GSM7.pack(septets))
        }
        let digits = bareDigits
        guard digits.count <= 20 else { throw SMSPDUError("address has \(digits.count) digits, more than 20") }
        var nibbles: [UInt8] = []
        for digit in digits {
            guard let value = SMSAddress.semiOctetDigits.firstIndex(of: digit) else {
                throw SMSPDUError("address '\(number)' has a character that is not a digit")
            }
            nibbles.append(UInt8(value))
        }
        var octets: [UInt8] = []
        var index = 0
        while index < nibbles.count {
            let low = nibbles[index]
            let high = index + 1 < nibbles.count ? nibbles[index + 1] : 0x0F
            octets.append(high << 4 | low)
            index += 2
        }
        return (nibbles.count, octets)
    }

    /// TP address field: length in semi-octets, type, value.
    package func encoded() throws(SMSPDUError) -> [UInt8] {
        let (count, octets) = try semiOctets()
        return [UInt8(count), typeOfAddress] + octets
    }

    /// RP (service centre) address field: length in octets including the type; `[0]` for "use the default".
    package func encodedServiceCentre() throws(SMSPDUError) -> [UInt8] {
        let (_, octets) = try semiOctets()
        return [UInt8(octets.count + 1), typeOfAddress] + octets
    }

    static func decode(_ cursor: inout PDUCursor) throws(SMSPDUError) -> SMSAddress {
        let length = Int(try cursor.byte("address length"))
        guard length <= 20 else { throw SMSPDUError("address length \(length) exceeds 20 semi-octets") }
        let type = try cursor.byte("type of address")
        let octets = try cursor.take((length + 1) / 2, "address")
        return try decodeValue(octets, digits: length, type: type)
    }

    static func decodeServiceCentre(_ cursor: inout PDUCursor) throws(SMSPDUError) -> SMSAddress? {
        let length = Int(try cursor.byte("SMSC length"))
        if length == 0 { return nil }
        guard length <= 11 else { throw SMSPDUError("SMSC length \(length) exceeds 11 octets") }
        let type = try cursor.byte("SMSC type of address")
        // An RP address is BCD digits (TS 24.011 §8.2.5.1); an alphanumeric one could not be re-encoded.
        guard type & 0x70 != 0x50 else { throw SMSPDUError("the SMSC address cannot be alphanumeric") }
        let octets = try cursor.take(length - 1, "SMSC address")
        var digits = octets.count * 2
        if let last = octets.last, last >> 4 == 0x0F { digits -= 1 }
        return try decodeValue(octets, digits: digits, type: type)
    }

    private static func decodeValue(_ octets: [UInt8], digits: Int, type: UInt8) throws(SMSPDUError) -> SMSAddress {
        if type & 0x70 == 0x50 {
            // `digits` semi-octets hold floor(4·digits / 7) whole septets (§9.1.2.5).
            let septets = GSM7.unpack(octets, count: digits * 4 / 7) ?? []
            return SMSAddress(number: GSM7.text(septets), typeOfAddress: type)
        }
        var text = type & 0x70 == 0x10 ? "+" : ""
        for index in 0..<digits {
            let octet = octets[index / 2]
            let nibble = index % 2 == 0 ? octet & 0x0F : octet >> 4
            guard nibble < 0x0F else { throw SMSPDUError("address has filler 0xF inside its digits") }
            text.append(Character(Unicode.Scalar(semiOctetDigits[Int(nibble)])))
        }
        return SMSAddress(number: text, typeOfAddress: type)
    }
}

/// TP-SCTS: a service-centre timestamp with its time-zone offset in quarter hours.
public struct SMSTimestamp: Sendable, Equatable {
    package var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
    /// Offset from UTC in quarters of an hour (−79…79).
    package var zoneQuarters: Int
    /// The TS 23.040 §9.2.3.11 sign bit, kept on its own so a "−0" zone (sign set, zero quarters, as
    /// some service centres send) prints as `-00` and re-encodes byte for byte.
    package var zoneNegative: Bool

    package init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, zoneQuarters: Int = 0) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (
            year, month, day, hour, minute, second
        )
        self.zoneQuarters = zoneQuarters
        zoneNegative = zoneQuarters < 0
    }

    private static func swapped(_ value: Int) -> UInt8 { UInt8((value % 10) << 4 | (value / 10 % 10)) }
    private static func unswapped(_ octet: UInt8) -> Int { Int(octet & 0x0F) * 10 + Int(octet >> 4 & 0x0F) }

    func encoded() -> [UInt8] {
        var zone = SMSTimestamp.swapped(abs(zoneQuarters))
        if zoneQuarters < 0 || zoneNegative { zone |= 0x08 }
        return [year % 100, month, day, hour, minute, second].map(SMSTimestamp.swapped) + [zone]
    }

    /// TS 23.040 §9.2.3.11: every semi-octet is a decimal digit (the zone's sign bit aside); anything
    /// else would decode to values that cannot be encoded again, so it is refused.
    static func decode(_ octets: [UInt8]) throws(SMSPDUError) -> SMSTimestamp {
        for (index, octet) in octets.prefix(7).enumerated() {
            let octet = index == 6 ? octet & 0xF7 : octet
            guard octet & 0x0F <= 9, octet >> 4 <= 9 else {
                throw SMSPDUError("TP-SCTS octet \(index + 1) is not two decimal semi-octets")
            }
        }
        let zoneOctet = octets[6]
        let quarters = unswapped(zoneOctet & 0xF7)
        var timestamp = SMSTimestamp(
            year: 2000 + unswapped(octets[0]), month: unswapped(octets[1]), day: unswapped(octets[2]),
            hour: unswapped(octets[3]), minute: unswapped(octets[4]), second: unswapped(octets[5]),
            zoneQuarters: zoneOctet & 0x08 != 0 ? -quarters : quarters)
        timestamp.zoneNegative = zoneOctet & 0x08 != 0
        return timestamp
    }

    /// `yy/MM/dd,hh:mm:ss±zz` as text-mode SMS commands print it.
    package var text: String {
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let sign = zoneQuarters < 0 || zoneNegative ? "-" : "+"
        return "\(two(year % 100))/\(two(month))/\(two(day)),\(two(hour)):\(two(minute)):\(two(second))"
            + "\(sign)\(two(abs(zoneQuarters)))"
    }
}
