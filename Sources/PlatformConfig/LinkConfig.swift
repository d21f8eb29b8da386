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
    /// This link's send budget per direction; nil: the hub-wide defaults (`hub.limits.linkMessagesPerSecond`,
    /// `linkBytesPerSecond`).
    package var rateLimit: LinkRateLimit? = nil

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

/// A link's send budget, per direction (`Deploy/config-reference.md`, links `rateLimit`): each sending end has a
/// token bucket for messages and one for bytes (`Protocols/guest.md` §7.12). 0 means unlimited.
package struct LinkRateLimit: Sendable, Equatable {
    /// Messages one end may send per second; 0: unlimited.
    package var messagesPerSecond: Int
    /// Payload bytes one end may send per second; 0: unlimited.
    package var bytesPerSecond: Int
    /// Messages one end may send at once after being idle; nil: one second's worth (`messagesPerSecond`).
    package var burstMessages: Int?
    /// Bytes one end may send at once after being idle; nil: one second's worth (`bytesPerSecond`), and never less
    /// than the link's `maxMessageBytes` (so a message of the largest size can always pass eventually).
    package var burstBytes: Int?

    package static let messagesPerSecondRange = 0...10_000_000
    package static let bytesPerSecondRange = 0...(1 << 34)
    package static let unlimited = LinkRateLimit()

    package init(messagesPerSecond: Int = 0, bytesPerSecond: Int = 0, burstMessages: Int? = nil, burstBytes: Int? = nil)
    {
        self.messagesPerSecond = messagesPerSecond
        self.bytesPerSecond = bytesPerSecond
        self.burstMessages = burstMessages
        self.burstBytes = burstBytes
    }

    /// Whether nothing is limited.
    package var isUnlimited: Bool { messagesPerSecond == 0 && bytesPerSecond == 0 }

    /// For people and logs: `5 msg/s, 4096 B/s`, one dimension, or `unlimited`.
    package var summary: String {
        let parts = [
            messagesPerSecond > 0 ? "\(messagesPerSecond) msg/s" : nil,
            bytesPerSecond > 0 ? "\(bytesPerSecond) B/s" : nil,
        ]
        let given = parts.compactMap { $0 }
        return given.isEmpty ? "unlimited" : given.joined(separator: ", ")
    }

    /// The message bucket's size: the configured burst, else one second's worth; at least 1.
    package var effectiveBurstMessages: Int { max(1, burstMessages ?? messagesPerSecond) }

    /// The byte bucket's size for a link whose largest message is `maxMessageBytes`.
    package func effectiveBurstBytes(maxMessageBytes: Int) -> Int {
        max(maxMessageBytes, burstBytes ?? bytesPerSecond, 1)
    }
}

extension LinkRateLimit {
    /// What is wrong with this budget for a link whose largest message is `maxMessageBytes`, each issue at its key
    /// under `path`: rates in range; a burst given explicitly is at least 1, and a byte burst at least the link's
    /// `maxMessageBytes` (a smaller bucket could never pass a message of the largest size). A link's `rateLimit` and
    /// a profile's `linkRates` entry are held to the same rules (`Deploy/config-reference.md`).
    package func issues(maxMessageBytes: Int, at path: String) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        func check(_ value: Int, in range: ClosedRange<Int>, _ key: String) {
            guard !range.contains(value) else { return }
            issues.append(
                ConfigIssue(
                    path: "\(path).\(key)", reason: "\(value) is outside \(range.lowerBound)...\(range.upperBound)"))
        }
        check(messagesPerSecond, in: Self.messagesPerSecondRange, "messagesPerSecond")
        check(bytesPerSecond, in: Self.bytesPerSecondRange, "bytesPerSecond")
        if let burst = burstMessages { check(burst, in: 1...Self.messagesPerSecondRange.upperBound, "burstMessages") }
        if let burst = burstBytes {
            check(burst, in: 1...Self.bytesPerSecondRange.upperBound, "burstBytes")
            if burst < maxMessageBytes, burst >= 1 {
                issues.append(
                    ConfigIssue(
                        path: "\(path).burstBytes",
                        reason:
                            "\(burst) is below the link's maxMessageBytes (\(maxMessageBytes)): its largest messages could never pass"
                    ))
            }
        }
        return issues
    }
}

extension LinkConfig {
    /// The budget that applies to this link: its own `rateLimit`, else the hub-wide defaults of `limits`.
    package func effectiveRateLimit(_ limits: Limits) -> LinkRateLimit {
        rateLimit
            ?? LinkRateLimit(messagesPerSecond: limits.linkMessagesPerSecond, bytesPerSecond: limits.linkBytesPerSecond)
    }
}
