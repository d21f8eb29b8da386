/// The checks on `policy:` (`Deploy/config-reference.md`, policy): every name a profile uses must exist, no
/// profile may contradict itself, and the policy it produces must itself be valid (a dedicated device keeps one
/// user, a modem is only ever its owner's). One issue per problem, each at its path.
extension PolicyConfig {
    /// The issues of `policy:` within `config` (also what the model checks before it computes a policy, so a
    /// configuration built in Swift without validation gets the same refusals).
    package func validationIssues(_ config: PlatformConfiguration) -> [ConfigIssue] {
        var checker = PolicyChecker(config: config)
        checker.run(self)
        return checker.issues
    }
}

private struct PolicyChecker {
    let config: PlatformConfiguration
    var issues: [ConfigIssue] = []

    mutating func add(_ path: String, _ reason: String) { issues.append(ConfigIssue(path: path, reason: reason)) }

    mutating func run(_ policy: PolicyConfig) {
        let limit = config.hub.limits.policyMaxProfiles
        if policy.profiles.count > limit {
            add(
                "policy.profiles",
                "\(policy.profiles.count) profiles, more than hub.limits.policyMaxProfiles (\(limit))")
            return
        }
        var seen: [String: Int] = [:]
        for (index, profile) in policy.profiles.enumerated() {
            let path = "policy.profiles[\(index)]"
            if !ConfigValidator.isValidName(profile.name) {
                add("\(path).name", "'\(profile.name)' is not a valid name")
            } else if profile.name == ManagementConfig.basePolicyTarget {
                add("\(path).name", "'base' is reserved: it names the base policy")
            } else if let earlier = seen[profile.name] {
                add("\(path).name", "duplicate profile name '\(profile.name)' (also policy.profiles[\(earlier)])")
            } else {
                seen[profile.name] = index
            }
            check(profile, path)
        }
        if let initial = policy.initial, policy.profile(named: initial) == nil {
            add("policy.initial", "unknown profile '\(initial)'")
        }
    }

    mutating func check(_ profile: PolicyProfile, _ path: String) {
        let lists: [(String, Int)] = [
            ("partitions", profile.partitions.count), ("forbidLinks", profile.forbidLinks.count),
            ("suspend", profile.suspend.count), ("ethernetDown", profile.ethernetDown.count),
            ("linkRates", profile.linkRates.count),
        ]
        for (key, count) in lists where count > PolicyProfile.maxEntries {
            add("\(path).\(key)", "\(count) entries, more than \(PolicyProfile.maxEntries)")
            return
        }
        var changed: Set<String> = []
        for (index, change) in profile.partitions.enumerated() {
            let changePath = "\(path).partitions[\(index)]"
            if config.partition(named: change.partition) == nil {
                add("\(changePath).name", "unknown partition '\(change.partition)'")
                continue
            }
            if !changed.insert(change.partition).inserted {
                add("\(changePath).name", "'\(change.partition)' is changed twice in this profile")
            }
            check(change, changePath)
        }
        let config = self.config
        checkNames(profile.forbidLinks, "\(path).forbidLinks", what: "link") { config.link(named: $0) != nil }
        checkNames(profile.suspend, "\(path).suspend", what: "partition") { config.partition(named: $0) != nil }
        checkNames(profile.ethernetDown, "\(path).ethernetDown", what: "Ethernet port (SEGMENT/PORT)") {
            Self.ethernetPortExists($0, in: config)
        }
        checkDedicated(profile, path)
        checkLinkRates(profile.linkRates, "\(path).linkRates")
    }

    /// `linkRates`: each entry names a configured link once, with a budget held to the rules of a link's own
    /// `rateLimit` (the link's `maxMessageBytes` included).
    mutating func checkLinkRates(_ rates: [ProfileLinkRate], _ path: String) {
        var seen: [String: Int] = [:]
        for (index, rate) in rates.enumerated() {
            let entry = "\(path)[\(index)]"
            guard let link = config.link(named: rate.link) else {
                add("\(entry).link", "unknown link '\(rate.link)'")
                continue
            }
            if let earlier = seen[rate.link] {
                add("\(entry).link", "'\(rate.link)' is listed twice (also \(path)[\(earlier)])")
            } else {
                seen[rate.link] = index
            }
            issues += rate.limit.issues(maxMessageBytes: link.maxMessageBytes, at: entry)
        }
    }

    /// Whether `reference` is `SEGMENT/PORT` of a configured port.
    static func ethernetPortExists(_ reference: String, in config: PlatformConfiguration) -> Bool {
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, let segment = config.devices.ethernet.first(where: { $0.name == parts[0] }) else {
            return false
        }
        return segment.ports.contains { $0.name == parts[1] }
    }

    mutating func checkNames(_ names: [String], _ path: String, what: String, exists: (String) -> Bool) {
        var seen: Set<String> = []
        for (index, name) in names.enumerated() {
            if !exists(name) {
                add("\(path)[\(index)]", "unknown \(what) '\(name)'")
            } else if !seen.insert(name).inserted {
                add("\(path)[\(index)]", "'\(name)' is listed twice")
            }
        }
    }

    mutating func check(_ change: PartitionPolicyChange, _ path: String) {
        let name = change.partition
        let config = self.config
        let known: (String) -> Bool = { config.partition(named: $0) != nil && $0 != name }
        for (key, list) in [
            ("allowInterrupt", change.allowInterrupt), ("forbidInterrupt", change.forbidInterrupt),
            ("allowMessage", change.allowMessage), ("forbidMessage", change.forbidMessage), ("revoke", change.revoke),
        ] where list.count > PolicyProfile.maxEntries {
            add("\(path).\(key)", "\(list.count) entries, more than \(PolicyProfile.maxEntries)")
            return
        }
        checkNames(change.allowInterrupt, "\(path).allowInterrupt", what: "peer partition", exists: known)
        checkNames(change.forbidInterrupt, "\(path).forbidInterrupt", what: "peer partition", exists: known)
        checkNames(change.allowMessage, "\(path).allowMessage", what: "peer partition", exists: known)
        checkNames(change.forbidMessage, "\(path).forbidMessage", what: "peer partition", exists: known)
        contradiction(change.allowInterrupt, change.forbidInterrupt, path, "allowInterrupt", "forbidInterrupt")
        contradiction(change.allowMessage, change.forbidMessage, path, "allowMessage", "forbidMessage")
        let opener = config.partition(named: name)?.mayOpenLinks == true
        for (index, peer) in change.allowMessage.enumerated()
        where known(peer) && !opener && config.partition(named: peer)?.mayOpenLinks != true
            && !config.links.contains(where: { $0.joins(name, peer) })
        {
            add("\(path).allowMessage[\(index)]", "no link joins \(name) and \(peer)")
        }
        let devices = Set(config.devices.allNames)
        checkNames(change.grant.map(\.device), "\(path).grant", what: "device") { devices.contains($0) }
        checkNames(change.revoke, "\(path).revoke", what: "device") { devices.contains($0) }
        contradiction(change.grant.map(\.device), change.revoke, path, "grant", "revoke")
        let base = config.partition(named: name)
        for (index, device) in change.revoke.enumerated()
        where devices.contains(device) && base?.grant(for: device) == nil {
            add("\(path).revoke[\(index)]", "\(name) has no grant for \(device) to revoke")
        }
        for (index, grant) in change.grant.enumerated() {
            if let modem = config.devices.modems.first(where: { $0.name == grant.device }), modem.owner != name {
                add("\(path).grant[\(index)]", "\(grant.device) belongs to \(modem.owner); only its owner may hold it")
            }
        }
    }

    mutating func contradiction(_ first: [String], _ second: [String], _ path: String, _ a: String, _ b: String) {
        let other = Set(second)
        for (index, name) in first.enumerated() where other.contains(name) {
            add("\(path).\(a)[\(index)]", "'\(name)' is in both \(a) and \(b)")
        }
    }

    /// The grants the profile produces: a dedicated device still has one user.
    mutating func checkDedicated(_ profile: PolicyProfile, _ path: String) {
        var holders: [String: [(partition: String, access: DeviceAccess)]] = [:]
        for partition in config.partitions {
            let change = profile.partitions.first { $0.partition == partition.name }
            var grants = partition.devices.filter { !(change?.revoke.contains($0.device) ?? false) }
            for grant in change?.grant ?? [] {
                grants.removeAll { $0.device == grant.device }
                grants.append(grant)
            }
            for grant in grants { holders[grant.device, default: []].append((partition.name, grant.access)) }
        }
        for device in config.devices.allNames {
            guard let list = holders[device], list.count > 1, let owner = list.first(where: { $0.access == .dedicated })
            else { continue }
            let others = list.filter { $0.partition != owner.partition }.map(\.partition)
            add(
                path,
                "\(device) would be dedicated to \(owner.partition) and also granted to \(others.joined(separator: ", "))"
            )
        }
    }
}
