import PlatformConfig

/// A token bucket: `rate` tokens per second, at most `burst` held (`Protocols/guest.md` §7.12, per-link send
/// budgets). The caller passes the time in (monotonic nanoseconds from the model's `Clock`), so tests drive it with
/// a manual clock and nothing here reads a system clock.
///
/// Tokens are kept in nano-tokens (tokens × 10⁹), so a refill of `elapsed` nanoseconds adds exactly
/// `elapsed × rate` nano-tokens with no division and no rounding drift. Every product is computed with overflow
/// reported: a clock that jumps far ahead fills the bucket (never wraps it), and a clock that goes back adds
/// nothing and restarts the count from the earlier time.
package struct TokenBucket: Sendable, Equatable {
    package static let nanosPerSecond: UInt64 = 1_000_000_000
    /// The largest burst whose nano-token count fits in 64 bits.
    package static let maxBurst: UInt64 = UInt64.max / nanosPerSecond

    /// Tokens added per second (≥ 1).
    package let rate: UInt64
    /// Tokens held at most (1 … `maxBurst`).
    package let burst: UInt64
    /// Nano-tokens held now, ≤ `burst × 10⁹`.
    private(set) var level: UInt64
    /// When `level` was last brought up to date.
    private(set) var updatedAt: UInt64

    /// A full bucket at time `now`. `rate` and `burst` are clamped to 1 … `maxBurst` (a rate of 0 would be no
    /// budget at all: callers that mean "unlimited" use no bucket).
    package init(rate: UInt64, burst: UInt64, now: UInt64) {
        self.rate = min(max(1, rate), TokenBucket.maxBurst)
        self.burst = min(max(1, burst), TokenBucket.maxBurst)
        level = self.burst * TokenBucket.nanosPerSecond
        updatedAt = now
    }

    /// A bucket of `rate` and `burst` that takes over what `previous` holds at `now` (brought up to date at its
    /// own rate first), capped at the new burst; full when there is no previous bucket (that dimension was
    /// unlimited). A budget changed while the hub runs (`Protocols/policy.md` §3, rate limits) so neither
    /// refills a sender that has spent its tokens nor lets one that was idle send more than the new burst at once.
    package init(rate: UInt64, burst: UInt64, now: UInt64, carrying previous: TokenBucket?) {
        self.init(rate: rate, burst: burst, now: now)
        guard var previous else { return }
        previous.refill(now: now)
        level = min(level, previous.level)
    }

    private var capacity: UInt64 { burst * TokenBucket.nanosPerSecond }

    /// Adds what time brought since the last update.
    package mutating func refill(now: UInt64) {
        guard now > updatedAt else {
            // The clock went back (or stood still): nothing is added, and counting restarts from `now` so a later
            // forward step is measured from here, not from a future time that might never come again.
            updatedAt = now
            return
        }
        let (added, overflow) = (now - updatedAt).multipliedReportingOverflow(by: rate)
        updatedAt = now
        let (sum, sumOverflow) = level.addingReportingOverflow(added)
        level = overflow || sumOverflow ? capacity : min(capacity, sum)
    }

    /// Whole tokens held at `now`.
    package mutating func available(now: UInt64) -> UInt64 {
        refill(now: now)
        return level / TokenBucket.nanosPerSecond
    }

    /// Whether `cost` tokens are there at `now`, without taking them.
    package mutating func canTake(_ cost: UInt64, now: UInt64) -> Bool {
        refill(now: now)
        let (needed, overflow) = cost.multipliedReportingOverflow(by: TokenBucket.nanosPerSecond)
        return !overflow && needed <= level
    }

    /// Takes `cost` tokens if they are there at `now`; a cost above `burst` never passes.
    package mutating func take(_ cost: UInt64, now: UInt64) -> Bool {
        guard canTake(cost, now: now) else { return false }
        level -= cost * TokenBucket.nanosPerSecond
        return true
    }
}

/// One sending direction's budget: a message bucket and a byte bucket, either absent when unlimited. A send passes
/// only when both have room, and then takes from both; a refused send takes nothing.
package struct SendBudget: Sendable, Equatable {
    package private(set) var messages: TokenBucket?
    package private(set) var bytes: TokenBucket?
    /// The configuration it was built from (shown by `link.get`).
    package let limit: LinkRateLimit

    /// The budget of `limit` for a link whose largest message is `maxMessageBytes`, full at `now`.
    package init(_ limit: LinkRateLimit, maxMessageBytes: Int, now: UInt64) {
        self.limit = limit
        if limit.messagesPerSecond > 0 {
            messages = TokenBucket(
                rate: UInt64(limit.messagesPerSecond), burst: UInt64(limit.effectiveBurstMessages), now: now)
        }
        if limit.bytesPerSecond > 0 {
            bytes = TokenBucket(
                rate: UInt64(limit.bytesPerSecond),
                burst: UInt64(limit.effectiveBurstBytes(maxMessageBytes: max(0, maxMessageBytes))), now: now)
        }
    }

    /// The budget of `limit` that takes over what `previous` holds at `now`, bucket by bucket
    /// (`TokenBucket.init(rate:burst:now:carrying:)`): a profile switch changes how fast a sender may send from
    /// now on, never what it has already spent.
    package init(_ limit: LinkRateLimit, maxMessageBytes: Int, now: UInt64, carrying previous: SendBudget?) {
        self.init(limit, maxMessageBytes: maxMessageBytes, now: now)
        if let bucket = messages {
            messages = TokenBucket(rate: bucket.rate, burst: bucket.burst, now: now, carrying: previous?.messages)
        }
        if let bucket = bytes {
            bytes = TokenBucket(rate: bucket.rate, burst: bucket.burst, now: now, carrying: previous?.bytes)
        }
    }

    package var isUnlimited: Bool { messages == nil && bytes == nil }

    /// Takes one message of `byteCount` bytes from the budget if both buckets have room at `now`.
    package mutating func admit(byteCount: Int, now: UInt64) -> Bool {
        let cost = UInt64(max(0, byteCount))
        guard messages?.canTake(1, now: now) ?? true, bytes?.canTake(cost, now: now) ?? true else { return false }
        _ = messages?.take(1, now: now)
        _ = bytes?.take(cost, now: now)
        return true
    }

    /// Whole messages and bytes the budget would let through at `now` (nil: unlimited).
    package mutating func available(now: UInt64) -> (messages: UInt64?, bytes: UInt64?) {
        (messages?.available(now: now), bytes?.available(now: now))
    }
}
