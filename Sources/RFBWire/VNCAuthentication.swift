/// VNC authentication (RFC 6143 §7.2.2): the client DES-encrypts a 16-byte challenge with its password.
///
/// The DES step is `DES`; the only RFB-specific part is the key: the password's first 8 bytes,
/// zero-padded, each byte bit-reversed (a historical quirk every VNC implementation shares).
package enum VNCAuthentication {
    package static let challengeSize = 16
    /// Only the first 8 bytes of a VNC password count.
    package static let maxPasswordBytes = 8

    /// The DES key RFB derives from a password.
    package static func key(password: some Collection<UInt8>) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: 8)
        for (index, byte) in password.prefix(maxPasswordBytes).enumerated() {
            var reversed: UInt8 = 0
            for bit in 0..<8 where byte & (1 << bit) != 0 { reversed |= 0x80 >> bit }
            key[index] = reversed
        }
        return key
    }

    /// The 16-byte response a client with `password` gives to `challenge`.
    package static func response(challenge: [UInt8], password: some Collection<UInt8>) -> [UInt8] {
        precondition(challenge.count == challengeSize)
        let key = key(password: password)
        return DES.encrypt(block: Array(challenge[0..<8]), key: key)
            + DES.encrypt(block: Array(challenge[8..<16]), key: key)
    }

    /// Constant-time check of a client's response.
    package static func verify(response: some Collection<UInt8>, challenge: [UInt8], password: some Collection<UInt8>)
        -> Bool
    {
        let expected = Self.response(challenge: challenge, password: password)
        guard response.count == expected.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(response, expected) { difference |= a ^ b }
        return difference == 0
    }
}
