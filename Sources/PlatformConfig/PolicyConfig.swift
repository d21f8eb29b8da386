/// Named policy profiles (`Deploy/config-reference.md`, policy; `Protocols/policy.md`): each a set of changes to
/// the base policy the partitions declare. The hub runs the base policy, or the base changed by one profile.
package struct PolicyConfig: Sendable, Equatable {
    /// The profiles, in file order (at most `hub.limits.policyMaxProfiles`).
    package var profiles: [PolicyProfile] = []
    /// The profile active when the hub starts; nil: the base policy.
    package var initial: String? = nil

    package init(profiles: [PolicyProfile] = [], initial: String? = nil) {
        self.profiles = profiles
        self.initial = initial
    }

    /// The profile called `name`, if any.
    package func profile(named name: String) -> PolicyProfile? {
        profiles.first { $0.name == name }
    }
}

/// One profile: what it changes relative to the base policy.
package struct PolicyProfile: Sendable, Equatable {
    package var name: String
    package var description: String = ""
    /// Per-partition changes to interrupt and message permissions and device grants.
    package var partitions: [PartitionPolicyChange] = []
    /// Configured links on which neither end may send while the profile is active.
    package var forbidLinks: [String] = []
    /// Partitions the profile suspends (resumed when a profile that does not suspend them is activated).
    package var suspend: [String] = []
    /// Ethernet ports (`SEGMENT/PORT`) whose link the profile brings down.
    package var ethernetDown: [String] = []
    /// Configured links whose send budget the profile replaces (`Protocols/policy.md` §2, rate limits).
    package var linkRates: [ProfileLinkRate] = []

    /// Entries one profile may hold in each of its lists, so a hostile file cannot make activation costly.
    package static let maxEntries = 256

    package init(
        name: String, description: String = "", partitions: [PartitionPolicyChange] = [], forbidLinks: [String] = [],
        suspend: [String] = [], ethernetDown: [String] = [], linkRates: [ProfileLinkRate] = []
    ) {
        self.name = name
        self.description = description
        self.partitions = partitions
        self.forbidLinks = forbidLinks
        self.suspend = suspend
        self.ethernetDown = ethernetDown
        self.linkRates = linkRates
    }
}

/// One `linkRates` entry: while the profile is active, `limit` replaces the whole send budget of the configured
/// link `link` (both directions; its own `rateLimit` or the hub-wide defaults otherwise). 0 is unlimited, so a
/// profile may lift a base limit as well as set or lower one (`Protocols/policy.md` §2).
package struct ProfileLinkRate: Sendable, Equatable {
    package var link: String
    package var limit: LinkRateLimit

    package init(link: String, limit: LinkRateLimit) {
        self.link = link
        self.limit = limit
    }
}

/// What a profile changes for one partition. `allow*` add peers to the base lists, `forbid*` remove them;
/// `grant` adds or changes device grants, `revoke` withdraws them.
package struct PartitionPolicyChange: Sendable, Equatable {
    package var partition: String
    package var allowInterrupt: [String] = []
    package var forbidInterrupt: [String] = []
    package var allowMessage: [String] = []
    package var forbidMessage: [String] = []
    package var grant: [DeviceGrant] = []
    package var revoke: [String] = []

    package init(
        partition: String, allowInterrupt: [String] = [], forbidInterrupt: [String] = [], allowMessage: [String] = [],
        forbidMessage: [String] = [], grant: [DeviceGrant] = [], revoke: [String] = []
    ) {
        self.partition = partition
        self.allowInterrupt = allowInterrupt
        self.forbidInterrupt = forbidInterrupt
        self.allowMessage = allowMessage
        self.forbidMessage = forbidMessage
        self.grant = grant
        self.revoke = revoke
    }
}

extension PolicyConfig {
    /// `policy:` as YAML (read back by `PlatformConfigLoader`); empty lists are left out.
    func encode(_ out: inout YAMLWriter) {
        if let initial { out.string("initial", initial) }
        out.list("profiles", profiles) { out, profile in
            out.string("name", profile.name)
            if !profile.description.isEmpty { out.string("description", profile.description) }
            if !profile.partitions.isEmpty {
                out.list("partitions", profile.partitions) { out, change in change.encode(&out) }
            }
            if !profile.forbidLinks.isEmpty { out.scalars("forbidLinks", profile.forbidLinks) }
            if !profile.suspend.isEmpty { out.scalars("suspend", profile.suspend) }
            if !profile.ethernetDown.isEmpty { out.scalars("ethernetDown", profile.ethernetDown) }
            if !profile.linkRates.isEmpty {
                out.list("linkRates", profile.linkRates) { out, rate in
                    out.string("link", rate.link)
                    out.int("messagesPerSecond", rate.limit.messagesPerSecond)
                    out.size("bytesPerSecond", rate.limit.bytesPerSecond)
                    if let burst = rate.limit.burstMessages { out.int("burstMessages", burst) }
                    if let burst = rate.limit.burstBytes { out.size("burstBytes", burst) }
                }
            }
        }
    }
}

extension PartitionPolicyChange {
    func encode(_ out: inout YAMLWriter) {
        out.string("name", partition)
        for (key, list) in [
            ("allowInterrupt", allowInterrupt), ("forbidInterrupt", forbidInterrupt), ("allowMessage", allowMessage),
            ("forbidMessage", forbidMessage),
        ] where !list.isEmpty {
            out.scalars(key, list)
        }
        if !grant.isEmpty {
            out.list("grant", grant) { out, grant in
                out.string("device", grant.device)
                out.string("access", grant.access.rawValue)
            }
        }
        if !revoke.isEmpty { out.scalars("revoke", revoke) }
    }
}
