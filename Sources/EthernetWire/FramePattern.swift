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
    /// `bytes` as 8-byte words for `matches`, in frame order: `masks` has 0xFF for each fixed byte and 0 for each
    /// wildcard, `values` the fixed bytes (0 under wildcards); the last `bytes.count % 8` bytes are left to a byte
    /// loop. A frame is offered to every pending `eth.wait`: compared a byte at a time through a generic collection,
    /// 256 waits of 1024-byte patterns cost about 1 ms per frame in a release build (a peer's slice of 256 frames held
    /// the loop 0.3 s; a debug build, seconds); a word at a time, 20,000 such frames take 1.2 s, not 23.5 s.
    private let masks: [UInt64]
    private let values: [UInt64]

    public static let maxLength = 1024

    public init(bytes: [UInt8?]) {
        self.bytes = bytes
        var masks: [UInt64] = []
        var values: [UInt64] = []
        for word in 0..<bytes.count / 8 {
            var mask: UInt64 = 0
            var value: UInt64 = 0
            // Built with frame byte `word * 8 + index` at bits 8 * index, then stored little-endian: in memory the
            // word's bytes are in frame order, as `loadUnaligned` of the frame's bytes is, whatever the byte order.
            for index in 0..<8 {
                if let byte = bytes[word * 8 + index] {
                    mask |= 0xFF << (8 * index)
                    value |= UInt64(byte) << (8 * index)
                }
            }
            masks.append(mask.littleEndian)
            values.append(value.littleEndian)
        }
        self.masks = masks
        self.values = values
    }

    public static func == (lhs: FramePattern, rhs: FramePattern) -> Bool { lhs.bytes == rhs.bytes }

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
        self.init(bytes: result)
    }

    /// Whether `frame` starts with the pattern.
    public func matches(_ frame: some Collection<UInt8>) -> Bool {
        guard frame.count >= bytes.count else { return false }
        if let matched = frame.withContiguousStorageIfAvailable({ matches(UnsafeRawBufferPointer($0)) }) {
            return matched
        }
        return Array(frame).withUnsafeBytes { matches($0) }
    }

    /// Whether the bytes start with the pattern: a word at a time, then the last bytes one by one.
    public func matches(_ frame: UnsafeRawBufferPointer) -> Bool {
        guard frame.count >= bytes.count else { return false }
        for word in 0..<masks.count {
            // SAFETY: `word * 8 + 8 <= bytes.count <= frame.count`, so the load is inside the frame.
            let loaded = frame.loadUnaligned(fromByteOffset: word * 8, as: UInt64.self)
            if loaded & masks[word] != values[word] { return false }
        }
        for index in masks.count * 8..<bytes.count {
            if let expected = bytes[index], frame[index] != expected { return false }
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
