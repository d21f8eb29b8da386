/// The link ids one guest session may name (from its `WELCOME` or a `LINK_OPENED`), checked on every
/// `MSG_SEND` and `MSG_DELIVER` (the hub's guest sessions).
///
/// Configured links' ids are their configuration positions: a small table indexed by id, no hashing on the
/// hot path. Runtime links' ids grow for the hub's whole life (never reused, `Protocols/guest.md` §7.6), so a
/// guest that opens and closes links in a loop would make a table indexed by id grow without bound in every
/// session: those ids go in a set bounded by the links that exist (`hub.limits.runtimeLinksMax`).
package struct KnownLinks {
    /// Configured link id → known to the session.
    private var configured: [Bool]
    private var runtime: Set<UInt32> = []

    package init(configuredLinks: Int) { configured = Array(repeating: false, count: configuredLinks) }

    package func contains(_ id: UInt32) -> Bool {
        let position = Int(id)
        return position < configured.count ? configured[position] : runtime.contains(id)
    }

    package mutating func set(_ id: UInt32, known: Bool) {
        let position = Int(id)
        if position < configured.count {
            configured[position] = known
        } else if known {
            runtime.insert(id)
        } else {
            runtime.remove(id)
        }
    }

    /// Entries held (for tests: bounded by the links that exist, whatever the ids).
    package var storedEntries: Int { configured.count + runtime.count }
}
