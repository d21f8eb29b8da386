/// One partition's virtual interrupt controller (`Protocols/guest.md` §6).
///
/// Each line has a priority (0 highest … 15, as in Xen's FIFO event channels), a mask bit,
/// a pending bit and an in-service bit. A raise sets pending; raises that arrive while the
/// line is already pending coalesce into one delivery and are counted. A line is
/// deliverable when it is pending, unmasked and not in service; delivering it moves it to
/// in service until the guest acknowledges it (EOI). A raise that arrives while the line is
/// in service sets pending again, so it is delivered once more after the EOI.
public struct InterruptController: Sendable {
    /// The largest number of lines one controller may have; bounds memory per partition.
    public static let maximumLineCount = 1024
    /// The lowest priority (numerically the largest).
    public static let lowestPriority: UInt8 = 15
    /// The priority lines start with, matching Xen's EVTCHN_FIFO_PRIORITY_DEFAULT.
    public static let defaultPriority: UInt8 = 7

    /// The state of one line.
    public struct Line: Sendable, Equatable {
        public var priority: UInt8
        public var masked: Bool = false
        public var pending: Bool = false
        public var inService: Bool = false
        /// Raises folded into the pending delivery, the first one included (0 while not pending): what
        /// `IRQ.coalesced` reports (`Protocols/guest.md` §6.3), so two raises read 2.
        public var coalesced: UInt32 = 0
    }

    /// What `raise` did.
    public enum RaiseResult: Sendable, Equatable {
        /// The line became pending.
        case pending
        /// The line was already pending; the raise was folded into it.
        case coalesced
        case noSuchLine
    }

    /// One delivery taken from the controller.
    public struct Delivery: Sendable, Equatable {
        public var line: Int
        public var priority: UInt8
        /// How many raises were folded into this delivery, ≥ 1 (`Protocols/guest.md` §6.3).
        public var coalesced: UInt32
    }

    /// Running totals for the controller's lifetime.
    public struct Counters: Sendable, Equatable {
        public var raised: UInt64 = 0
        public var coalesced: UInt64 = 0
        public var delivered: UInt64 = 0
        public var acknowledged: UInt64 = 0
    }

    public private(set) var lines: [Line]
    public private(set) var counters = Counters()

    /// Creates a controller with `lineCount` lines (clamped to `0...maximumLineCount`), all
    /// unmasked at `defaultPriority`.
    public init(lineCount: Int) {
        let count = max(0, min(lineCount, Self.maximumLineCount))
        lines = Array(repeating: Line(priority: Self.defaultPriority), count: count)
    }

    public var lineCount: Int { lines.count }

    public func isValid(line: Int) -> Bool { line >= 0 && line < lines.count }

    /// Sets the line pending, or folds the raise into a pending one.
    public mutating func raise(line: Int) -> RaiseResult {
        guard isValid(line: line) else { return .noSuchLine }
        counters.raised &+= 1
        if lines[line].pending {
            lines[line].coalesced &+= 1
            counters.coalesced &+= 1
            return .coalesced
        }
        lines[line].pending = true
        lines[line].coalesced = 1
        pendingCount += 1
        return .pending
    }

    /// Lines with their pending bit set: the common case of none lets the dispatcher skip the scan.
    public private(set) var pendingCount = 0

    /// The highest-priority line that is pending, unmasked and not in service; ties go to the
    /// lowest line number.
    public func nextDeliverable() -> Int? {
        guard pendingCount > 0 else { return nil }
        var best: Int? = nil
        var bestPriority = UInt8.max
        for index in lines.indices {
            let line = lines[index]
            if line.pending && !line.masked && !line.inService && line.priority < bestPriority {
                best = index
                bestPriority = line.priority
            }
        }
        return best
    }

    public var hasDeliverable: Bool { nextDeliverable() != nil }

    /// Takes the next deliverable line, moving it to in service.
    public mutating func takeNext() -> Delivery? {
        guard let line = nextDeliverable() else { return nil }
        let delivery = Delivery(line: line, priority: lines[line].priority, coalesced: lines[line].coalesced)
        lines[line].pending = false
        pendingCount -= 1
        lines[line].coalesced = 0
        lines[line].inService = true
        counters.delivered &+= 1
        return delivery
    }

    /// The guest has finished with the line; it may be delivered again. Returns false for a
    /// line that does not exist or is not in service.
    @discardableResult
    public mutating func endOfInterrupt(line: Int) -> Bool {
        guard isValid(line: line), lines[line].inService else { return false }
        lines[line].inService = false
        counters.acknowledged &+= 1
        return true
    }

    /// Masks or unmasks a line; a pending line becomes deliverable once unmasked.
    @discardableResult
    public mutating func setMasked(line: Int, _ masked: Bool) -> Bool {
        guard isValid(line: line) else { return false }
        lines[line].masked = masked
        return true
    }

    /// Changes a line's priority; values above `lowestPriority` are refused.
    @discardableResult
    public mutating func setPriority(line: Int, _ priority: UInt8) -> Bool {
        guard isValid(line: line), priority <= Self.lowestPriority else { return false }
        lines[line].priority = priority
        return true
    }

    /// The guest went away: a line it had taken but not acknowledged is pending again, so the
    /// interrupt is delivered to the next session rather than lost.
    mutating func requeueInService() {
        for index in lines.indices where lines[index].inService {
            lines[index].inService = false
            if !lines[index].pending {
                lines[index].pending = true
                pendingCount += 1
            }
        }
    }

    /// A fresh (non-resumed) session starts with default masks and priorities; pending lines
    /// (latched while nobody was attached) are kept.
    mutating func resetConfiguration() {
        for index in lines.indices {
            lines[index].masked = false
            lines[index].priority = Self.defaultPriority
        }
    }

    /// Lines currently pending (latched or awaiting delivery).
    public var pendingLines: [Int] { lines.indices.filter { lines[$0].pending } }
}
