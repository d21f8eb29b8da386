import EventLoop
import Testing

/// `PassBudget`: what many clients together may do per loop pass. A client that finds nothing left waits; the
/// waiting clients are served oldest first, one budget per pass, at the end of a pass (the first to wait at the end
/// of the pass after the one in which it started waiting), and no client that did not wait gets the budget before
/// them.
@Suite struct PassBudgetTests {
    final class Client {
        let name: String
        init(_ name: String) { self.name = name }
    }

    /// A budget of 100 per pass, with the pass count under the test's control; `passes` runs loop passes.
    final class Bench {
        let loop: Loop
        var pass: UInt64 = 1
        var budget: PassBudget!
        var served: [(pass: UInt64, client: String)] = []

        init() throws {
            loop = try Loop()
            budget = PassBudget(loop: loop, perPass: 100) { [unowned self] in self.pass }
        }

        func passes(_ count: Int) {
            for _ in 0..<count {
                _ = loop.runOnce(wait: false)
                pass += 1
            }
        }

        /// `client` waits; at its turn it spends `cost` and, while it has `more` turns to go, waits again.
        func wait(_ client: Client, cost: Int, more: Int = 0) {
            budget.wait(client, cost: 0) { [unowned self] in
                self.served.append((self.pass, client.name))
                self.budget.spend(cost)
                if more > 0 { self.wait(client, cost: cost, more: more - 1) }
            }
        }

        func close() -> Int32 {
            budget.close()
            return loop.shutdown()
        }
    }

    @Test func aSpentBudgetIsRenewedAtTheNextPassWhileNobodyWaits() throws {
        let bench = try Bench()
        #expect(bench.budget.mayTake())
        bench.budget.spend(60)
        #expect(bench.budget.mayTake())
        bench.budget.spend(60)
        #expect(!bench.budget.mayTake())
        bench.pass += 1
        #expect(bench.budget.mayTake() && bench.budget.remaining == 100)
        #expect(bench.close() == 0)
    }

    @Test func waitingClientsAreServedOldestFirstOneBudgetAPassNeverInThePassTheyStartedWaiting() throws {
        let bench = try Bench()
        let (a, b, c) = (Client("a"), Client("b"), Client("c"))
        bench.budget.spend(100)
        bench.wait(a, cost: 100)
        bench.wait(b, cost: 60)
        bench.wait(c, cost: 30)
        bench.wait(a, cost: 100)  // waiting twice is waiting once
        #expect(bench.budget.waitingCount == 3 && bench.budget.waits == 3)
        // While clients wait, a new pass does not renew the budget for those the poll brings.
        bench.pass += 1
        #expect(!bench.budget.mayTake())
        bench.passes(6)
        // a takes a whole budget; b and c share the next one.
        #expect(bench.served.map(\.client) == ["a", "b", "c"])
        #expect(bench.served[0].pass > 2, "not in the pass the clients started waiting in")
        #expect(bench.served[1].pass == bench.served[0].pass + 1 && bench.served[2].pass == bench.served[1].pass)
        #expect(bench.budget.waitingCount == 0)
        #expect(bench.close() == 0)
    }

    @Test func aClientThatWaitsAgainGoesBehindThoseNotReached() throws {
        let bench = try Bench()
        let (a, b, c) = (Client("a"), Client("b"), Client("c"))
        bench.budget.spend(100)
        bench.wait(a, cost: 100, more: 2)
        bench.wait(b, cost: 100)
        bench.wait(c, cost: 100)
        bench.passes(10)
        #expect(bench.served.map(\.client) == ["a", "b", "c", "a", "a"])
        // One client a pass: each spends a whole budget.
        let passes = bench.served.map(\.pass)
        #expect(zip(passes, passes.dropFirst()).allSatisfy { $1 == $0 + 1 })
        #expect(bench.close() == 0)
    }

    /// Clients with many small items each get a share of a turn: a client with one item behind two busy ones is
    /// served in the first turn, not after them.
    @Test func eachWaitingClientGetsAShareOfATurn() throws {
        let bench = try Bench()
        var left = ["a": 50, "b": 50, "c": 1]
        var done: [String: [UInt64]] = [:]
        func work(_ client: Client) {
            bench.budget.wait(client, cost: 0) {
                while left[client.name]! > 0, bench.budget.mayTake() {
                    bench.budget.spend(10)
                    left[client.name]! -= 1
                    done[client.name, default: []].append(bench.pass)
                }
                if left[client.name]! > 0 { work(client) }
            }
        }
        bench.budget.spend(100)
        for name in ["a", "b", "c"] { work(Client(name)) }
        bench.passes(2)
        // The first turn: a and b a share each (about a third of 100 in items of 10), c its one item.
        #expect(done["a"]?.count == 4 && done["b"]?.count == 4 && done["c"]?.count == 1, "\(done)")
        let turn = try #require(done["a"]?.first)
        #expect(done["c"] == [turn] && done["b"]?.allSatisfy { $0 == turn } == true)
        bench.passes(40)
        #expect(left == ["a": 0, "b": 0, "c": 0])
        #expect(bench.close() == 0)
    }

    /// Deficit round robin: a client whose item overspent its credit (a large answer) sits out turns while it pays
    /// it back, so a small item behind it is served in the next turn, and the large ones still come, a budget's
    /// worth per pass on average.
    @Test func aClientThatOverspentSitsOutWhileASmallOneBehindItIsServed() throws {
        let bench = try Bench()
        let (big, small) = (Client("big"), Client("small"))
        bench.budget.spend(100)
        bench.wait(big, cost: 1000, more: 2)
        bench.wait(small, cost: 10)
        bench.passes(3)
        #expect(bench.served.map(\.client) == ["big", "small"])
        #expect(bench.served[1].pass == bench.served[0].pass + 1)
        bench.passes(40)
        let bigTurns = bench.served.filter { $0.client == "big" }.map(\.pass)
        #expect(bigTurns.count == 3)
        // Alone, it is credited 100 a turn: about ten turns between two 1000-unit items.
        #expect(zip(bigTurns, bigTurns.dropFirst()).allSatisfy { $1 - $0 >= 9 }, "\(bigTurns)")
        #expect(bench.close() == 0)
    }

    /// An item whose cost is known beforehand (a request's bytes) waits until its client's credit covers it,
    /// while small items behind it are taken in the first turn.
    @Test func anItemLargerThanItsCreditWaitsForItWhileSmallOnesBehindItAreTaken() throws {
        let bench = try Bench()
        var taken: [(pass: UInt64, client: String)] = []
        func offer(_ client: Client, cost: Int) {
            bench.budget.wait(client, cost: cost) {
                guard bench.budget.mayTake(cost: cost) else { return offer(client, cost: cost) }
                bench.budget.spend(cost)
                taken.append((bench.pass, client.name))
            }
        }
        bench.budget.spend(100)
        offer(Client("large"), cost: 250)
        offer(Client("small"), cost: 10)
        bench.passes(3)
        #expect(taken.map(\.client) == ["small"])
        bench.passes(12)
        #expect(taken.map(\.client) == ["small", "large"])
        // Credited 50 a turn with two waiting, then 100 alone: 50 + 100 + 100 covers 250 at its third turn.
        #expect(taken[1].pass - taken[0].pass == 2, "\(taken)")
        #expect(bench.budget.waitingCount == 0)
        #expect(bench.close() == 0)
    }

    /// Items larger than what is left of a turn are taken one per turn, at its end; a small item that waits
    /// behind several of them whose credit already covers them is taken in the first turn it waits for, not after
    /// them all, and no pass takes more than its budget plus one item.
    @Test func aSmallItemBehindManyLargeOnesWaitsOneTurn() throws {
        let bench = try Bench()
        var taken: [(pass: UInt64, client: String, cost: Int)] = []
        func offer(_ client: Client, cost: Int) {
            bench.budget.wait(client, cost: cost) {
                guard bench.budget.mayTake(cost: cost) else { return offer(client, cost: cost) }
                bench.budget.spend(cost)
                taken.append((bench.pass, client.name, cost))
            }
        }
        bench.budget.spend(100)
        for index in 0..<5 { offer(Client("large\(index)"), cost: 150) }
        // Credited 20 a turn each: their credit covers 150 at the eighth turn, and from then on one is taken a turn.
        bench.passes(9)
        #expect(taken.count == 1 && taken.allSatisfy { $0.client.hasPrefix("large") }, "\(taken)")
        let waitedAt = bench.pass
        offer(Client("small"), cost: 10)
        bench.passes(1)
        #expect(taken.contains { $0.client == "small" && $0.pass == waitedAt }, "\(taken) waited at \(waitedAt)")
        bench.passes(6)
        #expect(taken.count == 6 && bench.budget.waitingCount == 0, "\(taken)")
        let largePasses = taken.filter { $0.client.hasPrefix("large") }.map(\.pass)
        #expect(Set(largePasses).count == largePasses.count, "one large item a turn: \(taken)")
        let perPass = Dictionary(grouping: taken, by: \.pass).mapValues { $0.reduce(0) { $0 + $1.cost } }
        #expect(perPass.values.allSatisfy { $0 <= 100 + 150 }, "\(perPass)")
        #expect(bench.close() == 0)
    }

    /// A large item is not starved by clients that always have small items: once its credit covers it, it is the
    /// turn's one item over what is left.
    @Test func aLargeItemIsNotStarvedByAStreamOfSmallOnes() throws {
        let bench = try Bench()
        var taken: [String] = []
        func offer(_ client: Client, cost: Int, forever: Bool) {
            bench.budget.wait(client, cost: cost) {
                while bench.budget.mayTake(cost: cost) {
                    bench.budget.spend(cost)
                    taken.append(client.name)
                    if !forever { return }
                }
                offer(client, cost: cost, forever: forever)
            }
        }
        bench.budget.spend(100)
        offer(Client("large"), cost: 300, forever: false)
        for name in ["s1", "s2", "s3"] { offer(Client(name), cost: 30, forever: true) }
        bench.passes(30)
        #expect(taken.contains("large"), "\(taken.count) small items taken, the large one never")
        #expect(taken.filter { $0 != "large" }.count > 40, "the small ones kept being served")
        #expect(bench.close() == 0)
    }

    /// A client that starts waiting does not put off a turn already armed: with a new client waiting in every
    /// pass, those waiting before it are still served at the next turn.
    @Test func newWaitersEveryPassDoNotPutOffTheTurn() throws {
        let bench = try Bench()
        bench.budget.spend(100)
        bench.wait(Client("first"), cost: 10)
        bench.passes(1)  // the turn armed at the end of the pass the client started waiting in, for the next
        var late: [Client] = []
        for index in 0..<4 {
            let client = Client("late\(index)")
            late.append(client)
            bench.wait(client, cost: 10)
            bench.passes(1)
        }
        #expect(bench.served.first?.client == "first" && bench.served.first?.pass == 2, "\(bench.served)")
        bench.passes(2)
        #expect(bench.served.count == 5, "\(bench.served)")
        #expect(bench.close() == 0)
    }

    /// A turn armed for clients that all went away before it came finds nobody: nothing is served and nothing
    /// traps (it divided the budget by the number waiting).
    @Test func aTurnWhoseClientsAllWentAwayServesNobody() throws {
        let bench = try Bench()
        let client = Client("gone")
        bench.budget.spend(100)
        bench.wait(client, cost: 10)
        bench.budget.cancel(client)
        bench.passes(3)
        #expect(bench.served.isEmpty && bench.budget.waitingCount == 0)
        #expect(bench.budget.mayTake(), "the budget is the poll's again")
        #expect(bench.close() == 0)
    }

    /// When every waiter went away and a client the poll brings takes the pass's budget and then waits, the turn
    /// already due in that pass serves it from what is left, not from a second budget.
    @Test func aPassNeverHasTwoBudgets() throws {
        let bench = try Bench()
        let (gone, late) = (Client("gone"), Client("late"))
        bench.budget.spend(100)
        bench.wait(gone, cost: 10)
        bench.passes(1)  // the turn is now armed for the end of the next pass
        bench.budget.cancel(gone)
        #expect(bench.budget.mayTake())  // nobody waits: the poll renews the budget for this pass
        bench.budget.spend(100)
        bench.wait(late, cost: 10)
        let waitedAt = bench.pass
        bench.passes(3)
        #expect(bench.served.map(\.client) == ["late"])
        #expect(bench.served.first.map { $0.pass > waitedAt } == true, "\(bench.served), waited at \(waitedAt)")
        #expect(bench.close() == 0)
    }

    /// A client that goes away while another is served in the same turn is neither served nor kept waiting.
    @Test func aClientCancelledDuringATurnIsDropped() throws {
        let bench = try Bench()
        let (first, second) = (Client("first"), Client("second"))
        bench.budget.spend(100)
        bench.budget.wait(first, cost: 0) {
            bench.served.append((bench.pass, "first"))
            bench.budget.cancel(second)  // e.g. its connection failed while the first one's answer was written
        }
        bench.wait(second, cost: 10)
        bench.passes(4)
        #expect(bench.served.map(\.client) == ["first"])
        #expect(bench.budget.waitingCount == 0)
        #expect(bench.close() == 0)
    }

    @Test func aClientThatGoesAwayIsNotResumed() throws {
        let bench = try Bench()
        let (a, b) = (Client("a"), Client("b"))
        bench.budget.spend(100)
        bench.wait(a, cost: 10)
        bench.wait(b, cost: 10)
        bench.budget.cancel(a)
        bench.passes(4)
        #expect(bench.served.map(\.client) == ["b"])
        #expect(bench.close() == 0)
    }
}
