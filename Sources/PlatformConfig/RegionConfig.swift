/// A shared memory region mapped into several partitions.
public struct RegionConfig: Sendable, Equatable {
    public var name: String
    /// Size in bytes, whole pages.
    public var sizeBytes: UInt64
    /// Which partitions map it, and how.
    public var grants: [RegionGrant]
    /// When set, writers may ring this cross-interrupt line on every other granted partition.
    public var doorbellLine: Int?

    public static let sizeRange: ClosedRange<UInt64> = 4096...(1 << 30)

    public init(name: String, sizeBytes: UInt64, grants: [RegionGrant], doorbellLine: Int? = nil) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.grants = grants
        self.doorbellLine = doorbellLine
    }
}

/// A partition's mapping of a region.
public struct RegionGrant: Sendable, Equatable, Hashable {
    public var partition: String
    public var access: RegionAccess

    public init(partition: String, access: RegionAccess) {
        self.partition = partition
        self.access = access
    }
}

/// Region mapping rights; YAML `ro` / `rw`.
public enum RegionAccess: String, Sendable, Equatable, Hashable, CaseIterable {
    case readOnly = "ro"
    case readWrite = "rw"
}
