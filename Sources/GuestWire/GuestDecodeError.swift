/// Why one frame body could not be decoded. The framing is intact, so the session goes on: the
/// hub answers with `ERROR` (`errorCode`) echoing the request id when the header could be read.
public struct GuestDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Error, Sendable, Equatable {
        /// The body ended before `field` was complete.
        case truncated(field: String)
        /// Bytes were left after the last field.
        case trailingBytes(Int)
        case invalidUTF8(field: String)
        /// A name longer than the limit (§3.4).
        case nameTooLong(field: String, length: Int, limit: Int)
        /// A list count over its limit.
        case tooMany(field: String, count: Int, limit: Int)
        /// A requested size over its limit (`REGION_READ` length).
        case tooLarge(field: String, length: Int, limit: Int)
        /// The type number is not defined by this version.
        case unknownFrameType(UInt16)
        /// The frame travelled on a channel its type does not allow (§3.2).
        case wrongChannel(UInt16)
        /// A field held a value the protocol does not define.
        case invalidValue(field: String, reason: String)
    }

    /// The header, when the body was long enough to hold one.
    public var header: GuestFrameHeader?
    public var reason: Reason

    public init(header: GuestFrameHeader?, reason: Reason) {
        self.header = header
        self.reason = reason
    }

    /// The code of the `ERROR` frame that answers this failure.
    public var errorCode: GuestErrorCode {
        switch reason {
        case .unknownFrameType: return .unknownFrameType
        case .tooLarge: return .tooLarge
        default: return .malformedFrame
        }
    }

    public var description: String {
        switch reason {
        case .truncated(let field): return "truncated at \(field)"
        case .trailingBytes(let count): return "\(count) trailing bytes"
        case .invalidUTF8(let field): return "\(field) is not valid UTF-8"
        case .nameTooLong(let field, let length, let limit): return "\(field) is \(length) bytes, limit \(limit)"
        case .tooMany(let field, let count, let limit): return "\(count) \(field), limit \(limit)"
        case .tooLarge(let field, let length, let limit): return "\(field) \(length) exceeds \(limit)"
        case .unknownFrameType(let type): return "unknown frame type 0x\(String(type, radix: 16))"
        case .wrongChannel(let channel): return "frame not allowed on channel \(channel)"
        case .invalidValue(let field, let reason): return "\(field): \(reason)"
        }
    }
}
