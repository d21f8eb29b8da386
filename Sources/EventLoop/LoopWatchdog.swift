import CUV

/// Measures how long every loop pass kept the loop busy, so a peer or a bug that holds the loop shows up
/// (`Protocols/control.md` §5, `hub.info` `loop`).
///
/// A pass runs from one check phase to the next. Its busy time is what it spent outside the wait in poll: from the
/// previous check to the prepare phase (closing handles, timers, pending callbacks), plus the I/O callbacks, i.e.
/// from when poll returned (libuv stamps the loop clock then, `uv_now`) to the check phase. (libuv 1.44's own
/// idle-time metric misses waits that end by timeout, so it is not used.) Memory is bounded: the last
/// `recentCapacity` passes are kept for the p99.
package final class LoopWatchdog: LoopHandle {
    /// Called when a pass was busy for longer than `stallThresholdNanos`, with its busy time in nanoseconds.
    package var onStall: ((UInt64) -> Void)?
    // SAFETY (every `@exclusivity(unchecked)` below): the watchdog runs on its loop's thread, once per pass, and
    // no access to its state overlaps another (`onStall` is called last, after every write; `afterPass` is copied
    // out before it is called). Checked, the state cost five runtime calls a pass, a tenth of a forwarded frame's
    // user-space work.
    /// Called at the end of every pass with the clock it read (`MonotonicClock` nanoseconds): for work sampled once
    /// per interval of busy loop (the hub's real-time budget) at the cost of a comparison per pass.
    @exclusivity(unchecked) package var afterPass: ((UInt64) -> Void)?
    @exclusivity(unchecked) package var stallThresholdNanos: UInt64
    @exclusivity(unchecked) package private(set) var passes: UInt64 = 0
    @exclusivity(unchecked) package private(set) var stalls: UInt64 = 0
    @exclusivity(unchecked) package private(set) var longestPassNanos: UInt64 = 0
    /// Busy times of the most recent passes, in microseconds (a ring).
    @exclusivity(unchecked) private var recent: [UInt32]
    @exclusivity(unchecked) private var recentNext = 0
    /// The p99 last found by a scan, while `p99Current` (see `record`): `hub.info` asks for it on every call.
    @exclusivity(unchecked) private var cachedP99: UInt32 = 0
    @exclusivity(unchecked) private var p99Current = false
    package static let recentCapacity = 1024
    @exclusivity(unchecked) private var lastCheckNanos: UInt64
    private let beforePoll: BeforePoll
    /// The first check only sets the baseline: before it the loop was not running yet.
    @exclusivity(unchecked) private var sawFirstCheck = false

    package init(loop: Loop, stallThresholdNanos: UInt64) throws(LoopError) {
        self.stallThresholdNanos = stallThresholdNanos
        recent = []
        recent.reserveCapacity(LoopWatchdog.recentCapacity)
        lastCheckNanos = uv_hrtime()
        beforePoll = try BeforePoll(loop: loop)
        super.init(loop: loop, type: UV_CHECK)
        do {
            try LoopError.check(uv_check_init(loop.raw, pointer(as: uv_check_t.self)), "uv_check_init")
        } catch {
            beforePoll.close()
            throw error
        }
        didOpen()
        uv_check_start(pointer(as: uv_check_t.self)) { check in
            // SAFETY: uv_check_t begins with the uv_handle_t fields; the owner lives until its close callback.
            let handle = UnsafeMutableRawPointer(check!).assumingMemoryBound(to: uv_handle_t.self)
            LoopHandle.withOwner(of: handle, as: LoopWatchdog.self) { $0.passEnded() }
        }
        // Watching must not keep an otherwise finished loop running.
        uv_unref(handle)
    }

    private func passEnded() {
        let now = uv_hrtime()
        let prepared = beforePoll.stamp
        let pollReturned = uv_now(loop.raw) &* 1_000_000
        let beforeWait = prepared > lastCheckNanos ? prepared - lastCheckNanos : 0
        let callbacks = now > pollReturned ? now - pollReturned : 0
        lastCheckNanos = now
        guard sawFirstCheck else {
            sawFirstCheck = true
            return
        }
        // The callbacks ran after the prepare phase: never count more than the time since then.
        let sincePrepare = now > prepared ? now - prepared : 0
        record(busyNanos: beforeWait + min(callbacks, sincePrepare))
        afterPass?(now)
    }

    /// Records one pass (package access so the statistics can be tested without stalling a loop).
    package func record(busyNanos: UInt64) {
        passes += 1
        if busyNanos > longestPassNanos { longestPassNanos = busyNanos }
        let micros = UInt32(min(busyNanos / 1000, UInt64(UInt32.max)))
        let rankFromTop = LoopWatchdog.p99RankFromTop(count: recent.count)
        var replaced: UInt32 = 0
        if recent.count < LoopWatchdog.recentCapacity {
            recent.append(micros)
        } else {
            replaced = recent[recentNext]
            recent[recentNext] = micros
        }
        // The p99 is the k-th largest value, k set by the count. While k stays and neither the new value nor the
        // one it replaced reaches the p99, the values at or above it are the same ones, so it is unchanged.
        if micros >= cachedP99 || replaced >= cachedP99
            || LoopWatchdog.p99RankFromTop(count: recent.count) != rankFromTop
        {
            p99Current = false
        }
        recentNext = (recentNext + 1) % LoopWatchdog.recentCapacity
        if stallThresholdNanos > 0, busyNanos > stallThresholdNanos {
            stalls += 1
            onStall?(busyNanos)
        }
    }

    /// The 99th percentile busy time of the recent passes, in microseconds (0 before the first pass).
    /// `hub.info` asks for it, and monitors call that in tight loops: the last answer is kept while `record` has
    /// not changed it, and otherwise found in one pass over the ring keeping only the largest 1% (11 of 1024),
    /// not by sorting it.
    package var recentP99Micros: UInt32 {
        guard !recent.isEmpty else { return 0 }
        if !p99Current {
            cachedP99 = scanP99()
            p99Current = true
        }
        return cachedP99
    }

    private func scanP99() -> UInt32 {
        let fromTop = LoopWatchdog.p99RankFromTop(count: recent.count)
        var largest: [UInt32] = []  // descending, at most `fromTop`
        largest.reserveCapacity(fromTop)
        for value in recent {
            if largest.count == fromTop {
                guard value > largest[fromTop - 1] else { continue }
                largest.removeLast()
            }
            var position = largest.count
            while position > 0 && largest[position - 1] < value { position -= 1 }
            largest.insert(value, at: position)
        }
        return largest[largest.count - 1]
    }

    /// The p99's place counted from the largest of `count` values, 1-based: the sorted definition's index
    /// ceil(0.99 count) - 1, counted from the other end.
    private static func p99RankFromTop(count: Int) -> Int { count - ((count * 99 + 99) / 100 - 1) }

    /// How many recent passes the p99 is taken over.
    package var recentCount: Int { recent.count }

    override func willClose() {
        uv_check_stop(pointer(as: uv_check_t.self))
        beforePoll.close()
    }
    override func didClose() {
        onStall = nil
        afterPass = nil
    }
}

/// Stamps the time each pass reaches its prepare phase, right before the loop waits in poll.
final class BeforePoll: LoopHandle {
    // SAFETY: written by the prepare callback and read by the watchdog's check, both on the loop's thread, each a
    // whole scalar: no access can overlap another.
    @exclusivity(unchecked) private(set) var stamp: UInt64 = 0

    init(loop: Loop) throws(LoopError) {
        super.init(loop: loop, type: UV_PREPARE)
        try LoopError.check(uv_prepare_init(loop.raw, pointer(as: uv_prepare_t.self)), "uv_prepare_init")
        didOpen()
        uv_prepare_start(pointer(as: uv_prepare_t.self)) { prepare in
            // SAFETY: uv_prepare_t begins with the uv_handle_t fields; the owner lives until its close callback.
            let handle = UnsafeMutableRawPointer(prepare!).assumingMemoryBound(to: uv_handle_t.self)
            LoopHandle.withOwner(of: handle, as: BeforePoll.self) { $0.stamp = uv_hrtime() }
        }
        uv_unref(handle)
    }

    override func willClose() { uv_prepare_stop(pointer(as: uv_prepare_t.self)) }
}
