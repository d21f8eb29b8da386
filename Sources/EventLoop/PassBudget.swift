/// Work per loop pass shared by many clients of one kind (`Sources/ARCHITECTURE.md`, "Bounded slices per
/// pass"): each client spends what it did; once nothing is left a client waits, and the waiting clients are
/// served in turns at the end of a pass (`EndOfPass`) with that pass's budget: the first client to wait is served
/// at the end of the next pass, and one that starts waiting while a turn is due joins it. No pass has more than
/// one budget: the poll takes from it only while nobody waits. Turns are deficit round robin: each waiting client is credited an equal share
/// of the budget per turn and takes an item when its credit covers the item's known cost (a request's bytes);
/// what the item turned out to cost (its answer too) is charged after, so one that overspent sits out turns
/// until its credit is positive again, and a large item waits until its credit has grown to it. Within a turn
/// the items that fit what is left of the budget are taken in order, and then at most one that does not (the
/// first whose credit covers it), so a small request behind many large ones waits about one pass, not one per
/// large one, and a large one is never starved by a stream of small ones. A budget per client would let the
/// work of a pass grow with the number of clients; this one bounds the whole pass (the budget plus one item,
/// which is never split), and no waiting client is overtaken by one that did not wait.
package final class PassBudget {
    /// What one pass may spend.
    package let perPass: Int
    package private(set) var remaining: Int
    /// Times a client had to wait for a turn.
    package private(set) var waits: UInt64 = 0
    private var waiting: [Waiter] = []
    private var turn: EndOfPass?
    /// A turn is armed (for the end of this pass or of the next).
    private var turnArmed = false
    /// Clients that went away during the turn being served.
    private var cancelledInTurn: Set<ObjectIdentifier> = []
    private let loop: Loop
    /// The loop's pass count, when known: the budget is renewed at each new pass while nobody waits.
    private let passNumber: () -> UInt64?
    private var budgetPass: UInt64?
    /// In `serveTurn` (the check phase): a turn armed now is the next pass's.
    private var serving = false
    /// The credit of the client being served in a turn, spent as it goes.
    private var credit = 0
    /// In a turn, the client being served may take one item larger than what is left of the budget (it is the
    /// turn's one item over the budget).
    private var mayOverspend = false
    /// The credit of each waiting client (deficit round robin): positive, what it may spend; negative, what it
    /// overspent. Kept while it waits; a client that stops waiting starts afresh.
    private var credits: [ObjectIdentifier: Int] = [:]

    package init(loop: Loop, perPass: Int, passNumber: @escaping () -> UInt64?) {
        self.loop = loop
        self.perPass = max(1, perPass)
        remaining = self.perPass
        self.passNumber = passNumber
        budgetPass = passNumber()
    }

    /// Whether an item of `cost` (what is known of it beforehand; 0 when nothing is) may be taken now. Outside a
    /// turn: while something is left of this pass's budget and nobody waits (only a turn renews the budget then,
    /// so a client the poll brings cannot take it from those waiting before it). In a turn: while the client's
    /// credit covers the cost and something is left of the budget.
    package func mayTake(cost: Int = 0) -> Bool {
        if serving {
            guard credit > 0, credit >= cost else { return false }
            if mayOverspend {
                mayOverspend = false
                return true
            }
            return remaining > 0 && cost <= remaining
        }
        guard waiting.isEmpty else { return false }
        if let pass = passNumber(), pass != budgetPass {
            budgetPass = pass
            remaining = perPass
        }
        return remaining > 0
    }

    package var waitingCount: Int { waiting.count }

    /// What an item cost, charged to the pass and, in a turn, to the client's credit.
    package func spend(_ amount: Int) {
        remaining -= max(0, amount)
        if serving { credit -= max(0, amount) }
    }

    /// `owner` waits for a turn; `resume` runs then (it may take items while `mayTake` allows, and wait again).
    /// `cost` is what its next item is known to cost (0 when nothing is known). Waiting twice is waiting once.
    package func wait(_ owner: AnyObject, cost: Int = 0, resume: @escaping () -> Void) {
        let id = ObjectIdentifier(owner)
        guard !waiting.contains(where: { $0.owner == id }) else { return }
        waits &+= 1
        waiting.append(Waiter(owner: id, cost: max(0, cost), resume: resume))
        armTurn()
    }

    /// `owner` no longer waits (it went away).
    package func cancel(_ owner: AnyObject) {
        let id = ObjectIdentifier(owner)
        waiting.removeAll { $0.owner == id }
        credits[id] = nil
        // A turn in progress holds its own list of those it serves: it must not serve this one, nor keep it.
        if serving { cancelledInTurn.insert(id) }
    }

    package func close() {
        waiting.removeAll()
        credits.removeAll()
        turn?.close()
        turn = nil
        turnArmed = false
    }

    private func armTurn() {
        // Armed is armed: re-arming would replace the armed turn with one a pass later, so clients that start
        // waiting in every pass would put the turn off for as long as they kept coming.
        guard !turnArmed else { return }
        if turn == nil { turn = try? EndOfPass(loop: loop) }
        guard let turn else {
            // Without the handle nobody would be resumed: serve at once rather than strand them.
            if !serving { serveTurn() }
            return
        }
        turnArmed = true
        if serving {
            turn.arm { [unowned self] in self.serveTurn() }
        } else {
            // Armed outside the check phase it would run at the end of this pass, a second budget in one pass:
            // that end arms the turn for the next one.
            turn.arm { [unowned self] in self.turn?.arm { [unowned self] in self.serveTurn() } }
        }
    }

    /// A fresh budget for the waiting clients, in order, each credited a share: first every client whose next item
    /// fits what is left, then the first one whose credit covers an item that does not (the turn's one item over
    /// the budget). Those not served keep their place ahead of any that wait again. Armed from here (the check
    /// phase), the next turn is the next pass's.
    private func serveTurn() {
        turnArmed = false
        serving = true
        defer {
            serving = false
            mayOverspend = false
        }
        defer { cancelledInTurn.removeAll() }
        // One budget a pass: a pass whose budget the poll already renewed (every waiter had gone away, so a client
        // took it and then waited) serves the turn from what is left of it.
        let pass = passNumber()
        if pass == nil || pass != budgetPass { remaining = perPass }
        budgetPass = pass
        let queue = waiting
        // Everyone who waited went away since the turn was armed.
        guard !queue.isEmpty else { return }
        waiting.removeAll(keepingCapacity: true)
        let share = max(1, perPass / queue.count)
        var kept: [Waiter] = []
        var overBudget: Int?  // index in `kept` of the first item too large for what was left
        for entry in queue where !cancelledInTurn.contains(entry.owner) {
            let balance = (credits[entry.owner] ?? 0) + share
            credits[entry.owner] = balance
            guard balance > 0, balance >= entry.cost else {
                kept.append(entry)  // still paying for what it overspent, or saving up for a large item
                continue
            }
            guard remaining > 0 else {
                kept.append(entry)  // nothing left for this turn
                continue
            }
            guard entry.cost <= remaining else {
                if overBudget == nil { overBudget = kept.count }
                kept.append(entry)
                continue
            }
            serve(entry)
        }
        // Only while something is left: an item whose cost was not known beforehand (an answer) may have spent
        // past the budget already, and the pass takes at most one item over it.
        if let index = overBudget, remaining > 0, !cancelledInTurn.contains(kept[index].owner) {
            let entry = kept.remove(at: index)
            mayOverspend = true
            serve(entry)
        }
        credit = 0
        let again = waiting
        waiting = kept.filter { !cancelledInTurn.contains($0.owner) }
        for entry in again where !waiting.contains(where: { $0.owner == entry.owner }) { waiting.append(entry) }
        if !waiting.isEmpty { armTurn() }
    }

    /// Resumes one waiting client with its credit; a client that does not wait again starts afresh next time.
    private func serve(_ entry: Waiter) {
        credit = credits[entry.owner] ?? 0
        entry.resume()
        let waitsAgain = waiting.contains(where: { $0.owner == entry.owner }) && !cancelledInTurn.contains(entry.owner)
        credits[entry.owner] = waitsAgain ? credit : nil
    }

    private struct Waiter {
        let owner: ObjectIdentifier
        /// What its next item is known to cost.
        let cost: Int
        let resume: () -> Void
    }
}
