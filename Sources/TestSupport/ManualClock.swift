import Hypervisor

/// A clock and scheduler that moves only when a test says so.
///
/// `advance(by:fire:)` walks time forward to each due deadline in order, sets `now` to that
/// deadline and reports the token, so a periodic timer that re-arms itself inside `fire`
/// fires again within the same advance when its next deadline is due.
package final class ManualClock: Scheduler {
    package private(set) var now: UInt64
    private var nextToken: UInt64 = 0
    /// Armed tokens and their deadlines; ties fire in arming order.
    private var armed: [(token: TimerToken, deadline: UInt64)] = []

    package init(now: UInt64 = 0) { self.now = now }

    package func schedule(after nanoseconds: UInt64) -> TimerToken {
        nextToken += 1
        let token = TimerToken(rawValue: nextToken)
        armed.append((token, now &+ nanoseconds))
        return token
    }

    package func cancel(_ token: TimerToken) {
        armed.removeAll { $0.token == token }
    }

    /// Tokens armed and not yet fired or cancelled.
    package var armedCount: Int { armed.count }

    /// Moves time forward by `nanoseconds`, reporting each timer that comes due.
    package func advance(by nanoseconds: UInt64, fire: (TimerToken) -> Void) {
        let target = now &+ nanoseconds
        while let position = nextDue(before: target) {
            let (token, deadline) = armed.remove(at: position)
            now = max(now, deadline)
            fire(token)
        }
        now = target
    }

    private func nextDue(before target: UInt64) -> Int? {
        var best: Int? = nil
        for index in armed.indices where armed[index].deadline <= target {
            if best == nil || armed[index].deadline < armed[best!].deadline { best = index }
        }
        return best
    }
}

extension ManualClock {
    /// Advances time and feeds every due timer to `platform`, returning the actions produced.
    package func advance(by nanoseconds: UInt64, platform: Platform) -> [Action] {
        var actions: [Action] = []
        advance(by: nanoseconds) { platform.timerFired($0, actions: &actions) }
        return actions
    }
}
