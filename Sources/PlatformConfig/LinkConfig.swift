/// A bidirectional messaging channel between two partitions.
public struct LinkConfig: Sendable, Equatable {
    public var name: String
    /// One end (a partition name).
    public var a: String
    /// The other end (a partition name, different from `a`).
    public var b: String
    /// Largest message either end may send.
    public var maxMessageBytes: Int
    /// Messages queued per direction before the sender is refused credit.
    public var depth: Int

    public static let defaultMaxMessageBytes = 4096
    public static let maxMessageBytesRange = 1...(1 << 20)
    public static let defaultDepth = 256
    public static let depthRange = 1...65536

    public init(
        name: String, a: String, b: String, maxMessageBytes: Int = LinkConfig.defaultMaxMessageBytes,
        depth: Int = LinkConfig.defaultDepth
    ) {
        self.name = name
        self.a = a
        self.b = b
        self.maxMessageBytes = maxMessageBytes
        self.depth = depth
    }

    /// Whether `name` follows the configuration's naming rule (a letter, then letters, digits, `-` or `_`,
    /// at most 32 bytes): links opened at run time are held to it like configured ones.
    public static func isValidName(_ name: String) -> Bool { ConfigValidator.isValidName(name) }

    /// Whether the link joins `x` and `y` (in either order).
    public func joins(_ x: String, _ y: String) -> Bool {
        (a == x && b == y) || (a == y && b == x)
    }
}
