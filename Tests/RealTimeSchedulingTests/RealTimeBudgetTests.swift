import RealTimeScheduling
import Testing

/// The real-time budget's decisions (`Deploy/config-reference.md`, "Real-time budget"), on a simulated clock and
/// thread demand (time run plus time waited runnable): a window that uses the budget puts the loop at normal scheduling, one under half of it gives
/// `SCHED_FIFO` back, anything between keeps the policy, and a refused change keeps it too.
@Suite struct RealTimeBudgetTests {
    /// A budget of `percent` over 10 ms windows whose clocks and policy the test drives.
    final class Rig {
        var now: UInt64 = 1_000_000_000
        /// What the thread has wanted of a CPU: time run plus time waited runnable.
        var demand: UInt64 = 0
        var demandReads = 0
        var demandReadable = true
        var kernelAgrees = true
        var policyCalls: [String] = []
        var changes: [RealTimeBudget.Change] = []
        var budget: RealTimeBudget!

        init(percent: Int) {
            budget = RealTimeBudget(
                percent: percent, windowMilliseconds: 10, now: now,
                threadDemandNanos: { [unowned self] in
                    demandReads += 1
                    return demandReadable ? demand : nil
                },
                setNormal: { [unowned self] in
                    policyCalls.append("normal")
                    return kernelAgrees
                },
                setRealTime: { [unowned self] in
                    policyCalls.append("fifo")
                    return kernelAgrees
                })
            budget.onChange = { [unowned self] in changes.append($0) }
        }

        /// One pass ending after `milliseconds` of wall time, `busyPercent` of which the thread ran and
        /// `waitingPercent` of which it waited runnable for a CPU.
        func pass(milliseconds: UInt64, busyPercent: UInt64, waitingPercent: UInt64 = 0) {
            now += milliseconds * 1_000_000
            demand += milliseconds * 1_000_000 * (busyPercent + waitingPercent) / 100
            budget.passEnded(now: now)
        }
    }

    @Test func aWindowAtTheBudgetDemotesAndOneUnderHalfOfItRestores() {
        let rig = Rig(percent: 80)
        rig.pass(milliseconds: 10, busyPercent: 79)
        #expect(!rig.budget.demoted && rig.policyCalls.isEmpty)
        rig.pass(milliseconds: 10, busyPercent: 80)
        #expect(rig.budget.demoted && rig.budget.demotions == 1)
        #expect(rig.policyCalls == ["normal"] && rig.changes == [.demoted])
        // Busy but under the budget: still demoted (no flapping while the load goes on at normal priority).
        rig.pass(milliseconds: 10, busyPercent: 60)
        rig.pass(milliseconds: 10, busyPercent: 40)
        #expect(rig.budget.demoted && rig.policyCalls == ["normal"])
        rig.pass(milliseconds: 10, busyPercent: 39)
        #expect(!rig.budget.demoted && rig.policyCalls == ["normal", "fifo"])
        #expect(rig.changes == [.demoted, .restored] && rig.budget.demotions == 1)
    }

    @Test func aSaturatedLoopGrantedLittleOfAContendedCPUStaysDemotedInsteadOfFlapping() {
        let rig = Rig(percent: 90)
        rig.pass(milliseconds: 10, busyPercent: 100)
        #expect(rig.budget.demoted)
        // At normal priority, sharing its CPU with two busy processes: it runs a third of each window and waits
        // runnable the rest. It still wants the whole CPU, so it stays demoted.
        for _ in 0..<20 { rig.pass(milliseconds: 10, busyPercent: 33, waitingPercent: 67) }
        #expect(rig.budget.demoted && rig.policyCalls == ["normal"])
        // Waiting at SCHED_FIFO (behind a higher real-time thread) counts as wanting the CPU too.
        rig.pass(milliseconds: 10, busyPercent: 10, waitingPercent: 0)
        #expect(!rig.budget.demoted)
        rig.pass(milliseconds: 10, busyPercent: 20, waitingPercent: 75)
        #expect(rig.budget.demoted && rig.budget.demotions == 2)
    }

    @Test func aWindowWhoseDemandCannotBeReadDecidesNothingAndTheNextStartsAfresh() {
        let rig = Rig(percent: 50)
        rig.pass(milliseconds: 10, busyPercent: 100)
        #expect(rig.budget.demoted)
        // Idle, but the sample cannot be read: no restore on a guess.
        rig.demandReadable = false
        rig.pass(milliseconds: 10, busyPercent: 0)
        #expect(rig.budget.demoted)
        // The first readable sample only starts a window; the one after judges it.
        rig.demandReadable = true
        rig.pass(milliseconds: 10, busyPercent: 100)
        #expect(rig.budget.demoted)
        rig.pass(milliseconds: 10, busyPercent: 0)
        #expect(!rig.budget.demoted && rig.policyCalls == ["normal", "fifo"])
    }

    @Test func nothingIsDecidedOrReadBeforeTheWindowIsOver() {
        let rig = Rig(percent: 50)
        let readsAtStart = rig.demandReads
        for _ in 0..<9 { rig.pass(milliseconds: 1, busyPercent: 100) }
        #expect(rig.demandReads == readsAtStart && !rig.budget.demoted)
        rig.pass(milliseconds: 1, busyPercent: 100)
        #expect(rig.demandReads == readsAtStart + 1 && rig.budget.demoted)
    }

    @Test func theShareIsTakenOverTheWholeWindowHoweverItsPassesWent() {
        let rig = Rig(percent: 90)
        // A 6 ms pass fully busy, then a 6 ms wait: the window ends with the second pass, 6 ms of 12 is 50%.
        rig.pass(milliseconds: 6, busyPercent: 100)
        rig.pass(milliseconds: 6, busyPercent: 0)
        #expect(!rig.budget.demoted)
        // A window over the clock's edge (a pass that ran 3 windows long) is one window, judged whole.
        rig.pass(milliseconds: 30, busyPercent: 95)
        #expect(rig.budget.demoted)
        // An idle hub whose window ends after a long sleep (the demoted hub's timer): almost nothing used.
        rig.pass(milliseconds: 5_000, busyPercent: 0)
        #expect(!rig.budget.demoted && rig.changes == [.demoted, .restored])
    }

    @Test func aRefusedChangeKeepsThePolicyAndIsCountedAndTriedAgainNextWindow() {
        let rig = Rig(percent: 50)
        rig.kernelAgrees = false
        rig.pass(milliseconds: 10, busyPercent: 100)
        #expect(!rig.budget.demoted && rig.budget.refusals == 1 && rig.budget.demotions == 0)
        #expect(rig.changes == [.refused])
        rig.kernelAgrees = true
        rig.pass(milliseconds: 10, busyPercent: 100)
        #expect(rig.budget.demoted && rig.budget.demotions == 1 && rig.changes == [.refused, .demoted])
        rig.kernelAgrees = false
        rig.pass(milliseconds: 10, busyPercent: 0)
        #expect(rig.budget.demoted && rig.budget.refusals == 2 && rig.policyCalls == ["normal", "normal", "fifo"])
    }

    @Test func aThreadClockThatGoesBackwardsCountsAsIdleRatherThanWrappingAround() {
        let rig = Rig(percent: 50)
        rig.pass(milliseconds: 10, busyPercent: 100)
        #expect(rig.budget.demoted)
        rig.demand = 0
        rig.pass(milliseconds: 10, busyPercent: 0)
        #expect(!rig.budget.demoted)
    }
}
