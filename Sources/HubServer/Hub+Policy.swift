import ControlWire
import DeviceKit
import Events
import Hypervisor
import JSON
import PlatformConfig
import PlatformControl

/// Policy profiles live in `PlatformControl` (`PolicyControl`); this answers what they ask of the hub's sessions,
/// supervisors and devices (`Protocols/policy.md`).
final class HubPolicyHost: PolicyControlHost {
    private unowned let hub: Hub

    init(hub: Hub) {
        self.hub = hub
    }

    var configuration: PlatformConfiguration { hub.configuration }
    var platform: Platform { hub.platform }

    func perform(_ actions: inout [Action]) { hub.perform(&actions) }

    func publish(_ kind: String, partition: String?, device: String?, data: JSON) -> HubEvent {
        hub.publish(kind, partition: partition, device: device, data: data)
    }

    func callMethod(_ name: String, params: JSON?) -> Result<JSON, ControlError> {
        hub.callMethod(name, params: params)
    }

    func setSuspended(_ partition: String, _ suspended: Bool, reason: String) -> Bool {
        var actions: [Action] = []
        let outcome =
            suspended
            ? hub.platform.suspend(partition: partition, actions: &actions)
            : hub.platform.resume(partition: partition, actions: &actions)
        guard case .ok = outcome else { return false }
        // As partition.suspend/resume: tell the guest first, then stop its process; continue it, then tell it.
        let guest = hub.platform.state(ofPartition: partition)?.session.flatMap { hub.guestSessions[$0] }
        if suspended { guest?.notifySuspended(true, reason: reason) }
        _ = hub.supervisors[partition]?.setSuspended(suspended)
        if !suspended { guest?.notifySuspended(false, reason: "") }
        hub.perform(&actions)
        return true
    }

    func closeChannels(partition: String, device: String, code: UInt16, reason: String) -> Int {
        guard let session = hub.platform.state(ofPartition: partition)?.session,
            let guest = hub.guestSessions[session]
        else { return 0 }
        return guest.closeChannels(toDevice: device, code: code, reason: reason)
    }

    func notifyPolicyChanged(profile: String?, generation: UInt64, summary: (String) -> String) {
        for guest in hub.guestSessions.values {
            guard let partition = guest.partition else { continue }
            guest.policyChanged(profile: profile, generation: generation, summary: summary(partition))
        }
    }
}

extension Hub {
    /// The grant under the policy in force (`DeviceHost.deviceGrant`).
    package func deviceGrant(partition: String, device: String) -> DeviceGrant? {
        platform.policy.grant(partition: partition, device: device)
    }

    /// `policy.initial`: activated once the devices are up (its ports must exist) and before launched guests
    /// start (a partition it suspends starts stopped).
    func activateInitialPolicy() throws(HubStartError) {
        guard let initial = configuration.policy.initial else { return }
        do throws(PolicyActivationError) {
            try policyControl.activate(initial, by: "configuration")
        } catch {
            throw .model("policy.initial '\(initial)': \(error)")
        }
    }
}
