import GuestWire
import Testing

/// The per-session table of link ids a guest may name (GuestSession's MSG_SEND / MSG_DELIVER checks).
@Suite struct KnownLinksTests {
    @Test func configuredAndRuntimeIdsAreKnownAndForgotten() {
        var known = KnownLinks(configuredLinks: 6)
        #expect(!known.contains(0) && !known.contains(6) && !known.contains(UInt32.max))
        known.set(2, known: true)
        known.set(7, known: true)
        #expect(known.contains(2) && known.contains(7) && !known.contains(3) && !known.contains(6))
        known.set(7, known: false)
        known.set(2, known: false)
        #expect(!known.contains(2) && !known.contains(7))
        // Forgetting an id never learnt is harmless.
        known.set(1_000, known: false)
        #expect(!known.contains(1_000))
    }

    /// Runtime link ids are never reused, so after many opens and closes they are large; a session that learns
    /// one must not hold storage proportional to the id (a table indexed by id took id + 1 entries).
    @Test func storageIsBoundedByTheLinksKnownNotByTheirIds() {
        var known = KnownLinks(configuredLinks: 6)
        for id: UInt32 in [6, 50_000_000, 4_000_000_000] { known.set(id, known: true) }
        #expect(known.contains(50_000_000) && known.contains(4_000_000_000))
        #expect(known.storedEntries == 6 + 3)
        known.set(50_000_000, known: false)
        #expect(known.storedEntries == 6 + 2)
    }
}
