/// Whether the Swift runtime keeps `object`'s reference counts in a side table. It does from the first weak
/// reference to the object on, for the object's whole life, and every retain and release of it then takes the
/// runtime's slow path. Tests use it to pin that the objects counted on the hub's hot paths (the hub, a control
/// session) are never weakly referenced (`Sources/ARCHITECTURE.md`, "A handle's lifetime").
package func usesSideTable(_ object: AnyObject) -> Bool {
    withExtendedLifetime(object) {
        // SAFETY: a native Swift object begins with its metadata pointer, followed by its inline reference counts,
        // one 64-bit word on 64-bit platforms (the runtime's RefCount.h). While the counts are inline, the top bit
        // (UseSlowRC) is clear for any object not made immortal; once they move to a side table the word holds the
        // table's address with the top two bits set (UseSlowRC and SideTableMark). `object` is alive for the read.
        let counts = Unmanaged.passUnretained(object).toOpaque().load(fromByteOffset: 8, as: UInt64.self)
        return counts >> 62 == 0b11
    }
}
