/// Why a codec refused its input. Each case carries what a peer needs to fix its sender.
public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The body ended before a field was complete.
    case truncated(needed: Int, available: Int)
    /// A length prefix announced more than the configured limit allows.
    case oversized(length: Int, limit: Int)
    /// A length prefix of zero where the protocol forbids empty frames.
    case empty
    /// A text field was not valid UTF-8.
    case invalidUTF8
    /// A field held a value the protocol does not define.
    case invalidValue(field: String, reason: String)
    /// The frame type is not known to this version of the protocol.
    case unknownType(UInt32)
    /// Bytes were left over after the last field of a fixed-layout frame.
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated(let needed, let available): return "truncated: needed \(needed) bytes, \(available) available"
        case .oversized(let length, let limit): return "oversized: length \(length) exceeds the limit of \(limit)"
        case .empty: return "empty frame"
        case .invalidUTF8: return "text is not valid UTF-8"
        case .invalidValue(let field, let reason): return "\(field): \(reason)"
        case .unknownType(let type): return "unknown frame type \(type)"
        case .trailingBytes(let count): return "\(count) unexpected trailing bytes"
        }
    }
}
