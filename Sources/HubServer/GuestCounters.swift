/// Hub-wide guest-protocol counters, shown by `guest.stats`.
struct GuestCounters {
    var malformedFrames: UInt64 = 0
    var authFailures: UInt64 = 0
    var heartbeatsMissed: UInt64 = 0
    var refusedOverLimit: UInt64 = 0
}
