/// Book-keeping for messaging links opened while the hub runs (`Protocols/guest.md` §7.6–§7.9).
///
/// The links themselves live in `Platform.links` like configured ones; this holds what only runtime
/// links need: the next id, the live count against `hub.limits.runtimeLinksMax`, which sessions asked to
/// be told about new links, and the links a partition's current session must not receive on yet.
struct RuntimeLinkRegistry {
    /// The id the next runtime link gets (0: not yet set; the first one follows the configured links).
    var nextID: UInt32 = 0
    /// Runtime links that exist now, closing ones included.
    var count = 0
    /// Partition index → its live session, when that session enabled runtime links (HELLO feature
    /// `runtime-links`). A stale entry (the session ended) is harmless: it never equals a live session.
    var awareSession: [Int: SessionID] = [:]
    /// Partition index → runtime links opened while it had a session that was not told about them. Its
    /// current session gets no deliveries on them (it could not name them); the next attach lists them
    /// in its welcome and they join its incoming set.
    var deferred: [Int: [LinkState]] = [:]
    var totals = RuntimeLinkTotals()
}

/// Totals of runtime link operations since the hub started.
package struct RuntimeLinkTotals: Sendable, Equatable {
    package var opened: UInt64 = 0
    package var closed: UInt64 = 0
    /// Open requests refused (policy, limits, names, bad sizes).
    package var refused: UInt64 = 0
    package init() {}
}
