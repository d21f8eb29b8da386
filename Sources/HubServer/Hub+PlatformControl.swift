import ControlWire
import DeviceKit
import Events
import Hypervisor
import JSON
import PlatformConfig
import PlatformControl

/// The platform's control methods live in `PlatformControl`; this answers what they ask of the hub.
final class HubPlatformControlHost: PlatformControlHost {
    // SAFETY: the hub holds this host (`platformMethods`) and outlives it; a checked reference retained it per call.
    private unowned(unsafe) let hub: Hub
    /// The hub's own (never replaced), held here: each step through `hub` would retain and release the hub.
    private let events: EventHub
    let platform: Platform

    init(hub: Hub) {
        self.hub = hub
        events = hub.events
        platform = hub.platform
    }

    var configuration: PlatformConfiguration { hub.configuration }
    /// The configured partitions alone: a method called on the whole configuration would be handed a copy of it.
    private var partitions: [PartitionConfig] { hub.configuration.partitions }
    func isPartitionName(_ name: String) -> Bool { partitions.contains { $0.name == name } }
    func interruptLines(ofPartition name: String) -> Int? { partitions.interruptLines(ofPartition: name) }
    var eventLog: EventLog { events.log }

    func perform(_ actions: inout [Action]) { hub.perform(&actions) }

    func publish(_ kind: String, partition: String?, device: String?, data: JSON) -> HubEvent {
        hub.publish(kind, partition: partition, device: device, data: data)
    }

    func processState(ofPartition name: String) -> String? { hub.supervisors[name]?.state.rawValue }

    func supervisorJSON(ofPartition name: String) -> JSON? { hub.supervisors[name]?.statusJSON }

    func origin(ofPartition name: String) -> JSON { hub.provisioning?.origin(of: name) ?? "configuration" }

    /// Empty without a state directory (no provisioning then).
    var provisioningStatusJSON: JSON {
        hub.provisioning?.statusJSON ?? ["budgets": [], "partitions": [], "shadowed": [], "counters": [:]]
    }

    func guest(_ session: SessionID) -> (remote: String, attachedAtUnixNs: UInt64, unsentBytes: Int)? {
        hub.guestSessions[session].map { ($0.remote, $0.attachedAtUnixNs, $0.unsentBytes) }
    }
}

extension Hub {
    /// `irq.*`, `msg.*`, `link.*` and `partition.*` (`PlatformControl`), and the methods that also act on the
    /// hub's sessions and supervisors: suspending and resuming a partition, the guest connections' counters.
    func registerInjectionMethods() {
        router.register(platformMethods.methods)
        router.register(sessionMethods)
    }

    /// The methods that reach guest sessions and supervisors, one named handler each.
    var sessionMethods: [ControlMethod] {
        [
            .bound(
                "partition.suspend", "Stop deliveries to a partition (they stay pending)", to: self,
                Hub.partitionSuspend),
            .bound("partition.resume", "Resume deliveries to a suspended partition", to: self, Hub.partitionResume),
            .bound("guest.stats", "Guest-protocol connections and error counters", to: self, Hub.guestStats),
        ]
    }

    /// A configured partition, or `not found`.
    func partition(named name: String) throws(ControlError) -> PartitionConfig {
        try platformMethods.partition(named: name)
    }

    /// `partition.suspend`.
    func partitionSuspend(_ call: ControlCall) throws(ControlError) -> ControlReply {
        try self.manage(call, suspend: true)
    }

    /// `partition.resume`.
    func partitionResume(_ call: ControlCall) throws(ControlError) -> ControlReply {
        try self.manage(call, suspend: false)
    }

    /// `guest.stats`.
    func guestStats(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result([
            "connections": .int(Int64(self.guestConnections.count)),
            "attached": .int(Int64(self.guestSessions.count)),
            "malformedFrames": .uint(self.guestCounters.malformedFrames),
            "authFailures": .uint(self.guestCounters.authFailures),
            "heartbeatsMissed": .uint(self.guestCounters.heartbeatsMissed),
            "refusedOverLimit": .uint(self.guestCounters.refusedOverLimit),
        ])
    }

    private func manage(_ call: ControlCall, suspend: Bool) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["name", "reason"])
        let name = try params.requireString("name")
        // The reason reaches the guest's SUSPEND; suspend for priority (Protocols/power.md §5) passes its own.
        let reason = try params.optionalString("reason") ?? "control client \(call.session?.remote ?? "?")"
        guard reason.utf8.count <= 1024 else {
            throw ControlError.invalidParams(param: "reason", expected: "text of at most 1024 bytes")
        }
        let guest = platform.state(ofPartition: name)?.session.flatMap { guestSessions[$0] }
        // Its SUSPEND or RESUME would wait behind what it has not read, and a manager may toggle without end: refused,
        // nothing changed, until it reads (Protocols/guest.md §9.2).
        if let guest, guest.isWriteQueueFull {
            throw ControlError.unavailable("\(name)'s guest is not reading its frames", reason: "guest_not_reading")
        }
        var actions: [Action] = []
        let outcome =
            suspend
            ? platform.suspend(partition: name, actions: &actions) : platform.resume(partition: name, actions: &actions)
        var processNote: JSON = .null
        if case .ok = outcome {
            // Suspend: tell the guest first, then stop its process; resume: continue it, then tell it.
            if suspend { guest?.notifySuspended(true, reason: reason) }
            if let supervisor = supervisors[name] {
                processNote = supervisor.setSuspended(suspend).map { .string($0) } ?? .null
            }
            if !suspend { guest?.notifySuspended(false, reason: "") }
        }
        perform(&actions)
        let state = PlatformMethods.stateName(platform.snapshot().partition(name))
        switch outcome {
        case .ok: return .result(["state": .string(state), "changed": true, "processError": processNote])
        case .unchanged: return .result(["state": .string(state), "changed": false, "processError": .null])
        case .noSuchPartition: throw ControlError.notFound("partition", name: name)
        }
    }

    /// Runtime link actions of the model become frames to the sessions concerned.
    func performLinkAction(_ action: Action) {
        switch action {
        case .linkOpened(let session, let view, let openedBy):
            guard let guest = guestSessions[session] else { return }
            guest.linkOpened(view, openedBy: openedBy)
            scheduleFlush(of: guest)
        case .linkClosing(let session, _, let id, _):
            guard let guest = guestSessions[session] else { return }
            guest.linkClosing(id: id)
            scheduleFlush(of: guest)
        case .linkClosed(let session, _, let id):
            guard let guest = guestSessions[session] else { return }
            guest.linkClosed(id: id)
            scheduleFlush(of: guest)
        default:
            break
        }
    }
}
