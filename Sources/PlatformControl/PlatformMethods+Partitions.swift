import ControlWire
import DeviceKit
import Hypervisor
import JSON
import PlatformConfig

extension PlatformMethods {
    /// `partition.*`: the platform's partitions, their policy, state and counters (`Protocols/control.md` §10).
    /// The `partition.*` inspection methods, one named handler each.
    var partitionMethods: [ControlMethod] {
        [
            .bound(
                "partition.list", "Every partition with its class, priority and state", to: self,
                PlatformMethods.partitionList),
            .bound(
                "partition.get", "One partition: policy, state, session and counters", to: self,
                PlatformMethods.partitionGet),
            .bound(
                "partition.counters", "Counters of one or every partition", to: self, PlatformMethods.partitionCounters),
            .bound(
                "provisioning.status", "Budgets, provisioned partitions, counters", to: self,
                PlatformMethods.provisioningStatus),
        ]
    }

    /// `partition.list`.
    func partitionList(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        let snapshot = self.host.platform.snapshot()
        return .result([
            "partitions": .array(
                self.host.configuration.partitions.map { partition in
                    let state = snapshot.partition(partition.name)
                    return [
                        "name": .string(partition.name), "class": .string(partition.schedulingClass.rawValue),
                        "priority": .int(Int64(partition.priority)),
                        "state": .string(
                            self.host.processState(ofPartition: partition.name) ?? PlatformMethods.stateName(state)),
                        "attached": .bool(state?.state.session != nil),
                        "origin": self.host.origin(ofPartition: partition.name),
                    ]
                })
        ])
    }

    /// `provisioning.status` (`Protocols/control.md`): empty without a state directory.
    func provisioningStatus(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result(host.provisioningStatusJSON)
    }

    /// `partition.get`.
    func partitionGet(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["name"])
        let partition = try self.partition(named: try params.requireString("name"))
        return .result(self.partitionJSON(partition))
    }

    /// `partition.counters`.
    func partitionCounters(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["name"])
        let names: [String]
        if let name = try params.optionalString("name") {
            names = [try self.partition(named: name).name]
        } else {
            names = self.host.configuration.partitions.map(\.name)
        }
        let snapshot = self.host.platform.snapshot()
        var result = JSONObject()
        for name in names {
            result[name] = snapshot.partition(name).map { PlatformMethods.countersJSON($0.counters) } ?? .null
        }
        return .result(["partitions": .object(result)])
    }

    package func partition(named name: String) throws(ControlError) -> PartitionConfig {
        guard let partition = host.configuration.partition(named: name) else {
            throw ControlError.notFound("partition", name: name)
        }
        return partition
    }

    /// `waiting` (no guest attached yet), `running`, or `suspended`.
    package static func stateName(_ snapshot: PartitionSnapshot?) -> String {
        guard let snapshot else { return "waiting" }
        if snapshot.suspended { return "suspended" }
        return snapshot.state.session != nil ? "running" : "waiting"
    }

    func partitionJSON(_ partition: PartitionConfig) -> JSON {
        let snapshot = host.platform.snapshot().partition(partition.name)
        let inForce = Self.policyInForce(partition, host.platform.policy)
        var session: JSON = .null
        if let id = snapshot?.state.session {
            let guest = host.guest(id)
            session = [
                "id": .uint(id.rawValue), "peer": .string(guest?.remote ?? "?"),
                "attachedAtUnixNs": .uint(guest?.attachedAtUnixNs ?? 0),
                "unsentBytes": .int(Int64(guest?.unsentBytes ?? 0)),
            ]
        }
        return [
            "name": .string(partition.name),
            "class": .string(partition.schedulingClass.rawValue),
            "priority": .int(Int64(partition.priority)),
            "weight": .int(Int64(partition.weight)),
            "memoryBytes": .uint(partition.memoryBytes),
            "state": .string(host.processState(ofPartition: partition.name) ?? PlatformMethods.stateName(snapshot)),
            "session": session,
            "supervisor": host.supervisorJSON(ofPartition: partition.name) ?? .null,
            "interruptLines": .int(Int64(partition.interruptLines)),
            "pendingLines": .array((snapshot?.pendingLines ?? []).map { .int(Int64($0)) }),
            "policy": [
                "mayInterrupt": .array(inForce.mayInterrupt.map { .string($0) }),
                "mayMessage": .array(inForce.mayMessage.map { .string($0) }),
                "devices": .array(
                    inForce.devices.map { ["device": .string($0.device), "access": .string($0.access.rawValue)] }),
                "allowTakeover": .bool(partition.allowTakeover),
            ],
            "counters": snapshot.map { PlatformMethods.countersJSON($0.counters) } ?? .null,
            "origin": host.origin(ofPartition: partition.name),
        ]
    }

    package static func countersJSON(_ counters: PartitionCounters) -> JSON {
        [
            "irqRaised": .uint(counters.interruptsRaised),
            "irqDelivered": .uint(counters.interruptsDelivered),
            "irqLatched": .uint(counters.interruptsLatched),
            "irqCoalesced": .uint(counters.interruptsCoalesced),
            "irqRefused": .uint(counters.raisesRefused),
            "msgQueued": .uint(counters.messagesQueued),
            "msgDelivered": .uint(counters.messagesDelivered),
            "msgRedelivered": .uint(counters.messagesRedelivered),
            "msgRefused": .uint(counters.sendsRefused),
            "msgRateLimited": .uint(counters.sendsRateLimited),
            "bytesDelivered": .uint(counters.bytesDelivered),
            "regionRefused": .uint(counters.regionAccessRefused),
            "attaches": .uint(counters.attaches),
            "takeovers": .uint(counters.takeovers),
        ]
    }

    /// The partition's permissions and grants under the policy in force (`Protocols/policy.md`): those of the
    /// configuration it keeps, in configuration order, then those a profile added, sorted.
    static func policyInForce(_ partition: PartitionConfig, _ policy: EffectivePolicy) -> (
        mayInterrupt: [String], mayMessage: [String], devices: [DeviceGrant]
    ) {
        func order(_ configured: [String], _ effective: Set<String>) -> [String] {
            let kept = configured.filter { effective.contains($0) }
            return kept + effective.subtracting(kept).sorted()
        }
        let grants = policy.grants[partition.name] ?? [:]
        let kept = partition.devices.compactMap { grant in
            grants[grant.device].map { DeviceGrant(device: grant.device, access: $0) }
        }
        let added = grants.keys.filter { device in !kept.contains { $0.device == device } }.sorted().map {
            DeviceGrant(device: $0, access: grants[$0]!)
        }
        return (
            order(partition.mayInterrupt, policy.mayInterrupt[partition.name] ?? []),
            order(partition.mayMessage, policy.mayMessage[partition.name] ?? []), kept + added
        )
    }
}
