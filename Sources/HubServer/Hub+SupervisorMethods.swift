import ControlWire
import DeviceKit
import JSON
import PartitionSupervision
import SoftwareSlots

extension Hub {
    /// `partition.start/stop/restart/logs`: local management of launched guests (`Protocols/control.md` §10.4–§10.5).
    func registerSupervisorMethods() {
        router.register(supervisorMethods)
    }

    /// The launched-guest management methods, one named handler each.
    var supervisorMethods: [ControlMethod] {
        [
            .bound("partition.start", "Start a launched partition's guest", to: self, Hub.partitionStart),
            .bound(
                "partition.stop", "Stop a launched partition's guest (SIGTERM, then SIGKILL)", to: self,
                Hub.partitionStop),
            .bound("partition.restart", "Restart a launched partition's guest now", to: self, Hub.partitionRestart),
            .bound(
                "partition.logs", "Recent output of a launched guest; optionally clear it", to: self, Hub.partitionLogs),
        ]
    }

    /// `partition.start`.
    func partitionStart(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let supervisor = try self.supervisor(call)
        let started = supervisor.start(reason: "partition.start from \(call.session?.remote ?? "?")")
        return .result(["state": .string(supervisor.state.rawValue), "changed": .bool(started)])
    }

    /// `partition.stop`.
    func partitionStop(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let supervisor = try self.supervisor(call)
        supervisor.stop(reason: "partition.stop from \(call.session?.remote ?? "?")")
        return .result(["state": .string(supervisor.state.rawValue)])
    }

    /// `partition.restart`.
    func partitionRestart(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let supervisor = try self.supervisor(call)
        supervisor.restart(reason: "partition.restart from \(call.session?.remote ?? "?")")
        return .result(["state": .string(supervisor.state.rawValue)])
    }

    /// `partition.logs`.
    func partitionLogs(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["name", "clear"])
        let supervisor = try self.supervisor(call, params: params)
        let bytes = supervisor.log.contents
        let result: JSON = [
            "text": .string(String(decoding: bytes, as: UTF8.self)), "bytes": .int(Int64(bytes.count)),
            "dropped": .uint(supervisor.log.dropped), "capacity": .int(Int64(supervisor.log.capacity)),
        ]
        if try params.optionalBool("clear") == true { supervisor.clearLog() }
        return .result(result)
    }

    private func supervisor(_ call: ControlCall, params: ControlParams? = nil) throws(ControlError)
        -> PartitionSupervisor
    {
        let checked: ControlParams
        if let params { checked = params } else { checked = try ControlParams(call.params, allowed: ["name"]) }
        let params = checked
        let name = try params.requireString("name")
        let partition = try partition(named: name)
        guard let supervisor = supervisors[partition.name] else {
            throw ControlError.conflict(
                "\(name) has no launch section: its guest is started outside the hub", reason: "not_launched")
        }
        return supervisor
    }
}

/// What the partitions' supervisors need of the hub (`PartitionSupervision`).
extension Hub: SupervisorHost {
    package func isSuspended(_ partition: String) -> Bool { platform.isSuspended(partition: partition) }

    package var softwareSlots: SoftwareSlots? { software?.slots }

    package func publishSupervisorEvent(_ kind: String, partition: String, data: JSON) {
        publish(kind, partition: partition, data: data)
    }
}
