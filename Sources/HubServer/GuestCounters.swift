/// Hub-wide guest-protocol counters, shown by `guest.stats`.
struct GuestCounters {
    var malformedFrames: UInt64 = 0
    var authFailures: UInt64 = 0
    var heartbeatsMissed: UInt64 = 0
    var closedNotReading: UInt64 = 0  // more than `guestMaxUnsentBytes` unread
    var refusedOverLimit: UInt64 = 0
}
