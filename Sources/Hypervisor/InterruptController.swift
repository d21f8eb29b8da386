/// One partition's virtual interrupt controller (`Protocols/guest.md` §6).
///
/// Each line has a priority (0 highest … 15, as in Xen's FIFO event channels), a mask bit,
/// a pending bit and an in-service bit. A raise sets pending; raises that arrive while the
/// line is already pending coalesce into one delivery and are counted. A line is
/// deliverable when it is pending, unmasked and not in service; delivering it moves it to
/// in service until the guest acknowledges it (EOI). A raise that arrives while the line is
/// in service sets pending again, so it is delivered once more after the EOI.
package struct InterruptController: Sendable {
    /// The largest number of lines one controller may have; bounds memory per partition.
    package static let maximumLineCount = 1024
    /// The lowest priority (numerically the largest).
    package static let lowestPriority: UInt8 = 15
    /// The priority lines start with, matching Xen's EVTCHN_FIFO_PRIORITY_DEFAULT.
    package static let defaultPriority: UInt8 = 7

    /// The state of one line.
    package struct Line: Sendable, Equatable {
        package var priority: UInt8
        package var masked: Bool = false
        package var pending: Bool = false
        package var inService: Bool = false
        /// Raises folded into the pending delivery, the first one included (0 while not pending): what
        /// `IRQ.coalesced` reports (`Protocols/guest.md` §6.3), so two raises read 2.
        package var coalesced: UInt32 = 0
        /// The raises the delivery in service stands for (0 while none is): if its guest goes away before the
        /// EOI, they are pending again with this count, so the next session's `IRQ` reports them, never 0.
        package var inServiceCoalesced: UInt32 = 0
    }

    /// What `raise` did.
    package enum RaiseResult: Sendable, Equatable {
        /// The line became pending.
        case pending
        /// The line was already pending; the raise was folded into it.
        case coalesced
        case noSuchLine
    }

    /// One delivery taken from the controller.
    package struct Delivery: Sendable, Equatable {
        package var line: Int
        package var priority: UInt8
        /// How many raises were folded into this delivery, ≥ 1 (`Protocols/guest.md` §6.3).
        package var coalesced: UInt32
    }

    /// Running totals for the controller's lifetime.
    package struct Counters: Sendable, Equatable {
        package var raised: UInt64 = 0
        package var coalesced: UInt64 = 0
        package var delivered: UInt64 = 0
        package var acknowledged: UInt64 = 0
    }

    package private(set) var lines: [Line]
    package private(set) var counters = Counters()

    /// The deliverable lines (pending, unmasked, not in service) as one bitmap per priority: bit `i` of word `w`
    /// of priority `p`'s words (`p * wordsPerPriority + w`) is line `64 * w + i`. Why: every delivery pass asks
    /// each real-time partition for its next deliverable line, and a scan of every line (up to
    /// `maximumLineCount`) made that cost grow with lines a guest may keep pending in service; the bitmaps
    /// answer with two bit scans however many lines there are.
    private var deliverable: [UInt64]
    /// 64 lines a word, at least one word.
    private let wordsPerPriority: Int
    /// Bit `p` set: priority `p` has a deliverable line.
    private var prioritiesWithDeliverable: UInt16 = 0

    /// Creates a controller with `lineCount` lines (clamped to `0...maximumLineCount`), all
    /// unmasked at `defaultPriority`.
    package init(lineCount: Int) {
        let count = max(0, min(lineCount, Self.maximumLineCount))
        lines = Array(repeating: Line(priority: Self.defaultPriority), count: count)
        wordsPerPriority = max(1, (count + 63) / 64)
        deliverable = Array(repeating: 0, count: (Int(Self.lowestPriority) + 1) * wordsPerPriority)
    }

    package var lineCount: Int { lines.count }

    package func isValid(line: Int) -> Bool { line >= 0 && line < lines.count }

    /// Sets the line pending, or folds the raise into a pending one.
    package mutating func raise(line: Int) -> RaiseResult {
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
        updateDeliverable(line)
        return .pending
    }

    /// Lines with their pending bit set.
    package private(set) var pendingCount = 0

    /// The highest-priority line that is pending, unmasked and not in service; ties go to the
    /// lowest line number.
    package func nextDeliverable() -> Int? {
        guard prioritiesWithDeliverable != 0 else { return nil }
        let first = prioritiesWithDeliverable.trailingZeroBitCount * wordsPerPriority
        for word in 0..<wordsPerPriority where deliverable[first + word] != 0 {
            return word * 64 + deliverable[first + word].trailingZeroBitCount
        }
        return nil
    }

    /// Sets or clears `index`'s bit in its priority's bitmap from the line's state.
    private mutating func updateDeliverable(_ index: Int) {
        let line = lines[index]
        setDeliverable(index, priority: line.priority, line.pending && !line.masked && !line.inService)
    }

    private mutating func setDeliverable(_ index: Int, priority: UInt8, _ isDeliverable: Bool) {
        let first = Int(priority) * wordsPerPriority
        let bit = UInt64(1) << UInt64(index & 63)
        if isDeliverable {
            deliverable[first + (index >> 6)] |= bit
            prioritiesWithDeliverable |= 1 << UInt16(priority)
            return
        }
        deliverable[first + (index >> 6)] &= ~bit
        if deliverable[first + (index >> 6)] == 0
            && !(first..<first + wordsPerPriority).contains(where: { deliverable[$0] != 0 })
        {
            prioritiesWithDeliverable &= ~(1 << UInt16(priority))
        }
    }

    package var hasDeliverable: Bool { nextDeliverable() != nil }

    /// Takes the next deliverable line, moving it to in service.
    package mutating func takeNext() -> Delivery? {
        guard let line = nextDeliverable() else { return nil }
        let delivery = Delivery(line: line, priority: lines[line].priority, coalesced: lines[line].coalesced)
        lines[line].pending = false
        pendingCount -= 1
        lines[line].inServiceCoalesced = lines[line].coalesced
        lines[line].coalesced = 0
        lines[line].inService = true
        setDeliverable(line, priority: delivery.priority, false)
        counters.delivered &+= 1
        return delivery
    }

    /// The guest has finished with the line; it may be delivered again. Returns false for a
    /// line that does not exist or is not in service.
    @discardableResult
    package mutating func endOfInterrupt(line: Int) -> Bool {
        guard isValid(line: line), lines[line].inService else { return false }
        lines[line].inService = false
        lines[line].inServiceCoalesced = 0
        counters.acknowledged &+= 1
        updateDeliverable(line)
        return true
    }

    /// Masks or unmasks a line; a pending line becomes deliverable once unmasked.
    @discardableResult
    package mutating func setMasked(line: Int, _ masked: Bool) -> Bool {
        guard isValid(line: line) else { return false }
        lines[line].masked = masked
        updateDeliverable(line)
        return true
    }

    /// Changes a line's priority; values above `lowestPriority` are refused.
    @discardableResult
    package mutating func setPriority(line: Int, _ priority: UInt8) -> Bool {
        guard isValid(line: line), priority <= Self.lowestPriority else { return false }
        setDeliverable(line, priority: lines[line].priority, false)
        lines[line].priority = priority
        updateDeliverable(line)
        return true
    }

    /// The guest went away: a line it had taken but not acknowledged is pending again, so the
    /// interrupt is delivered to the next session rather than lost, standing for the raises of the delivery
    /// that was not acknowledged as well as any that came during its service.
    mutating func requeueInService() {
        for index in lines.indices where lines[index].inService {
            lines[index].inService = false
            lines[index].coalesced &+= max(1, lines[index].inServiceCoalesced)
            lines[index].inServiceCoalesced = 0
            if !lines[index].pending {
                lines[index].pending = true
                pendingCount += 1
            }
            updateDeliverable(index)
        }
    }

    /// A fresh (non-resumed) session starts with default masks and priorities; pending lines
    /// (latched while nobody was attached) are kept.
    mutating func resetConfiguration() {
        for index in lines.indices {
            setDeliverable(index, priority: lines[index].priority, false)
            lines[index].masked = false
            lines[index].priority = Self.defaultPriority
            updateDeliverable(index)
        }
    }

    /// Lines currently pending (latched or awaiting delivery).
    package var pendingLines: [Int] { lines.indices.filter { lines[$0].pending } }
}
