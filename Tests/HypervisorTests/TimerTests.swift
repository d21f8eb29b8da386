import Hypervisor
import TestSupport
import Testing

@Suite struct TimerTests {
    @Test func oneShotFiresOnceAtItsDeadline() throws {
        let fixture = try Fixture()
        let linux = fixture.attach("linux")
        #expect(fixture.platform.armTimer(session: linux.session, line: 6, afterNanoseconds: 1_000_000) == .ok)
        #expect(fixture.clock.advance(by: 999_999, platform: fixture.platform).isEmpty)
        #expect(fixture.drain().isEmpty)
        _ = fixture.clock.advance(by: 1, platform: fixture.platform)
        #expect(fixture.drain().compactMap(\.interrupt).map(\.line) == [6])
        #expect(fixture.platform.endOfInterrupt(session: linux.session, line: 6) == .ok)
        _ = fixture.clock.advance(by: 10_000_000, platform: fixture.platform)
        #expect(fixture.drain().isEmpty)
        #expect(fixture.clock.armedCount == 0)
    }

    /// TIMER_SET carries u64 microseconds: a period whose second deadline is past the end of the clock is
    /// refused when armed (it wrapped on re-arming, and computing the next delay trapped).
    @Test func aPeriodThatWouldWrapTheClockIsRefused() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        let huge = UInt64.max / 1000 * 1000
        #expect(
            fixture.platform.armTimer(session: rtos.session, line: 0, afterNanoseconds: 1000, periodNanoseconds: huge)
                == .invalid)
        #expect(fixture.clock.armedCount == 0)
        // The largest period that fits is accepted: it fires, and is re-armed at the last instant of the clock.
        let fits = UInt64.max - fixture.clock.now - 1000
        #expect(
            fixture.platform.armTimer(session: rtos.session, line: 0, afterNanoseconds: 1000, periodNanoseconds: fits)
                == .ok)
        _ = fixture.clock.advance(by: 2000, platform: fixture.platform)
        #expect(fixture.drain().compactMap(\.interrupt).map(\.line) == [0])
        #expect(fixture.platform.cancelTimer(session: rtos.session, line: 0) == .ok)
    }

    /// What TIMER_SET (microseconds) may ask for (guest.md §6.7): the refusal names the bound, and exactly the
    /// values `armTimer` would refuse for their size are refused.
    @Test func timerValuesOutOfRangeAreRefusedNamingTheBound() throws {
        let fixture = try Fixture()
        let minimum = fixture.platform.options.minimumTimerPeriodNanoseconds / 1000
        #expect(fixture.platform.timerRefusal(firstDelayMicroseconds: 0, periodMicroseconds: 0) == nil)
        #expect(fixture.platform.timerRefusal(firstDelayMicroseconds: 10, periodMicroseconds: minimum) == nil)
        #expect(
            fixture.platform.timerRefusal(firstDelayMicroseconds: 10, periodMicroseconds: minimum - 1)
                == "period_us \(minimum - 1) is below the minimum of \(minimum)")
        #expect(fixture.platform.timerRefusal(firstDelayMicroseconds: 10, periodMicroseconds: 1) != nil)
        let clock = "first_delay_us and period_us must keep the timer within the hub's clock (2^64 ns)"
        for (delay, period): (UInt64, UInt64) in [(1 << 63, 0), (UInt64.max, 0), (1, UInt64.max), (0, 1 << 62)] {
            #expect(fixture.platform.timerRefusal(firstDelayMicroseconds: delay, periodMicroseconds: period) == clock)
        }
        // Within the clock: accepted here and armed there.
        let rtos = fixture.attach("rtos")
        let delay = (UInt64.max - fixture.clock.now) / 1000 / 2
        #expect(fixture.platform.timerRefusal(firstDelayMicroseconds: delay, periodMicroseconds: 0) == nil)
        #expect(fixture.platform.armTimer(session: rtos.session, line: 0, afterNanoseconds: delay * 1000) == .ok)
    }

    @Test func periodicFiresEveryPeriodAndCoalescesWhileUnacknowledged() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        let period: UInt64 = 1_000_000
        #expect(
            fixture.platform.armTimer(
                session: rtos.session, line: 0, afterNanoseconds: period, periodNanoseconds: period)
                == .ok)
        var deliveries = 0
        for _ in 0..<5 {
            _ = fixture.clock.advance(by: period, platform: fixture.platform)
            let fired = fixture.drain().compactMap(\.interrupt)
            #expect(fired.map(\.line) == [0])
            #expect(fired.first?.coalesced == 1)
            deliveries += fired.count
            #expect(fixture.platform.endOfInterrupt(session: rtos.session, line: 0) == .ok)
        }
        #expect(deliveries == 5)
        // Three periods without EOI: one delivery in service, the next raises coalesce.
        _ = fixture.clock.advance(by: period, platform: fixture.platform)
        #expect(fixture.drain().count == 1)
        _ = fixture.clock.advance(by: 3 * period, platform: fixture.platform)
        #expect(fixture.drain().isEmpty)
        #expect(fixture.platform.endOfInterrupt(session: rtos.session, line: 0) == .ok)
        #expect(fixture.drain().compactMap(\.interrupt).first?.coalesced == 3)

        #expect(fixture.platform.cancelTimer(session: rtos.session, line: 0) == .ok)
        #expect(fixture.clock.armedCount == 0)
    }

    @Test func periodBelowMinimumIsRefused() throws {
        let fixture = try Fixture()
        let rtos = fixture.attach("rtos")
        #expect(
            fixture.platform.armTimer(session: rtos.session, line: 0, afterNanoseconds: 0, periodNanoseconds: 1)
                == .invalid)
        #expect(fixture.platform.armTimer(session: rtos.session, line: 99, afterNanoseconds: 0) == .noSuchLine)
    }
}
