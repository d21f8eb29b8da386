/// Identifies one attached session; never reused while the hub runs.
package struct SessionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    package let rawValue: UInt64
    package init(rawValue: UInt64) { self.rawValue = rawValue }
    package static func < (lhs: SessionID, rhs: SessionID) -> Bool { lhs.rawValue < rhs.rawValue }
    package var description: String { "session#\(rawValue)" }
}

/// Who caused an interrupt or a message, as stamped by the hub (a guest cannot forge it).
package enum Originator: Hashable, Sendable, CustomStringConvertible {
    /// A partition, by name.
    case partition(String)
    /// A control-API client acting as a named injector; bypasses policy, always recorded.
    case injector(String)
    /// A hub device (modem, Ethernet, framebuffer) raising its interrupt line.
    case device(String)
    /// The partition's own virtual timer.
    case timer

    package var description: String {
        switch self {
        case .partition(let name): name
        case .injector(let name): "injector:\(name)"
        case .device(let name): "device:\(name)"
        case .timer: "timer"
        }
    }
}

/// The origin of a command as the server knows it: a guest's session, or a privileged
/// in-hub source.
package enum CommandSource: Hashable, Sendable {
    case session(SessionID)
    case injector(String)
    case device(String)

    /// The session, when a guest is the source.
    package var session: SessionID? {
        if case .session(let session) = self { return session }
        return nil
    }
}

/// Where a partition is in its life.
package enum AttachState: Hashable, Sendable {
    case detached
    case attached(SessionID)
    /// Management has suspended the partition: its session stays open but it receives
    /// nothing; raises on it latch and messages queue until it is resumed.
    case suspended(SessionID)

    package var session: SessionID? {
        switch self {
        case .detached: nil
        case .attached(let id), .suspended(let id): id
        }
    }
}
