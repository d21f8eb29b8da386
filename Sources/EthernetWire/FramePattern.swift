import Wire

/// A byte pattern with wildcards that a frame must start with (`Protocols/ethernet.md` §7).
///
/// Text form: hex bytes, whitespace ignored, `??` matches any byte, `*` at the very end matches
/// whatever follows (a frame is allowed to be longer than the pattern anyway, so `*` is
/// accepted for readability). Example, an IPv4 ICMP echo request to any address:
/// `?? ?? ?? ?? ?? ?? ?? ?? ?? ?? ?? ?? 08 00 45 ?? ?? ?? ?? ?? ?? ?? ?? 01 ?? ?? ?? ?? ?? ?? ?? ?? ?? ?? 08`.
public struct FramePattern: Equatable, Sendable, CustomStringConvertible {
    /// `nil` entries are wildcards.
    public let bytes: [UInt8?]

    public static let maxLength = 1024

    public init(bytes: [UInt8?]) { self.bytes = bytes }

    public init(parsing text: String) throws(DecodeError) {
        var result: [UInt8?] = []
        var pending: UInt8? = nil
        var pendingWild = false
        var sawStar = false
        for character in text.unicodeScalars {
            if character == " " || character == "\t" || character == "\n" || character == ":" { continue }
            if sawStar { throw .invalidValue(field: "pattern", reason: "'*' may only end the pattern") }
            if character == "*" {
                guard pending == nil, !pendingWild else {
                    throw .invalidValue(field: "pattern", reason: "odd number of hex digits before '*'")
                }
                sawStar = true
                continue
            }
            if character == "?" {
                guard pending == nil else { throw .invalidValue(field: "pattern", reason: "'?' inside a hex byte") }
                if pendingWild {
                    result.append(nil)
                    pendingWild = false
                } else {
                    pendingWild = true
                }
                continue
            }
            guard !pendingWild, let digit = UInt8(String(character), radix: 16) else {
                throw .invalidValue(field: "pattern", reason: "'\(character)' is not a hex digit, '??' or '*'")
            }
            if let high = pending {
                result.append(high << 4 | digit)
                pending = nil
            } else {
                pending = digit
            }
            if result.count > FramePattern.maxLength {
                throw .oversized(length: result.count, limit: FramePattern.maxLength)
            }
        }
        guard pending == nil, !pendingWild else {
            throw .invalidValue(field: "pattern", reason: "odd number of hex digits")
        }
        if result.count > FramePattern.maxLength {
            throw .oversized(length: result.count, limit: FramePattern.maxLength)
        }
        bytes = result
    }

    /// Whether `frame` starts with the pattern.
    public func matches(_ frame: some Collection<UInt8>) -> Bool {
        guard frame.count >= bytes.count else { return false }
        var index = frame.startIndex
        for expected in bytes {
            if let expected, frame[index] != expected { return false }
            index = frame.index(after: index)
        }
        return true
    }

    public var description: String {
        bytes.map { byte in
            guard let byte else { return "??" }
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
    }
}
