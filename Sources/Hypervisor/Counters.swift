/// Totals for one partition since the hub started.
public struct PartitionCounters: Sendable, Equatable {
    /// Raises that reached its controller while attached (coalesced ones included).
    public var interruptsRaised: UInt64 = 0
    public var interruptsDelivered: UInt64 = 0
    /// Raises kept pending while it was detached or suspended.
    public var interruptsLatched: UInt64 = 0
    /// Raises folded into an already pending line.
    public var interruptsCoalesced: UInt64 = 0
    /// Raises this partition attempted that the policy or addressing refused.
    public var raisesRefused: UInt64 = 0
    /// Messages queued for it.
    public var messagesQueued: UInt64 = 0
    public var messagesDelivered: UInt64 = 0
    public var messagesRedelivered: UInt64 = 0
    public var bytesDelivered: UInt64 = 0
    /// Sends by this partition that were refused (policy, size, full queue).
    public var sendsRefused: UInt64 = 0
    public var regionAccessRefused: UInt64 = 0
    public var attaches: UInt64 = 0
    public var takeovers: UInt64 = 0
    public init() {}
}

/// A partition's state and totals, for `partition.list` / `partition.get`.
public struct PartitionSnapshot: Sendable, Equatable {
    public var name: String
    public var realTime: Bool
    public var priority: Int
    public var weight: Int
    public var state: AttachState
    public var suspended: Bool
    public var interruptLines: Int
    public var pendingLines: [Int]
    public var counters: PartitionCounters
}

/// One direction of a link.
public struct LinkDirectionSnapshot: Sendable, Equatable {
    public var from: String
    public var to: String
    /// Messages held in the hub now (queued plus delivered-unacknowledged).
    public var held: Int
    public var inFlight: Int
    public var depth: Int
    public var receiveWindow: Int
    public var senderCredit: Int
    public var nextMessageID: UInt64
    public var counters: LinkDirectionCounters
}

public struct LinkSnapshot: Sendable, Equatable {
    public var name: String
    /// The guest-protocol link id.
    public var id: UInt32
    public var maxMessageBytes: Int
    /// Opened at run time rather than configured.
    public var runtime: Bool
    /// Closing: sends refused until it is drained and removed.
    public var closing: Bool
    /// Who opened it (runtime links only).
    public var openedBy: Originator?
    public var aToB: LinkDirectionSnapshot
    public var bToA: LinkDirectionSnapshot
}

public struct PlatformSnapshot: Sendable, Equatable {
    public var partitions: [PartitionSnapshot]
    public var links: [LinkSnapshot]

    public func partition(_ name: String) -> PartitionSnapshot? { partitions.first { $0.name == name } }
    public func link(_ name: String) -> LinkSnapshot? { links.first { $0.name == name } }
}
