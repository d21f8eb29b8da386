import PlatformConfig

/// The policy in force: the base policy the partitions declare, changed by at most one profile
/// (`Protocols/policy.md` §2). Computed whole by `compute(base:profile:)`, a pure function, and swapped into the
/// model in one step (`Platform.applyPolicy`), so nothing is ever judged by half of one policy and half of another.
package struct EffectivePolicy: Sendable, Equatable {
    /// The active profile; nil for the base policy.
    package var profile: String?
    /// Per partition: the peers it may raise interrupts on.
    package var mayInterrupt: [String: Set<String>] = [:]
    /// Per partition: the peers it may send messages to.
    package var mayMessage: [String: Set<String>] = [:]
    /// Configured links on which neither end may send.
    package var forbiddenLinks: Set<String> = []
    /// Per partition: device name to access.
    package var grants: [String: [String: DeviceAccess]] = [:]
    /// Partitions the policy holds suspended.
    package var suspended: Set<String> = []
    /// Ethernet ports (`SEGMENT/PORT`) the policy holds down.
    package var ethernetDown: Set<String> = []
    /// Per configured link: the send budget of each of its directions (its own `rateLimit` or the hub-wide
    /// defaults, unless the profile's `linkRates` replaces it).
    package var linkRates: [String: LinkRateLimit] = [:]
    /// Per configured link: its two ends, so a rate change can be told to the partitions it concerns.
    package var linkEnds: [String: [String]] = [:]

    /// The base policy of `config`.
    package static func base(_ config: PlatformConfiguration) -> EffectivePolicy {
        var policy = EffectivePolicy(profile: nil)
        for partition in config.partitions {
            policy.mayInterrupt[partition.name] = Set(partition.mayInterrupt)
            policy.mayMessage[partition.name] = Set(partition.mayMessage)
            var grants: [String: DeviceAccess] = [:]
            for grant in partition.devices { grants[grant.device] = grant.access }
            policy.grants[partition.name] = grants
        }
        for link in config.links {
            policy.linkRates[link.name] = link.effectiveRateLimit(config.hub.limits)
            policy.linkEnds[link.name] = [link.a, link.b]
        }
        return policy
    }

    /// The base policy of `config` changed by the profile `name` (nil: the base policy). Refuses a profile the
    /// configuration does not define, and one that breaks the rules of `policy:` (unknown names, contradictions,
    /// more profiles than `hub.limits.policyMaxProfiles`), with the first issue found.
    package static func compute(base config: PlatformConfiguration, profile name: String?) throws(PolicyError)
        -> EffectivePolicy
    {
        guard let name else { return base(config) }
        guard let profile = config.policy.profile(named: name) else { throw .unknownProfile(name) }
        if let issue = config.policy.validationIssues(config).first { throw .invalidPolicy(issue.description) }
        var policy = base(config)
        policy.profile = name
        for change in profile.partitions {
            let partition = change.partition
            policy.mayInterrupt[partition, default: []].formUnion(change.allowInterrupt)
            policy.mayInterrupt[partition, default: []].subtract(change.forbidInterrupt)
            policy.mayMessage[partition, default: []].formUnion(change.allowMessage)
            policy.mayMessage[partition, default: []].subtract(change.forbidMessage)
            for device in change.revoke { policy.grants[partition]?[device] = nil }
            for grant in change.grant { policy.grants[partition, default: [:]][grant.device] = grant.access }
        }
        policy.forbiddenLinks = Set(profile.forbidLinks)
        policy.suspended = Set(profile.suspend)
        policy.ethernetDown = Set(profile.ethernetDown)
        for rate in profile.linkRates { policy.linkRates[rate.link] = rate.limit }
        return policy
    }

    /// The grant `partition` holds for `device` under this policy.
    package func grant(partition: String, device: String) -> DeviceGrant? {
        grants[partition]?[device].map { DeviceGrant(device: device, access: $0) }
    }

    /// Whether `sender` may send on link `link` to `receiver`.
    package func maySend(on link: String, from sender: String, to receiver: String) -> Bool {
        !forbiddenLinks.contains(link) && mayMessage[sender]?.contains(receiver) == true
    }

    /// What changes when `self` replaces `old`.
    package func diff(from old: EffectivePolicy) -> PolicyDiff {
        var diff = PolicyDiff(from: old.profile, to: profile)
        for partition in Set(mayInterrupt.keys).union(old.mayInterrupt.keys).sorted() {
            let now = mayInterrupt[partition] ?? [], before = old.mayInterrupt[partition] ?? []
            diff.interruptsForbidden += before.subtracting(now).sorted().map { PeerPair(from: partition, to: $0) }
            diff.interruptsAllowed += now.subtracting(before).sorted().map { PeerPair(from: partition, to: $0) }
        }
        for partition in Set(mayMessage.keys).union(old.mayMessage.keys).sorted() {
            let now = mayMessage[partition] ?? [], before = old.mayMessage[partition] ?? []
            diff.messagesForbidden += before.subtracting(now).sorted().map { PeerPair(from: partition, to: $0) }
            diff.messagesAllowed += now.subtracting(before).sorted().map { PeerPair(from: partition, to: $0) }
        }
        diff.linksForbidden = forbiddenLinks.subtracting(old.forbiddenLinks).sorted()
        diff.linksAllowed = old.forbiddenLinks.subtracting(forbiddenLinks).sorted()
        for partition in Set(grants.keys).union(old.grants.keys).sorted() {
            let now = grants[partition] ?? [:], before = old.grants[partition] ?? [:]
            for device in Set(now.keys).union(before.keys).sorted() where now[device] != before[device] {
                if let access = now[device] {
                    diff.grantsGiven.append(GrantChange(partition: partition, device: device, access: access))
                } else {
                    diff.grantsWithdrawn.append(
                        GrantChange(partition: partition, device: device, access: before[device]!))
                }
            }
        }
        diff.suspend = suspended.subtracting(old.suspended).sorted()
        diff.resume = old.suspended.subtracting(suspended).sorted()
        diff.ethernetDown = ethernetDown.subtracting(old.ethernetDown).sorted()
        diff.ethernetUp = old.ethernetDown.subtracting(ethernetDown).sorted()
        // Links known to only one side (none among configured links) are compared with "unlimited".
        for link in Set(linkRates.keys).union(old.linkRates.keys).sorted() {
            let now = linkRates[link] ?? .unlimited, before = old.linkRates[link] ?? .unlimited
            guard now != before else { continue }
            let ends = linkEnds[link] ?? old.linkEnds[link] ?? []
            diff.ratesChanged.append(RateChange(link: link, ends: ends, from: before, to: now))
        }
        return diff
    }
}

/// Why a policy cannot be computed.
package enum PolicyError: Error, Equatable, Sendable {
    /// The configuration defines no profile of that name.
    case unknownProfile(String)
    /// The configuration's `policy:` breaks a rule (a configuration built in Swift without validation).
    case invalidPolicy(String)
}

/// `from` may (or no longer may) reach `to`.
package struct PeerPair: Sendable, Equatable, Hashable {
    package var from: String
    package var to: String

    package init(from: String, to: String) {
        self.from = from
        self.to = to
    }
}

/// A grant given (or changed) or withdrawn.
package struct GrantChange: Sendable, Equatable {
    package var partition: String
    package var device: String
    /// The new access (given), or the access that went (withdrawn).
    package var access: DeviceAccess
}

/// A link whose send budget a switch changes (`Protocols/policy.md` §4, `ratesChanged`).
package struct RateChange: Sendable, Equatable {
    package var link: String
    /// The link's two partitions (told in `POLICY_CHANGED`).
    package var ends: [String]
    package var from: LinkRateLimit
    package var to: LinkRateLimit

    package init(link: String, ends: [String], from: LinkRateLimit, to: LinkRateLimit) {
        self.link = link
        self.ends = ends
        self.from = from
        self.to = to
    }
}

/// Everything one policy switch changes (`Protocols/policy.md` §4, the `policy.activated` event).
package struct PolicyDiff: Sendable, Equatable {
    package var from: String?
    package var to: String?
    package var interruptsForbidden: [PeerPair] = []
    package var interruptsAllowed: [PeerPair] = []
    package var messagesForbidden: [PeerPair] = []
    package var messagesAllowed: [PeerPair] = []
    package var linksForbidden: [String] = []
    package var linksAllowed: [String] = []
    package var grantsGiven: [GrantChange] = []
    package var grantsWithdrawn: [GrantChange] = []
    package var suspend: [String] = []
    package var resume: [String] = []
    package var ethernetDown: [String] = []
    package var ethernetUp: [String] = []
    package var ratesChanged: [RateChange] = []

    /// What changed for `partition`, one short clause per change, for `POLICY_CHANGED` (`Protocols/guest.md`
    /// §9.7); "no change" when nothing concerns it.
    package func summary(for partition: String) -> String {
        var clauses: [String] = []
        let mine = { (pairs: [PeerPair]) in pairs.filter { $0.from == partition }.map(\.to) }
        if !mine(messagesForbidden).isEmpty {
            clauses.append("may not message " + mine(messagesForbidden).joined(separator: ","))
        }
        if !mine(messagesAllowed).isEmpty {
            clauses.append("may message " + mine(messagesAllowed).joined(separator: ","))
        }
        if !mine(interruptsForbidden).isEmpty {
            clauses.append("may not interrupt " + mine(interruptsForbidden).joined(separator: ","))
        }
        if !mine(interruptsAllowed).isEmpty {
            clauses.append("may interrupt " + mine(interruptsAllowed).joined(separator: ","))
        }
        if !linksForbidden.isEmpty {
            clauses.append("links closed to sending: " + linksForbidden.joined(separator: ","))
        }
        if !linksAllowed.isEmpty { clauses.append("links open to sending: " + linksAllowed.joined(separator: ",")) }
        let withdrawn = grantsWithdrawn.filter { $0.partition == partition }.map(\.device)
        if !withdrawn.isEmpty { clauses.append("lost " + withdrawn.joined(separator: ",")) }
        let given = grantsGiven.filter { $0.partition == partition }.map { "\($0.device)(\($0.access.rawValue))" }
        if !given.isEmpty { clauses.append("granted " + given.joined(separator: ",")) }
        for change in ratesChanged where change.ends.contains(partition) {
            clauses.append("rate of \(change.link): \(change.to.summary)")
        }
        if suspend.contains(partition) { clauses.append("suspended") }
        if resume.contains(partition) { clauses.append("resumed") }
        return clauses.isEmpty ? "no change" : clauses.joined(separator: "; ")
    }
}
