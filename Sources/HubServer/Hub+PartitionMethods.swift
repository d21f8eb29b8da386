import ControlWire
import JSON
import PlatformConfig

extension Hub {
    /// `partition.*`: the platform's partitions, their policy, state and counters.
    func registerPartitionMethods() {
        router.register("partition.list", summary: "Every partition with its class, priority and state") {
            [unowned self] call throws(ControlError) in
            _ = try ControlParams(call.params, allowed: [])
            return .result(.array(self.configuration.partitions.map { self.partitionJSON($0) }))
        }
        router.register("partition.get", summary: "One partition: policy, state, session and counters") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["name"])
            let name = try params.requireString("name")
            guard let partition = self.configuration.partition(named: name) else {
                throw ControlError.notFound("partition", name: name)
            }
            return .result(self.partitionJSON(partition, detailed: true))
        }
    }

    func partitionJSON(_ partition: PartitionConfig, detailed: Bool = false) -> JSON {
        var object: JSONObject = [
            "name": .string(partition.name),
            "class": .string(partition.schedulingClass.rawValue),
            "priority": .int(Int64(partition.priority)),
            "weight": .int(Int64(partition.weight)),
            "memoryBytes": .uint(partition.memoryBytes),
            "interruptLines": .int(Int64(partition.interruptLines)),
        ]
        for (key, value) in partitionRuntimeJSON(partition.name) { object[key] = value }
        if detailed {
            object["mayInterrupt"] = .array(partition.mayInterrupt.map { .string($0) })
            object["mayMessage"] = .array(partition.mayMessage.map { .string($0) })
            object["devices"] = .array(
                partition.devices.map { ["device": .string($0.device), "access": .string($0.access.rawValue)] })
            object["allowTakeover"] = .bool(partition.allowTakeover)
        }
        return .object(object)
    }
}

extension Hub {
    /// Runtime state of a partition for the control API.
    func partitionRuntimeJSON(_ name: String) -> JSONObject { ["state": "detached"] }
}
