/// A shared memory region mapped into several partitions.
package struct RegionConfig: Sendable, Equatable {
    package var name: String
    /// Size in bytes, whole pages.
    package var sizeBytes: UInt64
    /// Which partitions map it, and how.
    package var grants: [RegionGrant]
    /// When set, writers may ring this cross-interrupt line on every other granted partition.
    package var doorbellLine: Int?

    package static let sizeRange: ClosedRange<UInt64> = 4096...(1 << 30)

    package init(name: String, sizeBytes: UInt64, grants: [RegionGrant], doorbellLine: Int? = nil) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.grants = grants
        self.doorbellLine = doorbellLine
    }
}

/// A partition's mapping of a region.
package struct RegionGrant: Sendable, Equatable, Hashable {
    package var partition: String
    package var access: RegionAccess

    package init(partition: String, access: RegionAccess) {
        self.partition = partition
        self.access = access
    }
}

/// Region mapping rights; YAML `ro` / `rw`.
package enum RegionAccess: String, Sendable, Equatable, Hashable, CaseIterable {
    case readOnly = "ro"
    case readWrite = "rw"
}
