/// Why an RFB exchange cannot go on. The server sends the text as a failure reason when the protocol
/// still allows one (handshake), and otherwise closes the connection and logs it.
package enum RFBError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The 12-byte ProtocolVersion was not `RFB xxx.yyy\n`.
    case badVersion(String)
    /// The client chose a security type that was not offered.
    case unsupportedSecurity(UInt8)
    /// VNC authentication failed.
    case authenticationFailed
    /// SetPixelFormat carried a format this server refuses.
    case badPixelFormat(String)
    /// An unknown client message type (the stream cannot be resynchronised).
    case unknownMessage(UInt8)
    /// A length field is over its limit (cut text, encodings list).
    case tooLarge(String, value: UInt64, limit: Int)
    /// A request is inconsistent (e.g. an update rectangle outside the framebuffer is clipped, not this).
    case malformed(String)

    package var description: String {
        switch self {
        case .badVersion(let text): "bad protocol version \(text)"
        case .unsupportedSecurity(let type): "security type \(type) is not supported"
        case .authenticationFailed: "authentication failed"
        case .badPixelFormat(let why): "bad pixel format: \(why)"
        case .unknownMessage(let type): "unknown client message type \(type)"
        case .tooLarge(let what, let value, let limit): "\(what) announces \(value), over the limit of \(limit)"
        case .malformed(let why): "malformed message: \(why)"
        }
    }
}
