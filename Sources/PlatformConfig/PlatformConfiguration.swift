/// The whole platform a hub emulates: its partitions and their policy, the channels between them,
/// shared memory, devices, and where the hub listens.
///
/// Build one with `load(yaml:)` / `load(path:)` of `PlatformConfigLoader` (which validate), or take `reference`, the
/// built-in reference handset (`Deploy/examples/reference-handset.yaml`). `encodeYAML()` writes a file that loads
/// back to an equal value. This module holds values and their checks only: no YAML parser, no file reads.
package struct PlatformConfiguration: Sendable, Equatable {
    /// Name and free-form description of the platform.
    package var platform: PlatformInfo
    /// Listening endpoints, credentials and resource limits of the hub itself.
    package var hub: HubSettings
    /// The guest partitions, in file order.
    package var partitions: [PartitionConfig]
    /// Messaging links between pairs of partitions.
    package var links: [LinkConfig]
    /// Shared memory regions.
    package var regions: [RegionConfig]
    /// Ethernet segments, modems and framebuffers.
    package var devices: DevicesConfig
    /// Management authorities (`Protocols/management.md`).
    package var management = ManagementConfig()
    /// The virtualised power model (`Protocols/power.md`).
    package var power = PowerConfig()
    /// Named policy profiles (`Protocols/policy.md`).
    package var policy = PolicyConfig()

    package init(
        platform: PlatformInfo,
        hub: HubSettings = HubSettings(),
        partitions: [PartitionConfig],
        links: [LinkConfig] = [],
        regions: [RegionConfig] = [],
        devices: DevicesConfig = DevicesConfig()
    ) {
        self.platform = platform
        self.hub = hub
        self.partitions = partitions
        self.links = links
        self.regions = regions
        self.devices = devices
    }

    /// The partition called `name`, if any.
    package func partition(named name: String) -> PartitionConfig? {
        // By index: `first(where:)` copies every partition it passes on the way (control calls ask this often).
        guard let index = partitions.firstIndex(where: { $0.name == name }) else { return nil }
        return partitions[index]
    }

    /// The interrupt line count of the partition called `name`, if any, read in place (no partition copied).
    package func interruptLines(ofPartition name: String) -> Int? { partitions.interruptLines(ofPartition: name) }

    /// The link called `name`, if any.
    package func link(named name: String) -> LinkConfig? {
        links.first { $0.name == name }
    }

    /// The region called `name`, if any.
    package func region(named name: String) -> RegionConfig? {
        regions.first { $0.name == name }
    }
}

/// Identification of a platform.
package struct PlatformInfo: Sendable, Equatable {
    /// Short name shown by `hub.info` and in logs.
    package var name: String
    /// One or two sentences for humans; may be empty.
    package var description: String

    package init(name: String, description: String = "") {
        self.name = name
        self.description = description
    }
}

extension [PartitionConfig] {
    /// The interrupt line count of the partition called `name`, if any, read in place. On the partitions alone: a
    /// caller holding the configuration in a class property then lends only this array, not a copy of it all.
    package func interruptLines(ofPartition name: String) -> Int? {
        guard let index = firstIndex(where: { $0.name == name }) else { return nil }
        return self[index].interruptLines
    }
}
