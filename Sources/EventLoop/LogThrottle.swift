/// At most one log line per interval, counting the ones held back, so a fault that repeats every pass (a stalled
/// loop, a listener whose accepts fail, a scheduling change refused) writes a line a second, not a line a pass,
/// and the next line says how many it stands for.
package struct LogThrottle {
    private var lastMs: UInt64?
    private var heldBack: UInt64 = 0

    package init() {}

    /// Whether a line may be logged at `nowMs` (the loop's clock): then the text to end it with, saying how many
    /// were held back since the last one (empty when none); nil when this one is held back too (counted).
    package mutating func admit(nowMs: UInt64, intervalMs: UInt64 = 1000) -> String? {
        if let lastMs, nowMs &- lastMs < intervalMs {
            heldBack += 1
            return nil
        }
        lastMs = nowMs
        defer { heldBack = 0 }
        return heldBack > 0 ? " (and \(heldBack) more since the last report)" : ""
    }
}
