import PlatformConfig

/// The platform model: partitions, their interrupt controllers, messaging links and memory
/// regions under the configuration's policy (`Protocols/guest.md` §6–§8; "parse, then act" in
/// `Sources/ARCHITECTURE.md`).
///
/// It does no I/O and reads no clock. The server calls one method per guest request or
/// control command; each appends what must happen (deliveries, credit, closes, events) to
/// the caller's `actions` buffer and returns the precise answer for the requester.
/// Interrupt and message deliveries are not produced by the commands themselves: the server
/// calls `drainDeliveries(budget:into:)` once per loop pass, which serves real-time partitions
/// first and shares the rest among fair-share partitions by weight.
///
/// Not thread-safe: it lives on the hub's single loop thread.
package final class Platform {
    /// Tunables that are not part of the platform configuration.
    package struct Options: Sendable {
        /// Shortest period a periodic virtual timer may have, so that one guest cannot make
        /// the hub spin.
        package var minimumTimerPeriodNanoseconds: UInt64 = 50_000
        /// Largest region read in one operation: the 1 MiB `REGION_READ` length guest.md §8.1 allows (a smaller
        /// value here answered reads the spec allows with `out_of_bounds`). Writes are bounded by their frame.
        package var maxRegionAccessBytes: Int = 1 << 20
        /// Length of resume tokens.
        package var resumeTokenBytes: Int = 16
        package init() {}
    }

    package let configuration: PlatformConfiguration
    package let options: Options
    let scheduler: any Scheduler
    let random: any RandomSource

    var partitions: [PartitionState] = []
    var partitionIndex: [String: Int] = [:]
    var links: [LinkState] = []
    var linkIndex: [String: Int] = [:]
    /// Links opened at run time: ids, limits, who may see them (Platform+RuntimeLinks.swift).
    var runtimeLinks = RuntimeLinkRegistry()
    var regions: [RegionState] = []
    var regionIndex: [String: Int] = [:]
    var sessions: [SessionID: Int] = [:]
    /// The last session looked up and its partition: a burst of commands from one guest costs no hashing.
    private var lastLookup: (session: SessionID, index: Int)? = nil
    var lastSessionID: UInt64 = 0
    var timers: [TimerToken: VirtualTimer] = [:]
    /// The policy in force (`Platform+Policy.swift`).
    package internal(set) var policy: EffectivePolicy
    /// Real-time partitions, highest priority first.
    var realTimeOrder: [Int] = []
    /// Fair-share partitions that may have work, in deficit-round-robin order.
    var fairShareActive: RingBuffer<Int>
    /// The common divisor of the configured fair-share weights: a partition's quantum is its weight over it.
    var quantumDivisor = 1

    /// Builds the model. `makeBacking` supplies each region's bytes (in the heap by default).
    package init(
        configuration: PlatformConfiguration, scheduler: any Scheduler, random: any RandomSource,
        options: Options = Options(),
        makeBacking: (RegionConfig) -> any RegionBacking = { InMemoryRegionBacking(sizeBytes: $0.sizeBytes) }
    ) throws(PlatformModelError) {
        self.configuration = configuration
        self.options = options
        self.scheduler = scheduler
        self.random = random
        policy = EffectivePolicy.base(configuration)
        // Room for every partition the budgets may add at run time (Platform+Provisioning.swift).
        let provisionable = configuration.management.authorities.reduce(0) { $0 + ($1.budget?.maxPartitions ?? 0) }
        fairShareActive = RingBuffer(capacity: max(1, configuration.partitions.count + provisionable))

        // Quanta are the weights divided by their common divisor, so that weights 100 and
        // 50 take turns of 2 and 1 deliveries rather than 100 and 50: the ratio is the same
        // and a light partition waits less.
        let fairWeights = configuration.partitions.filter { $0.schedulingClass == .fairShare }.map {
            max(1, $0.weight)
        }
        let divisor = fairWeights.reduce(0) { gcd($0, $1) }
        quantumDivisor = max(1, divisor)
        for (index, config) in configuration.partitions.enumerated() {
            guard partitionIndex[config.name] == nil else { throw .duplicateName(config.name) }
            let quantum = config.schedulingClass == .fairShare ? max(1, config.weight) / max(1, divisor) : 0
            partitions.append(PartitionState(index: index, config: config, quantum: max(1, quantum)))
            partitionIndex[config.name] = index
        }
        realTimeOrder = partitions.filter(\.isRealTime).sorted {
            ($0.config.priority, $0.index) < ($1.config.priority, $1.index)
        }.map(\.index)

        for config in configuration.links {
            guard linkIndex[config.name] == nil else { throw .duplicateName(config.name) }
            guard let a = partitionIndex[config.a] else { throw .unknownPartition(config.a, in: config.name) }
            guard let b = partitionIndex[config.b] else { throw .unknownPartition(config.b, in: config.name) }
            guard a != b, config.depth >= 1, config.maxMessageBytes >= 1 else { throw .invalidLink(config.name) }
            let link = LinkState(
                config: config, a: partitions[a], b: partitions[b], id: UInt32(links.count),
                rateLimit: config.effectiveRateLimit(configuration.hub.limits), now: scheduler.now)
            linkIndex[config.name] = links.count
            partitions[b].incoming.append((links.count, 0))
            partitions[a].incoming.append((links.count, 1))
            links.append(link)
        }

        for config in configuration.regions {
            guard regionIndex[config.name] == nil else { throw .duplicateName(config.name) }
            var grants: [Int: RegionAccessMode] = [:]
            for grant in config.grants {
                guard let partition = partitionIndex[grant.partition] else {
                    throw .unknownPartition(grant.partition, in: config.name)
                }
                grants[partition] = grant.access == .readWrite ? .readWrite : .readOnly
            }
            regionIndex[config.name] = regions.count
            regions.append(RegionState(config: config, grants: grants, backing: makeBacking(config)))
        }
    }

    // MARK: Lookups

    /// The partition a live session belongs to.
    package func partition(ofSession session: SessionID) -> String? {
        sessions[session].map { partitions[$0].name }
    }

    /// The attach state of a partition.
    package func state(ofPartition name: String) -> AttachState? {
        partitionIndex[name].map { partitions[$0].state }
    }

    /// Names of the configured partitions, in configuration order.
    package var partitionNames: [String] { partitions.filter { !$0.removed }.map(\.name) }

    // MARK: Attach and detach

    /// Attaches a session (already authenticated by the server) to partition `name`.
    ///
    /// With `resumeToken` (from the previous welcome) the partition's controller state and
    /// timers are kept; without it they are reset. Either way, latched lines stay pending and
    /// every unacknowledged message is delivered again, in order, once. `receiveWindow`
    /// bounds the unacknowledged messages handed to this session per link (default: the
    /// link's depth).
    package func attach(
        partition name: String, resumeToken: [UInt8]? = nil, receiveWindow: Int? = nil, actions: inout [Action]
    ) -> AttachOutcome {
        guard let index = partitionIndex[name] else {
            actions.append(.event(.attachRefused(partition: name, reason: .noSuchPartition)))
            return .refused(.noSuchPartition)
        }
        let partition = partitions[index]
        if let resumeToken {
            guard let expected = partition.resumeToken, constantTimeEqual(expected, resumeToken) else {
                actions.append(.event(.attachRefused(partition: name, reason: .invalidResumeToken)))
                return .refused(.invalidResumeToken)
            }
        }
        if let old = partition.session {
            guard partition.config.allowTakeover else {
                actions.append(.event(.attachRefused(partition: name, reason: .alreadyAttached)))
                return .refused(.alreadyAttached)
            }
            endSession(of: partition, reason: .takenOver, actions: &actions)
            actions.append(.closeSession(old, reason: .takenOver))
            partition.counters.takeovers &+= 1
        }

        lastSessionID += 1
        let session = SessionID(rawValue: lastSessionID)
        let resumed = resumeToken != nil
        let token = random.randomBytes(count: options.resumeTokenBytes)
        partition.session = session
        partition.resumeToken = token
        partition.counters.attaches &+= 1
        sessions[session] = index
        activateDeferredLinks(of: partition)
        if !resumed {
            partition.controller.resetConfiguration()
            cancelTimers(of: partition)
        }

        var linkViews: [LinkView] = []
        for link in links {
            guard let sending = link.sendingDirection(of: index), let receiving = link.receivingDirection(of: index)
            else { continue }
            let peer = partitions[link.receiver(of: sending)].name
            if let receiveWindow {
                link.directions[receiving].window = max(1, min(receiveWindow, link.config.depth))
            } else if !resumed {
                link.directions[receiving].window = link.config.depth
            }
            // The new session starts with credit for every free slot; credit held by an
            // earlier session died with it.
            let maySend = link.senderMayMessage[sending] && !link.closing
            link.directions[sending].senderCredit = 0
            let credit = maySend ? link.directions[sending].topUpCredit() : 0
            linkViews.append(
                LinkView(
                    name: link.config.name, peer: peer, maxMessageBytes: link.config.maxMessageBytes,
                    depth: link.config.depth, maySend: maySend, sendCredit: credit,
                    receiveWindow: link.directions[receiving].window, id: link.id, runtime: link.runtime,
                    closing: link.closing))
        }
        let regionViews = regions.compactMap { region -> RegionView? in
            guard let access = region.grants[index] else { return nil }
            return RegionView(
                name: region.config.name, sizeBytes: region.config.sizeBytes, access: access,
                doorbellLine: region.config.doorbellLine)
        }
        markReady(partition)
        actions.append(.event(.attached(partition: name, session: session, resumed: resumed)))
        return .attached(
            AttachInfo(
                session: session, partition: name, resumeToken: token, resumed: resumed,
                interruptLines: partition.controller.lineCount, links: linkViews, regions: regionViews,
                mayInterrupt: policyOrder(partition.config.mayInterrupt, partition.mayInterrupt),
                mayMessage: policyOrder(partition.config.mayMessage, partition.mayMessage)))
    }

    /// The session ended (the guest left, the connection broke, the health monitor gave up…).
    /// Unacknowledged messages and unacknowledged interrupts wait for the next session.
    /// Returns false for a session that is not live (already detached or taken over).
    @discardableResult
    package func detach(session: SessionID, reason: DetachReason, actions: inout [Action]) -> Bool {
        guard let index = sessions[session] else { return false }
        endSession(of: partitions[index], reason: reason, actions: &actions)
        return true
    }

    func endSession(of partition: PartitionState, reason: DetachReason, actions: inout [Action]) {
        guard let session = partition.session else { return }
        sessions[session] = nil
        partition.session = nil
        partition.controller.requeueInService()
        for (linkIndex, direction) in partition.incoming {
            links[linkIndex].directions[direction].rewind()
        }
        for link in links {
            if let sending = link.sendingDirection(of: partition.index) { link.directions[sending].senderCredit = 0 }
        }
        actions.append(.event(.detached(partition: partition.name, session: session, reason: reason)))
    }

    // MARK: Management

    /// Stops deliveries to a partition (its session stays open); raises on it latch and
    /// messages queue until `resume`.
    package func suspend(partition name: String, actions: inout [Action]) -> ManageOutcome {
        guard let index = partitionIndex[name] else { return .noSuchPartition }
        guard !partitions[index].suspended else { return .unchanged }
        partitions[index].suspended = true
        actions.append(.event(.suspended(partition: name)))
        return .ok
    }

    /// Whether management has suspended the partition, attached or not (false for an unknown name).
    package func isSuspended(partition name: String) -> Bool {
        partitionIndex[name].map { partitions[$0].suspended } ?? false
    }

    /// Lets a suspended partition receive again; what latched meanwhile is delivered.
    package func resume(partition name: String, actions: inout [Action]) -> ManageOutcome {
        guard let index = partitionIndex[name] else { return .noSuchPartition }
        guard partitions[index].suspended else { return .unchanged }
        partitions[index].suspended = false
        markReady(partitions[index])
        actions.append(.event(.resumed(partition: name)))
        return .ok
    }

    // MARK: Helpers

    /// The partition behind a live session.
    func partitionState(of session: SessionID) -> PartitionState? {
        // Checked against the partition, so a detached or taken-over session never hits a stale entry.
        if let last = lastLookup, last.session == session, partitions[last.index].session == session {
            return partitions[last.index]
        }
        guard let index = sessions[session] else { return nil }
        lastLookup = (session, index)
        return partitions[index]
    }
}

/// Why a configuration cannot become a model (a validated configuration never fails).
package enum PlatformModelError: Error, Equatable, Sendable {
    case duplicateName(String)
    case unknownPartition(String, in: String)
    case invalidLink(String)
}

func gcd(_ a: Int, _ b: Int) -> Int {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}

/// Compares secrets without an early exit, so timing does not reveal how much matched.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}
