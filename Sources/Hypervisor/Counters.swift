import PlatformConfig

/// Totals for one partition since the hub started.
package struct PartitionCounters: Sendable, Equatable {
    /// Raises that reached its controller while attached (coalesced ones included).
    package var interruptsRaised: UInt64 = 0
    package var interruptsDelivered: UInt64 = 0
    /// Raises kept pending while it was detached or suspended.
    package var interruptsLatched: UInt64 = 0
    /// Raises folded into an already pending line.
    package var interruptsCoalesced: UInt64 = 0
    /// Raises this partition attempted that the policy or addressing refused.
    package var raisesRefused: UInt64 = 0
    /// Messages queued for it.
    package var messagesQueued: UInt64 = 0
    package var messagesDelivered: UInt64 = 0
    package var messagesRedelivered: UInt64 = 0
    package var bytesDelivered: UInt64 = 0
    /// Sends by this partition that were refused (policy, size, full queue).
    package var sendsRefused: UInt64 = 0
    /// Of `sendsRefused`, those over a link's rate budget (`Protocols/guest.md` §7.12).
    package var sendsRateLimited: UInt64 = 0
    package var regionAccessRefused: UInt64 = 0
    package var attaches: UInt64 = 0
    package var takeovers: UInt64 = 0
    package init() {}
}

/// A partition's state and totals, for `partition.list` / `partition.get`.
package struct PartitionSnapshot: Sendable, Equatable {
    package var name: String
    package var realTime: Bool
    package var priority: Int
    package var weight: Int
    package var state: AttachState
    package var suspended: Bool
    package var interruptLines: Int
    package var pendingLines: [Int]
    package var counters: PartitionCounters
}

/// One direction of a link.
package struct LinkDirectionSnapshot: Sendable, Equatable {
    package var from: String
    package var to: String
    /// Messages held in the hub now (queued plus delivered-unacknowledged).
    package var held: Int
    package var inFlight: Int
    package var depth: Int
    package var receiveWindow: Int
    package var senderCredit: Int
    package var nextMessageID: UInt64
    package var counters: LinkDirectionCounters
    /// The sending end's rate budget (`Protocols/guest.md` §7.12): nil when unlimited.
    package var rateLimit: LinkRateLimit? = nil
    /// What the budget would let through now (nil: that dimension is unlimited).
    package var availableMessages: UInt64? = nil
    package var availableBytes: UInt64? = nil
    /// The buckets' sizes (nil: that dimension is unlimited).
    package var burstMessages: UInt64? = nil
    package var burstBytes: UInt64? = nil
}

package struct LinkSnapshot: Sendable, Equatable {
    package var name: String
    /// The guest-protocol link id.
    package var id: UInt32
    package var maxMessageBytes: Int
    /// Opened at run time rather than configured.
    package var runtime: Bool
    /// Closing: sends refused until it is drained and removed.
    package var closing: Bool
    /// Who opened it (runtime links only).
    package var openedBy: Originator?
    package var aToB: LinkDirectionSnapshot
    package var bToA: LinkDirectionSnapshot
}

package struct PlatformSnapshot: Sendable, Equatable {
    package var partitions: [PartitionSnapshot]
    package var links: [LinkSnapshot]

    package func partition(_ name: String) -> PartitionSnapshot? { partitions.first { $0.name == name } }
    package func link(_ name: String) -> LinkSnapshot? { links.first { $0.name == name } }
}
