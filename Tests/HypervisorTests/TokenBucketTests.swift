import Hypervisor
import PlatformConfig
import Testing

/// The token bucket behind per-link rate budgets (`Protocols/guest.md` §7.12): time is passed in, so these tests
/// drive it with hostile clocks and values.
@Suite struct TokenBucketTests {
    private let second: UInt64 = 1_000_000_000

    @Test func aFullBucketPassesItsBurstThenRefillsAtItsRate() {
        var bucket = TokenBucket(rate: 10, burst: 4, now: 1000)
        for _ in 0..<4 { #expect(bucket.take(1, now: 1000) == true) }
        #expect(bucket.take(1, now: 1000) == false)
        // 10 per second: one token every 100 ms, not a moment earlier.
        #expect(bucket.take(1, now: 1000 + second / 10 - 1) == false)
        #expect(bucket.take(1, now: 1000 + second / 10) == true)
        #expect(bucket.take(1, now: 1000 + second / 10) == false)
    }

    @Test func fractionsOfATokenAccumulateWithoutDrift() {
        // A burst of 2 that is never reached below, so the cap cuts no fraction off.
        var bucket = TokenBucket(rate: 3, burst: 2, now: 0)
        #expect(bucket.take(2, now: 0) == true)
        // 3 per second: a token each third of a second; three steps of 111 ms are not yet one token.
        var now: UInt64 = 0
        for _ in 0..<3 {
            now += 111_111_111
            #expect(bucket.take(1, now: now) == false)
        }
        now += 2
        #expect(bucket.take(1, now: now) == true)
        // Over 3 seconds in 1 ms steps exactly 9 tokens come, no more, no fewer.
        var passed = 0
        for _ in 0..<3000 {
            now += 1_000_000
            if bucket.take(1, now: now) { passed += 1 }
        }
        #expect(passed == 9)
    }

    @Test func aLongIdleSpellFillsTheBucketToItsBurstOnly() {
        var bucket = TokenBucket(rate: 1000, burst: 5, now: 0)
        for _ in 0..<5 { _ = bucket.take(1, now: 0) }
        #expect(bucket.available(now: 3600 * second) == 5)
        for _ in 0..<5 { #expect(bucket.take(1, now: 3600 * second) == true) }
        #expect(bucket.take(1, now: 3600 * second) == false)
    }

    @Test func aClockJumpingToTheEndOfTimeFillsAndNeverWraps() {
        var bucket = TokenBucket(rate: UInt64.max, burst: TokenBucket.maxBurst, now: 0)
        #expect(bucket.take(TokenBucket.maxBurst, now: 0) == true)
        #expect(bucket.available(now: 0) == 0)
        // elapsed × rate overflows 64 bits: the bucket is full, not wrapped to a small level.
        #expect(bucket.available(now: UInt64.max) == TokenBucket.maxBurst)
        #expect(bucket.take(TokenBucket.maxBurst, now: UInt64.max) == true)
        #expect(bucket.take(1, now: UInt64.max) == false)
    }

    @Test func aClockGoingBackAddsNothingAndCountsOnFromTheEarlierTime() {
        var bucket = TokenBucket(rate: 10, burst: 2, now: 10 * second)
        #expect(bucket.take(2, now: 10 * second) == true)
        // Back by five seconds: no tokens appear (a naive `now - last` would wrap to a huge refill).
        #expect(bucket.take(1, now: 5 * second) == false)
        #expect(bucket.available(now: 5 * second) == 0)
        // Forward again from the earlier time: 100 ms from there gives one token.
        #expect(bucket.take(1, now: 5 * second + second / 10) == true)
        #expect(bucket.take(1, now: 5 * second + second / 10) == false)
    }

    @Test func hostileParametersAreClampedAndHostileCostsRefused() {
        var zero = TokenBucket(rate: 0, burst: 0, now: 0)
        #expect(zero.rate == 1 && zero.burst == 1)
        #expect(zero.take(1, now: 0) == true)
        #expect(zero.take(1, now: 0) == false)
        var huge = TokenBucket(rate: UInt64.max, burst: UInt64.max, now: 0)
        #expect(huge.burst == TokenBucket.maxBurst)
        // A cost whose nano-token count overflows, or above the burst, never passes and takes nothing.
        #expect(huge.take(UInt64.max, now: 0) == false)
        #expect(huge.take(TokenBucket.maxBurst + 1, now: 0) == false)
        #expect(huge.available(now: 0) == TokenBucket.maxBurst)
        #expect(huge.take(0, now: 0) == true)
    }

    @Test func aBudgetPassesOnlyWhenBothBucketsHaveRoomAndARefusalTakesNothing() {
        let limit = LinkRateLimit(messagesPerSecond: 10, bytesPerSecond: 100, burstMessages: 3)
        var budget = SendBudget(limit, maxMessageBytes: 64, now: 0)
        // The byte burst is one second's worth (100) — at least maxMessageBytes.
        #expect(budget.admit(byteCount: 64, now: 0) == true)
        // 36 bytes left: a 64-byte message is refused, and the refusal took no message token.
        #expect(budget.admit(byteCount: 64, now: 0) == false)
        #expect(budget.available(now: 0).messages == 2)
        #expect(budget.admit(byteCount: 36, now: 0) == true)
        #expect(budget.admit(byteCount: 0, now: 0) == true)
        // Message bucket empty now: even an empty message waits, and the byte bucket keeps what it had.
        #expect(budget.admit(byteCount: 0, now: 0) == false)
        #expect(budget.available(now: 0).bytes == 0)
        #expect(budget.admit(byteCount: 10, now: second / 10) == true)
    }

    @Test func aByteBurstIsNeverSmallerThanTheLargestMessage() {
        var budget = SendBudget(LinkRateLimit(bytesPerSecond: 10), maxMessageBytes: 4096, now: 0)
        #expect(budget.messages == nil)
        #expect(budget.admit(byteCount: 4096, now: 0) == true)
        #expect(budget.admit(byteCount: 1, now: 0) == false)
        // 4096 bytes at 10 bytes/s: 409.6 s later the largest message passes again.
        #expect(budget.admit(byteCount: 4096, now: 409 * second) == false)
        #expect(budget.admit(byteCount: 4096, now: 410 * second) == true)
    }
}
