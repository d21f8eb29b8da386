import Crypto
import GuestWire

/// The handshake proof of `Protocols/guest.md` §5.3, shared by the client and the hub.
public enum GuestAuth {
    /// HMAC-SHA256 with the partition secret over the transcript (`GuestProtocol.transcript`).
    public static func proof(secret: [UInt8], transcript: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: transcript, using: SymmetricKey(data: secret)))
    }

    /// Constant-time check of a received proof.
    public static func verify(proof: [UInt8], secret: [UInt8], transcript: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: transcript, using: SymmetricKey(data: secret))
    }
}
