import PlatformConfig
import YAML

/// `policy:` (`Deploy/config-reference.md`, policy): shapes and types only; names, counts and contradictions are
/// checked by the validator (`PolicyConfig+Validation.swift`).
extension ConfigDecoder {
    func policy(_ node: Node, _ path: String) -> PolicyConfig {
        var policy = PolicyConfig()
        guard let fields = reader.mapping(node, at: path, allowed: ["initial", "profiles"]) else { return policy }
        policy.initial = fields.read("initial", reader.string)
        if let node = fields.optional("profiles") {
            policy.profiles = (reader.sequence(node, at: fields.path("profiles")) ?? []).map {
                profile($0.node, $0.path) ?? PolicyProfile(name: "")
            }
        }
        return policy
    }

    private func profile(_ node: Node, _ path: String) -> PolicyProfile? {
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: ["name", "description", "partitions", "forbidLinks", "suspend", "ethernetDown", "linkRates"])
        else { return nil }
        var profile = PolicyProfile(name: fields.readRequired("name", reader.string) ?? "")
        profile.description = fields.read("description", reader.string) ?? ""
        if let node = fields.optional("partitions") {
            profile.partitions = (reader.sequence(node, at: fields.path("partitions")) ?? []).map {
                change($0.node, $0.path) ?? PartitionPolicyChange(partition: "")
            }
        }
        profile.forbidLinks = fields.read("forbidLinks", reader.stringList) ?? []
        profile.suspend = fields.read("suspend", reader.stringList) ?? []
        profile.ethernetDown = fields.read("ethernetDown", reader.stringList) ?? []
        if let node = fields.optional("linkRates") {
            profile.linkRates = (reader.sequence(node, at: fields.path("linkRates")) ?? []).map {
                linkRate($0.node, $0.path) ?? ProfileLinkRate(link: "", limit: .unlimited)
            }
        }
        return profile
    }

    /// A `linkRates` entry: a link's name and the keys of a link's `rateLimit` (ranges are checked by the
    /// validator).
    private func linkRate(_ node: Node, _ path: String) -> ProfileLinkRate? {
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["link", "messagesPerSecond", "bytesPerSecond", "burstMessages", "burstBytes"])
        else { return nil }
        let limit = LinkRateLimit(
            messagesPerSecond: fields.read("messagesPerSecond", reader.int) ?? 0,
            bytesPerSecond: fields.read("bytesPerSecond", reader.intSize) ?? 0,
            burstMessages: fields.read("burstMessages", reader.int),
            burstBytes: fields.read("burstBytes", reader.intSize))
        return ProfileLinkRate(link: fields.readRequired("link", reader.string) ?? "", limit: limit)
    }

    private func change(_ node: Node, _ path: String) -> PartitionPolicyChange? {
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: [
                    "name", "allowInterrupt", "forbidInterrupt", "allowMessage", "forbidMessage", "grant", "revoke",
                ])
        else { return nil }
        var change = PartitionPolicyChange(partition: fields.readRequired("name", reader.string) ?? "")
        change.allowInterrupt = fields.read("allowInterrupt", reader.stringList) ?? []
        change.forbidInterrupt = fields.read("forbidInterrupt", reader.stringList) ?? []
        change.allowMessage = fields.read("allowMessage", reader.stringList) ?? []
        change.forbidMessage = fields.read("forbidMessage", reader.stringList) ?? []
        change.revoke = fields.read("revoke", reader.stringList) ?? []
        if let node = fields.optional("grant") {
            change.grant = (reader.sequence(node, at: fields.path("grant")) ?? []).map {
                deviceGrant($0.node, $0.path) ?? DeviceGrant(device: "", access: .shared)
            }
        }
        return change
    }
}
