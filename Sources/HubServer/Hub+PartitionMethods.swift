import ControlWire
import DeviceKit
import Hypervisor
import JSON
import PlatformConfig

extension Hub {
    /// `partition.*`: the platform's partitions, their policy, state and counters (`Protocols/control.md` §10).
    func registerPartitionMethods() {
        router.register(partitionMethods)
    }

    /// The `partition.*` inspection methods, one named handler each.
    var partitionMethods: [ControlMethod] {
        [
            .bound("partition.list", "Every partition with its class, priority and state", to: self, Hub.partitionList),
            .bound("partition.get", "One partition: policy, state, session and counters", to: self, Hub.partitionGet),
            .bound("partition.counters", "Counters of one or every partition", to: self, Hub.partitionCounters),
        ]
    }

    /// `partition.list`.
    func partitionList(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        let snapshot = self.platform.snapshot()
        return .result([
            "partitions": .array(
                self.configuration.partitions.map { partition in
                    let state = snapshot.partition(partition.name)
                    return [
                        "name": .string(partition.name), "class": .string(partition.schedulingClass.rawValue),
                        "priority": .int(Int64(partition.priority)),
                        "state": .string(self.supervisors[partition.name]?.state.rawValue ?? Hub.stateName(state)),
                        "attached": .bool(state?.state.session != nil),
                    ]
                })
        ])
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
            names = self.configuration.partitions.map(\.name)
        }
        let snapshot = self.platform.snapshot()
        var result = JSONObject()
        for name in names { result[name] = snapshot.partition(name).map { Hub.countersJSON($0.counters) } ?? .null }
        return .result(["partitions": .object(result)])
    }

    func partition(named name: String) throws(ControlError) -> PartitionConfig {
        guard let partition = configuration.partition(named: name) else {
            throw ControlError.notFound("partition", name: name)
        }
        return partition
    }

    /// `waiting` (no guest attached yet), `running`, or `suspended`.
    static func stateName(_ snapshot: PartitionSnapshot?) -> String {
        guard let snapshot else { return "waiting" }
        if snapshot.suspended { return "suspended" }
        return snapshot.state.session != nil ? "running" : "waiting"
    }

    func partitionJSON(_ partition: PartitionConfig) -> JSON {
        let snapshot = platform.snapshot().partition(partition.name)
        var session: JSON = .null
        if let id = snapshot?.state.session {
            let guest = guestSessions[id]
            session = [
                "id": .uint(id.rawValue), "peer": .string(guest?.remote ?? "?"),
                "attachedAtUnixNs": .uint(guest?.attachedAtUnixNs ?? 0),
            ]
        }
        return [
            "name": .string(partition.name),
            "class": .string(partition.schedulingClass.rawValue),
            "priority": .int(Int64(partition.priority)),
            "weight": .int(Int64(partition.weight)),
            "memoryBytes": .uint(partition.memoryBytes),
            "state": .string(supervisors[partition.name]?.state.rawValue ?? Hub.stateName(snapshot)),
            "session": session,
            "supervisor": supervisors[partition.name]?.statusJSON ?? .null,
            "interruptLines": .int(Int64(partition.interruptLines)),
            "pendingLines": .array((snapshot?.pendingLines ?? []).map { .int(Int64($0)) }),
            "policy": [
                "mayInterrupt": .array(partition.mayInterrupt.map { .string($0) }),
                "mayMessage": .array(partition.mayMessage.map { .string($0) }),
                "devices": .array(
                    partition.devices.map { ["device": .string($0.device), "access": .string($0.access.rawValue)] }),
                "allowTakeover": .bool(partition.allowTakeover),
            ],
            "counters": snapshot.map { Hub.countersJSON($0.counters) } ?? .null,
        ]
    }

    static func countersJSON(_ counters: PartitionCounters) -> JSON {
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
}
