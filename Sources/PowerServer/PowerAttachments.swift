import ControlWire
import DeviceKit
import GuestWire
import JSON
import Power

/// What a power frame from a guest gets back (`Protocols/power.md` §4–§6).
package enum PowerAnswer: Equatable {
    /// `OK` when the request id is not 0.
    case ok
    /// This frame, with the request's id (sent also when the id is 0 if `always`).
    case frame(GuestMessage, always: Bool)
    case error(GuestErrorCode, String)
}

/// How partitions reach the power device: their guests' power frames (`POWER_STATE`, `WAKE_LOCK`,
/// `PARTITION_CONTROL`, `POWER_QUERY`), the wake before an interrupt, and the hub's events it follows.
extension PowerDevice {
    /// One power frame from `partition`'s guest (the session checked the `power` feature).
    package func guestFrame(_ message: GuestMessage, from partition: String) -> PowerAnswer {
        switch message {
        case .powerState(let state):
            counters.declarations += 1
            update { model, now in model.declare(partition, PartitionPowerState(state), now: now) }
            host?.publish(
                "power.partitionState", partition: partition,
                data: ["declared": .string(PartitionPowerState(state).rawValue)])
            return .ok
        case .wakeLock(let held, let name):
            return wakeLock(held: held, name: name, partition: partition)
        case .partitionControl(let action, let target, let reason):
            return .frame(partitionControl(action, target: target, reason: reason, from: partition), always: true)
        case .powerQuery:
            return .frame(.powerInfo(info(for: partition)), always: false)
        default:
            return .error(.unexpectedFrame, "\(message.type) is not a power request")
        }
    }

    private func wakeLock(held: Bool, name: String, partition: String) -> PowerAnswer {
        counters.lockRequests += 1
        let limit = configuration.hub.limits.powerMaxWakeLocks
        var outcome = LockOutcome.unchanged
        update { model, now in
            let (result, changes) = model.setLock(holder: partition, name: name, held: held, maxLocks: limit, now: now)
            outcome = result
            return changes
        }
        switch outcome {
        case .limitReached:
            counters.lockRefusals += 1
            return .error(.limitReached, "\(limit) wake locks held (hub.limits.powerMaxWakeLocks)")
        case .changed:
            host?.publish(
                "power.lock", partition: partition,
                data: ["name": .string(name), "held": .bool(held), "holder": .string(partition)])
            return .ok
        case .unchanged:
            return .ok
        }
    }

    /// `PARTITION_CONTROL` (`Protocols/power.md` §5): the sender's `maySuspend` must name the target; the
    /// suspension itself is `partition.suspend` / `partition.resume`, the same path as the control API's.
    private func partitionControl(
        _ action: GuestPartitionAction, target: String, reason: String, from partition: String
    ) -> GuestMessage {
        let status = controlStatus(action, target: target, reason: reason, from: partition)
        let statusName = Self.statusName(status)
        counters.countControl(statusName)
        host?.publish(
            "power.partitionControl", partition: partition,
            data: [
                "target": .string(target), "action": .string(action == .suspend ? "suspend" : "resume"),
                "reason": .string(reason), "status": .string(statusName),
            ])
        return .partitionControlResult(partition: target, action: action, status: status)
    }

    private func controlStatus(
        _ action: GuestPartitionAction, target: String, reason: String, from partition: String
    ) -> GuestPartitionControlStatus {
        guard configuration.partition(named: target) != nil else { return .noSuchPartition }
        guard target != partition else { return .selfTarget }
        guard configuration.partition(named: partition)?.maySuspend.contains(target) == true else {
            return .notPermitted
        }
        let method = action == .suspend ? "partition.suspend" : "partition.resume"
        // The sender's reason may be a whole text field already: what the target is told is shortened to one.
        let told = GuestText.shortened("\(partition): \(reason)")
        let params: JSON = ["name": .string(target), "reason": .string(told)]
        switch host?.callMethod(method, params: params) {
        case .success(let answer)?: return answer["changed"]?.boolValue == true ? .done : .unchanged
        case .failure(let error)? where error.reason == "guest_not_reading": return .notReading
        default: return .notPermitted
        }
    }

    static func statusName(_ status: GuestPartitionControlStatus) -> String {
        switch status {
        case .done: return "done"
        case .unchanged: return "unchanged"
        case .notPermitted: return "not_permitted"
        case .noSuchPartition: return "no_such_partition"
        case .selfTarget: return "self"
        case .notReading: return "not_reading"
        }
    }

    /// `POWER_INFO` for `partition`.
    func info(for partition: String) -> GuestPowerInfo {
        let model = current()
        let level = min(max(model.batteryPercent * 100, 0), 10_000).rounded()
        let draw = min(max(model.drawMw, 0), Double(UInt32.max)).rounded()
        return GuestPowerInfo(
            platform: GuestPlatformPowerState(model.platformState),
            partition: GuestPowerState(model.state(of: partition)),
            batteryCentiPercent: UInt16(level), charging: model.charging, drawMw: UInt32(draw),
            locks: UInt16(min(model.lockCount, Int(UInt16.max))))
    }

    /// An interrupt on `line` is about to be delivered to `partition`: when its guest declared `idle` or
    /// `suspended`, the partition is woken and this returns the `WAKE` frame to send first (§3.3).
    package func wakeBeforeInterrupt(partition: String, line: Int) -> GuestMessage? {
        // Every interrupt passes here: one lookup, and the clock only for a partition that declared itself asleep.
        // The declarations are read in place: calling the model's `declaredState(of:)` copied the whole model
        // (and released the copy) on every interrupt. With none declared, nothing is hashed either.
        let declared = model.declared
        let from = declared.isEmpty ? PartitionPowerState.active : declared[partition] ?? .active
        guard from == .idle || from == .suspended else { return nil }
        var changes: [PowerChange] = []
        guard model.wake(partition, source: "irq", now: clock(), changes: &changes) else { return nil }
        apply(changes)
        counters.wakeFramesSent += 1
        return .wake(source: "irq", line: UInt16(clamping: line), from: GuestPowerState(from))
    }

    /// Follows the hub's events: guests attaching and detaching, management suspending and resuming partitions,
    /// and modem calls (a call in progress holds the hub's wake lock `call:MODEM`, §3.4).
    package func observe(_ kind: String, partition: String?, device: String?, data: JSON) {
        // Asked of every event published: a kind of none of the lengths below (17, 18, 19 for the partition
        // kinds, 10 for `modem.call`) or not starting with their letters is none of them, known without comparing
        // text (a call per case); `irq.raised`, the commonest, is 10 long.
        switch (kind.utf8.count, kind.utf8.first) {
        case (10, UInt8(ascii: "m")), (17...19, UInt8(ascii: "p")): break
        default: return
        }
        switch kind {
        case "partition.attached":
            if let partition { update { model, now in model.setAttached(partition, true, now: now) } }
        case "partition.detached":
            if let partition { update { model, now in model.setAttached(partition, false, now: now) } }
        case "partition.suspended", "partition.resumed":
            if let partition {
                update { model, now in
                    model.setManagementSuspended(partition, kind == "partition.suspended", now: now)
                }
            }
        case "modem.call":
            if let device, let id = data["id"]?.int64Value {
                callChanged(modem: device, id: id, ended: data["ended"] != nil)
            }
        default:
            break
        }
    }

    private func callChanged(modem: String, id: Int64, ended: Bool) {
        var active = calls[modem] ?? []
        let wasEmpty = active.isEmpty
        if ended { active.remove(id) } else { active.insert(id) }
        calls[modem] = active.isEmpty ? nil : active
        guard wasEmpty != active.isEmpty else { return }
        let lock = "call:\(modem)"
        let limit = configuration.hub.limits.powerMaxWakeLocks
        update { model, now in
            if !active.isEmpty { model.countPlatformWake(source: "call") }
            return model.setLock(
                holder: PowerModel.hubHolder, name: lock, held: !active.isEmpty, maxLocks: limit, now: now
            ).1
        }
        if !active.isEmpty { host?.publish("power.wake", device: modem, data: ["source": "call"]) }
        host?.publish(
            "power.lock", device: modem,
            data: ["name": .string(lock), "held": .bool(!active.isEmpty), "holder": .string(PowerModel.hubHolder)])
    }
}

extension PartitionPowerState {
    init(_ state: GuestPowerState) {
        switch state {
        case .active: self = .active
        case .idle: self = .idle
        case .suspended: self = .suspended
        case .off: self = .off
        }
    }
}

extension GuestPowerState {
    init(_ state: PartitionPowerState) {
        switch state {
        case .active: self = .active
        case .idle: self = .idle
        case .suspended: self = .suspended
        case .off: self = .off
        }
    }
}

extension GuestPlatformPowerState {
    init(_ state: PlatformPowerState) {
        switch state {
        case .on: self = .on
        case .idle: self = .idle
        case .suspend: self = .suspend
        }
    }
}
