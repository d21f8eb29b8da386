/// Server-side waits (`events.wait`): each waiter has a filter and a deadline; the first matching
/// event resolves it, or the deadline passes and it times out. Time is passed in (monotonic
/// nanoseconds), so the server arms one timer for ``nextDeadline`` and tests need no clock.
///
/// `Context` is whatever the server needs to answer the waiter (connection and request id).
public struct EventWaiters<Context: Sendable>: Sendable {
    /// Identifies a waiter, for cancellation.
    public struct ID: Sendable, Hashable {
        public let rawValue: UInt64
    }

    private struct Waiter: Sendable {
        var id: ID
        var filter: EventFilter
        var deadline: UInt64
        var context: Context
    }

    /// The most waiters held at once.
    public let limit: Int
    private var waiters: [Waiter] = []
    private var nextID: UInt64 = 1

    public init(limit: Int) { self.limit = limit }

    public var count: Int { waiters.count }

    /// Registers a wait; nil when `limit` waiters are already pending (answer with a limit error).
    public mutating func register(filter: EventFilter, deadline: UInt64, context: Context) -> ID? {
        guard waiters.count < limit else { return nil }
        let id = ID(rawValue: nextID)
        nextID += 1
        waiters.append(Waiter(id: id, filter: filter, deadline: deadline, context: context))
        return id
    }

    /// Resolves every waiter `event` matches, in registration order, and forgets them.
    public mutating func offer(_ event: HubEvent) -> [(context: Context, event: HubEvent)] {
        var resolved: [(context: Context, event: HubEvent)] = []
        waiters.removeAll { waiter in
            guard waiter.filter.matches(event) else { return false }
            resolved.append((waiter.context, event))
            return true
        }
        return resolved
    }

    /// Removes and returns the waiters whose deadline is at or before `now`, in registration order.
    public mutating func expire(now: UInt64) -> [Context] {
        var expired: [Context] = []
        waiters.removeAll { waiter in
            guard waiter.deadline <= now else { return false }
            expired.append(waiter.context)
            return true
        }
        return expired
    }

    /// The earliest pending deadline (arm the timer for it), nil when nobody waits.
    public var nextDeadline: UInt64? { waiters.map(\.deadline).min() }

    /// Cancels one waiter; returns its context if it was still pending.
    @discardableResult
    public mutating func cancel(_ id: ID) -> Context? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).context
    }

    /// Cancels every waiter whose context satisfies `predicate` (e.g. all of a closed connection's waits).
    @discardableResult
    public mutating func cancelAll(where predicate: (Context) -> Bool) -> Int {
        let before = waiters.count
        waiters.removeAll { predicate($0.context) }
        return before - waiters.count
    }
}
