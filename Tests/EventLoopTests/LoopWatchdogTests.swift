import EventLoop
import Glibc
import Testing

@Suite struct LoopWatchdogTests {
    /// A callback that holds the loop makes a long pass; the time the loop sleeps in poll does not count.
    @Test func aPassThatHoldsTheLoopIsMeasuredAndReported() throws {
        var stalls: [UInt64] = []
        var watchdog: LoopWatchdog?
        try withLoop { loop, finish in
            let dog = try LoopWatchdog(loop: loop, stallThresholdNanos: 40_000_000)
            watchdog = dog
            dog.onStall = { stalls.append($0) }
            // First a wait in poll of 300 ms (not busy), then a pass kept busy for 60 ms.
            try Timer.once(loop: loop, afterMilliseconds: 300) {
                usleep(60_000)
                // The busy time is counted at the next check phase. libuv 1.44 runs due timers both before the
                // poll and, in a UV_RUN_ONCE pass, after the check: when this callback ran after the check, a
                // timer due at once fires before the next check. So the watchdog is closed only once it has ended
                // a pass after this callback, not from the first timer.
                let passesBefore = dog.passes
                let closer = try? Timer(loop: loop)
                closer?.start(afterMilliseconds: 1, repeatMilliseconds: 1) {
                    guard dog.passes > passesBefore else { return }
                    closer?.close()
                    dog.close()
                    finish()
                }
            }
        }
        let dog = try #require(watchdog)
        #expect(stalls.contains { $0 >= 60_000_000 }, "the busy pass is reported: \(stalls)")
        #expect(dog.longestPassNanos >= 60_000_000)
        #expect(dog.longestPassNanos < 300_000_000, "the wait in poll is not busy time")
        #expect(dog.passes >= 2)
    }

    /// The p99 is taken over a bounded ring of recent passes.
    @Test func p99OfRecentPassesIsBounded() throws {
        try withLoop { loop, finish in
            let dog = try LoopWatchdog(loop: loop, stallThresholdNanos: 0)
            for _ in 0..<989 { dog.record(busyNanos: 1_000) }
            for _ in 0..<11 { dog.record(busyNanos: 5_000_000) }
            #expect(dog.recentP99Micros == 5_000)
            #expect(dog.stalls == 0, "threshold 0 never warns")
            for _ in 0..<LoopWatchdog.recentCapacity { dog.record(busyNanos: 2_000) }
            #expect(dog.recentCount == LoopWatchdog.recentCapacity)
            #expect(dog.recentP99Micros == 2, "old passes leave the ring")
            #expect(dog.longestPassNanos == 5_000_000)
            dog.close()
            finish()
        }
    }

    /// The p99 found without sorting equals the sorted definition (the element at rank ceil(0.99 n) - 1) for any
    /// number of recorded passes, below and past the ring's capacity.
    @Test func p99AgreesWithTheSortedDefinition() throws {
        try withLoop { loop, finish in
            let dog = try LoopWatchdog(loop: loop, stallThresholdNanos: 0)
            var model: [UInt32] = []
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for count in 1...(LoopWatchdog.recentCapacity + 300) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let micros = UInt32(truncatingIfNeeded: state >> 33) % 20_000
                dog.record(busyNanos: UInt64(micros) * 1000)
                model.append(micros)
                if model.count > LoopWatchdog.recentCapacity { model.removeFirst() }
                if count % 37 == 0 || count < 20 {
                    let sorted = model.sorted()
                    #expect(dog.recentP99Micros == sorted[(sorted.count * 99 + 99) / 100 - 1], "after \(count)")
                }
            }
            dog.close()
            finish()
        }
    }
    /// Asked after every pass (as a monitor polling `hub.info` does), the p99 still equals the sorted definition:
    /// the kept answer is dropped when a pass at or above it arrives or one at or above it leaves the ring,
    /// including ties with it, and kept otherwise.
    @Test func p99AskedAfterEveryPassFollowsTheRing() throws {
        try withLoop { loop, finish in
            let dog = try LoopWatchdog(loop: loop, stallThresholdNanos: 0)
            var model: [UInt32] = []
            var state: UInt64 = 0x2545_F491_4F6C_DD1D
            for count in 1...(3 * LoopWatchdog.recentCapacity) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let draw = UInt32(truncatingIfNeeded: state >> 33)
                // Mostly short passes; now and then a long one, often of the same few lengths (ties at the p99).
                let micros = draw % 50 == 0 ? 1000 + (draw >> 8) % 4 * 500 : draw % 40
                dog.record(busyNanos: UInt64(micros) * 1000)
                model.append(micros)
                if model.count > LoopWatchdog.recentCapacity { model.removeFirst() }
                let sorted = model.sorted()
                let expected = sorted[(sorted.count * 99 + 99) / 100 - 1]
                #expect(dog.recentP99Micros == expected, "after \(count)")
                if dog.recentP99Micros != expected { break }
            }
            dog.close()
            finish()
        }
    }
}
