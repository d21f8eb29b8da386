/// The identity a partition acts for (`Protocols/guest.md` §7.12, feature `identity`): a user or application name
/// the sending partition asserts with `MSG_SEND_AS`, stamped by the hub beside the partition and delivered with
/// `MSG_DELIVER_AS`. The hub vouches for the partition; the partition vouches for the identity.
public enum GuestIdentity {
    /// Longest identity, in bytes (it is a `name`, §2).
    public static let maxBytes = 64

    /// Whether `bytes` is a well-formed identity: 1–64 bytes of ASCII letters, digits and `.` `_` `-` `@` `:` `+`.
    /// A small alphabet keeps identities printable in logs and events and unambiguous to compare (no Unicode
    /// look-alikes, no spaces, no separators of the key service's rules, `Protocols/keyservice.md` §4).
    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= maxBytes else { return false }
        return bytes.allSatisfy(isAllowed)
    }

    public static func isValid(_ identity: String) -> Bool { isValid(identity.utf8) }

    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "@"), UInt8(ascii: ":"),
            UInt8(ascii: "+"):
            return true
        default: return false
        }
    }
}
