import PlatformConfig

/// Live state of one partition. A class so the platform mutates it in place.
final class PartitionState {
    let index: Int
    let config: PartitionConfig
    /// The policy in force (`Platform.applyPolicy` replaces both at once).
    var mayInterrupt: Set<String> { didSet { lastRaiseTarget = nil } }
    /// The partition this one last raised an interrupt on, its slot and whether `mayInterrupt` allowed it: a guest
    /// raising on the same partition again (a handler's usual pattern) is judged by a name comparison instead of
    /// a hashed lookup of the name and a set lookup. Valid while that slot still holds the partition by that name
    /// (`Platform.raise` checks it: a removed partition's slot is marked, a reused one holds another name) and
    /// until `mayInterrupt` changes.
    var lastRaiseTarget: (name: String, index: Int, permitted: Bool)? = nil
    var mayMessage: Set<String>
    var session: SessionID? = nil
    var suspended = false
    /// Deprovisioned: its slot waits to be reused by the next partition added at run time.
    var removed = false
    var resumeToken: [UInt8]? = nil
    var controller: InterruptController
    /// (link index, direction index) pairs where this partition receives.
    var incoming: [(link: Int, direction: Int)] = []
    /// Round-robin position over `incoming`.
    var nextIncoming = 0
    var counters = PartitionCounters()
    /// Timers by line.
    var timers: [Int: TimerToken] = [:]
    // Deficit round robin state (fair-share partitions only).
    var inActiveList = false
    var deficit = 0
    var quantumGranted = false
    let quantum: Int
    // Copied out of `config` once: reading a field through the configuration struct on the message path
    // copied the whole struct (every string and array in it retained and released) per message.
    let name: String
    let isRealTime: Bool
    /// How the hub stamps this partition's messages.
    let originator: Originator

    init(index: Int, config: PartitionConfig, quantum: Int) {
        self.index = index
        self.config = config
        self.name = config.name
        self.isRealTime = config.schedulingClass == .realTime
        self.originator = .partition(config.name)
        self.mayInterrupt = Set(config.mayInterrupt)
        self.mayMessage = Set(config.mayMessage)
        self.controller = InterruptController(lineCount: config.interruptLines)
        self.quantum = quantum
    }

    /// The session deliveries go to, if any (none while detached or suspended).
    var receivingSession: SessionID? { suspended ? nil : session }

    var state: AttachState {
        guard let session else { return .detached }
        return suspended ? .suspended(session) : .attached(session)
    }
}

/// Live state of one link: two directions, 0 is a→b and 1 is b→a.
final class LinkState {
    let config: LinkConfig
    let ends: (Int, Int)
    var directions: [MessageQueue]
    /// Whether queue-full was already reported for the current full episode, per direction.
    var fullReported = [false, false]
    /// Whether the policy lets the sending end of each direction message the receiving end (its
    /// `mayMessage` names the peer), decided once so the send path does no name lookup.
    var senderMayMessage: [Bool]
    /// `config.name` and `config.maxMessageBytes`, read per message (see `PartitionState.name`).
    let name: String
    let maxMessageBytes: Int
    /// The guest-protocol link id: the position in the configuration, or the next free id for a link
    /// opened at run time (never reused while the hub runs).
    let id: UInt32
    /// Opened at run time (Platform+RuntimeLinks.swift) rather than configured.
    let runtime: Bool
    /// Closing: sends are refused; the link goes once every queued message is acknowledged.
    var closing = false
    /// Who opened a runtime link.
    var openedBy: Originator? = nil

    init(
        config: LinkConfig, a: PartitionState, b: PartitionState, id: UInt32, runtime: Bool = false,
        rateLimit: LinkRateLimit = .unlimited, now: UInt64 = 0
    ) {
        self.config = config
        self.ends = (a.index, b.index)
        senderMayMessage = [a.mayMessage.contains(b.name), b.mayMessage.contains(a.name)]
        name = config.name
        maxMessageBytes = config.maxMessageBytes
        self.id = id
        self.runtime = runtime
        directions = [
            MessageQueue(depth: config.depth, window: config.depth),
            MessageQueue(depth: config.depth, window: config.depth),
        ]
        setRateLimit(rateLimit, now: now)
    }

    /// Gives each sending end a fresh, full budget of `limit` (`Protocols/guest.md` §7.12).
    func setRateLimit(_ limit: LinkRateLimit, now: UInt64) {
        let budget =
            limit.isUnlimited ? nil : SendBudget(limit, maxMessageBytes: config.maxMessageBytes, now: now)
        for direction in directions.indices { directions[direction].budget = budget }
    }

    /// Puts `limit` in force for both sending ends, each keeping the tokens it holds up to the new burst
    /// (`Protocols/policy.md` §3, rate limits); unlimited removes the buckets. Queued messages are not touched.
    func changeRateLimit(_ limit: LinkRateLimit, now: UInt64) {
        for direction in directions.indices {
            directions[direction].budget =
                limit.isUnlimited
                ? nil
                : SendBudget(
                    limit, maxMessageBytes: config.maxMessageBytes, now: now, carrying: directions[direction].budget)
        }
    }

    func sender(of direction: Int) -> Int { direction == 0 ? ends.0 : ends.1 }
    func receiver(of direction: Int) -> Int { direction == 0 ? ends.1 : ends.0 }
    /// The direction in which `partition` sends, or nil if it is not an end.
    func sendingDirection(of partition: Int) -> Int? {
        partition == ends.0 ? 0 : partition == ends.1 ? 1 : nil
    }
    func receivingDirection(of partition: Int) -> Int? {
        partition == ends.1 ? 0 : partition == ends.0 ? 1 : nil
    }
}

/// Live state of one region.
final class RegionState {
    let config: RegionConfig
    let grants: [Int: RegionAccessMode]
    let backing: any RegionBacking

    init(config: RegionConfig, grants: [Int: RegionAccessMode], backing: any RegionBacking) {
        self.config = config
        self.grants = grants
        self.backing = backing
    }
}

/// A virtual timer: raises `line` on its partition at `deadline`, then every `period` if set.
struct VirtualTimer {
    var partition: Int
    var line: Int
    var deadline: UInt64
    var period: UInt64?
}
