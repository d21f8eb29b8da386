/// A bidirectional messaging channel between two partitions.
package struct LinkConfig: Sendable, Equatable {
    package var name: String
    /// One end (a partition name).
    package var a: String
    /// The other end (a partition name, different from `a`).
    package var b: String
    /// Largest message either end may send.
    package var maxMessageBytes: Int
    /// Messages queued per direction before the sender is refused credit.
    package var depth: Int

    package static let defaultMaxMessageBytes = 4096
    package static let maxMessageBytesRange = 1...(1 << 20)
    package static let defaultDepth = 256
    package static let depthRange = 1...65536

    package init(
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
    package static func isValidName(_ name: String) -> Bool { ConfigValidator.isValidName(name) }

    /// Whether the link joins `x` and `y` (in either order).
    package func joins(_ x: String, _ y: String) -> Bool {
        (a == x && b == y) || (a == y && b == x)
    }
}
