/// Whether 32 bytes are the encoding of a point on RFC 8032's Edwards curve, −x² + y² = 1 + d·x²·y² over
/// p = 2^255 − 19: the point decoding of RFC 8032 §5.1.3 without computing x, which only needs whether
/// x² = (y² − 1)/(d·y² + 1) has a root (`Protocols/management.md` §5, Keys). An authority key that is no
/// point can verify no signature, so rotating to one would lock the authority out.
///
/// Arithmetic modulo p in four 64-bit limbs, little-endian, always fully reduced (below p). Public keys only:
/// nothing here is secret, so nothing is constant time.
enum Ed25519PointCheck {
    enum Outcome: Equatable {
        /// A point (the small-order ones included: those are `publicKeyProblem`'s own check).
        case point
        /// y ≥ p.
        case nonCanonical
        /// (y² − 1)/(d·y² + 1) is not a square modulo p: no x.
        case notOnCurve
        /// x = 0 (y = ±1) with the sign bit set: a second spelling of a point.
        case zeroXWithSign
    }

    /// `bytes`: the 32 bytes of the encoding, byte 0 first.
    static func check(_ bytes: [UInt8]) -> Outcome {
        precondition(bytes.count == 32)
        var limbs: [UInt64] = [0, 0, 0, 0]
        for index in 0..<32 { limbs[index / 8] |= UInt64(bytes[index]) << UInt64(8 * (index % 8)) }
        let sign = limbs[3] >> 63
        limbs[3] &= 0x7fff_ffff_ffff_ffff
        let y = FieldElement(limbs)
        guard y.isBelowP else { return .nonCanonical }
        let ySquared = y * y
        let u = ySquared - .one
        // d·y² + 1 is never 0: that would make −1/d a square, and d is not one while −1 is.
        let v = FieldElement.d * ySquared + .one
        if u.isZero { return sign == 1 ? .zeroXWithSign : .point }
        // u/v is a square exactly when u·v is (v⁻¹ = v·(v⁻¹)²): Euler's criterion, (u·v)^((p − 1)/2) = 1.
        return (u * v).power(FieldElement.halfPMinusOne) == .one ? .point : .notOnCurve
    }
}

/// An integer modulo p = 2^255 − 19 in four 64-bit limbs, little-endian, below p.
struct FieldElement: Equatable {
    var limbs: [UInt64]

    init(_ limbs: [UInt64]) { self.limbs = limbs }

    static let one = FieldElement([1, 0, 0, 0])
    static let p = FieldElement([0xffff_ffff_ffff_ffed, .max, .max, 0x7fff_ffff_ffff_ffff])
    /// (p − 1)/2 = 2^254 − 10, the exponent of Euler's criterion.
    static let halfPMinusOne = FieldElement([0xffff_ffff_ffff_fff6, .max, .max, 0x3fff_ffff_ffff_ffff])
    /// d = −121665/121666 mod p (RFC 8032 §5.1).
    static let d = FieldElement([
        0x75eb_4dca_1359_78a3, 0x0070_0a4d_4141_d8ab, 0x8cc7_4079_7779_e898, 0x5203_6cee_2b6f_fe73,
    ])

    var isZero: Bool { limbs == [0, 0, 0, 0] }

    /// Whether the limbs, as an integer, are below p (a canonical encoding).
    var isBelowP: Bool { Self.subtract(limbs, Self.p.limbs).borrow }

    /// `a − b` over 256 bits and whether it borrowed (a < b).
    static func subtract(_ a: [UInt64], _ b: [UInt64]) -> (difference: [UInt64], borrow: Bool) {
        var result: [UInt64] = [0, 0, 0, 0]
        var borrow: UInt64 = 0
        for index in 0..<4 {
            let (first, overflowA) = a[index].subtractingReportingOverflow(b[index])
            let (second, overflowB) = first.subtractingReportingOverflow(borrow)
            result[index] = second
            borrow = (overflowA || overflowB) ? 1 : 0
        }
        return (result, borrow == 1)
    }

    /// `a + b` over 256 bits and the carry out.
    static func add(_ a: [UInt64], _ b: [UInt64]) -> (sum: [UInt64], carry: UInt64) {
        var result: [UInt64] = [0, 0, 0, 0]
        var carry: UInt64 = 0
        for index in 0..<4 {
            let (first, overflowA) = a[index].addingReportingOverflow(b[index])
            let (second, overflowB) = first.addingReportingOverflow(carry)
            result[index] = second
            carry = (overflowA || overflowB) ? 1 : 0
        }
        return (result, carry)
    }

    /// Any 256-bit value reduced below p: 2^256 < 3p, so at most two subtractions.
    static func reduced(_ limbs: [UInt64]) -> FieldElement {
        var value = limbs
        while true {
            let (difference, borrow) = subtract(value, p.limbs)
            if borrow { return FieldElement(value) }
            value = difference
        }
    }

    static func + (a: FieldElement, b: FieldElement) -> FieldElement {
        // Both below p < 2^255: the sum fits in 256 bits.
        reduced(add(a.limbs, b.limbs).sum)
    }

    static func - (a: FieldElement, b: FieldElement) -> FieldElement {
        let (difference, borrow) = subtract(a.limbs, b.limbs)
        // a − b + 2^256 when it borrowed; adding p modulo 2^256 leaves a − b + p, which is below p.
        return borrow ? FieldElement(add(difference, p.limbs).sum) : FieldElement(difference)
    }

    static func * (a: FieldElement, b: FieldElement) -> FieldElement {
        // The 512-bit product, schoolbook. Each step's total, t + a·b + carry, is at most 2^128 − 1, so the
        // carry fits in 64 bits.
        var wide = [UInt64](repeating: 0, count: 8)
        for i in 0..<4 {
            var carry: UInt64 = 0
            for j in 0..<4 {
                let (high, low) = a.limbs[i].multipliedFullWidth(by: b.limbs[j])
                let (first, overflowA) = wide[i + j].addingReportingOverflow(low)
                let (second, overflowB) = first.addingReportingOverflow(carry)
                wide[i + j] = second
                carry = high &+ (overflowA ? 1 : 0) &+ (overflowB ? 1 : 0)
            }
            wide[i + 4] = carry
        }
        return fold(wide)
    }

    /// A 512-bit value modulo p: 2^256 ≡ 38, so high·2^256 + low ≡ low + 38·high, folded until it fits in
    /// 256 bits.
    static func fold(_ wide: [UInt64]) -> FieldElement {
        var timesHigh: [UInt64] = [0, 0, 0, 0]
        var carry: UInt64 = 0
        for index in 0..<4 {
            let (high, low) = wide[4 + index].multipliedFullWidth(by: 38)
            let (sum, overflow) = low.addingReportingOverflow(carry)
            timesHigh[index] = sum
            carry = high &+ (overflow ? 1 : 0)
        }
        var (value, top) = add(Array(wide[0..<4]), timesHigh)
        top += carry  // at most 38: value + top·2^256 ≡ value + 38·top
        while top > 0 {
            let folded = add(value, [top &* 38, 0, 0, 0])
            value = folded.sum
            top = folded.carry
        }
        return reduced(value)
    }

    /// self^exponent, square and multiply from the top bit.
    func power(_ exponent: FieldElement) -> FieldElement {
        var result = FieldElement.one
        for bit in stride(from: 255, through: 0, by: -1) {
            result = result * result
            if (exponent.limbs[bit / 64] >> UInt64(bit % 64)) & 1 == 1 { result = result * self }
        }
        return result
    }
}
