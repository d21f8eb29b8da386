import ControlWire
import DeviceKit
import Events
import Hypervisor
import JSON
import PlatformConfig

/// What switching policy needs of the hub beyond the model: suspending partitions as `partition.suspend` does,
/// closing guests' device channels, telling guests, and the devices' own control methods (Ethernet links, modem
/// calls), reached by name so this module depends on no device.
package protocol PolicyControlHost: AnyObject {
    var configuration: PlatformConfiguration { get }
    var platform: Platform { get }
    func perform(_ actions: inout [Action])
    @discardableResult
    func publish(_ kind: String, partition: String?, device: String?, data: JSON) -> HubEvent
    /// One of the hub's control methods, answered now (`DeviceHost.callMethod`).
    func callMethod(_ name: String, params: JSON?) -> Result<JSON, ControlError>
    /// Suspends or resumes `partition` as `partition.suspend`/`resume` do (its guest told, a launched guest's
    /// process stopped or continued); false when it already was in that state.
    func setSuspended(_ partition: String, _ suspended: Bool, reason: String) -> Bool
    /// Closes every device channel the session of `partition` has open to `device` with `CHANNEL_CLOSE` `code`
    /// and `reason` (the device is told the channel closed); returns how many.
    func closeChannels(partition: String, device: String, code: UInt16, reason: String) -> Int
    /// Sends `POLICY_CHANGED` to every attached guest that enabled `policy-profiles`, each with its own summary.
    func notifyPolicyChanged(profile: String?, generation: UInt64, summary: (String) -> String)
}

/// Why a profile could not be activated; nothing changed.
package enum PolicyActivationError: Error, Equatable {
    case unknownProfile(String)
    case invalidPolicy(String)

    /// The refusal code a management command gets (`Protocols/policy.md` §5).
    package var code: String {
        switch self {
        case .unknownProfile: "unknown_profile"
        case .invalidPolicy: "invalid_policy"
        }
    }

    package var detail: String {
        switch self {
        case .unknownProfile(let name): "no profile '\(name)'"
        case .invalidPolicy(let reason): reason
        }
    }
}

/// What one activation did (`Protocols/policy.md` §4): the policy's diff and what the hub carried out for it.
package struct PolicyActivation {
    package var diff: PolicyDiff
    package var generation: UInt64
    package var by: String
    /// Partitions actually suspended and resumed (a partition already suspended by other means is left alone).
    package var suspended: [String] = []
    package var resumed: [String] = []
    /// Ports whose link went down or came back up.
    package var portsDown: [String] = []
    package var portsUp: [String] = []
    /// `PARTITION/DEVICE` of each channel closed because its grant went.
    package var channelsClosed: [String] = []
    /// `MODEM#ID` of each call ended because its owner lost the modem.
    package var callsEnded: [String] = []
    /// Steps that failed (a port that could not be set), each with its reason; the rest of the switch stands.
    package var failures: [String] = []
}

/// The active policy profile, switching it, and its control methods `policy.activate` and `policy.status`
/// (`Protocols/policy.md`, `Protocols/control.md`).
package final class PolicyControl {
    let host: any PolicyControlHost
    /// The last activation; nil while the hub runs its starting policy.
    package private(set) var last: PolicyActivation?
    /// Increases by one per activation that changed something (`POLICY_CHANGED.generation`).
    package private(set) var generation: UInt64 = 0
    /// Partitions the active profile suspended (and only those are resumed when it goes).
    package private(set) var suspendedByPolicy: Set<String> = []
    /// Ports the active profile brought down (and only those come back up when it goes).
    package private(set) var portsDownByPolicy: Set<String> = []
    package private(set) var activations: UInt64 = 0
    package private(set) var refusals: UInt64 = 0
    /// Guests' `POLICY_ACTIVATE`s refused over `policyActivationsPerSecond` (also counted in `refusals`).
    package private(set) var rateLimited: UInt64 = 0
    /// One budget per partition that has sent `POLICY_ACTIVATE` (`Protocols/guest.md` §9.6).
    private var guestBudgets: [String: TokenBucket] = [:]

    package init(host: any PolicyControlHost) {
        self.host = host
    }

    /// Counts a refusal decided before `activate` (a partition without `mayActivatePolicy`).
    package func countRefusal() { refusals &+= 1 }

    /// Whether `partition`'s guest may switch policy now, within `hub.limits.policyActivationsPerSecond` (a burst
    /// of as many); a refusal is counted. `now` is monotonic nanoseconds. The control API and signed commands have
    /// their own gates (the local administrator; counters and signatures) and are not counted here.
    package func admitGuestActivation(by partition: String, now: UInt64) -> Bool {
        let rate = UInt64(host.configuration.hub.limits.policyActivationsPerSecond)
        var budget = guestBudgets[partition] ?? TokenBucket(rate: rate, burst: rate, now: now)
        let admitted = budget.take(1, now: now)
        guestBudgets[partition] = budget
        if !admitted {
            rateLimited &+= 1
            refusals &+= 1
        }
        return admitted
    }

    package var methods: [ControlMethod] {
        [
            .bound(
                "policy.activate", "Switch to a policy profile (or the base policy) atomically", to: self,
                PolicyControl.policyActivate),
            .bound(
                "policy.status", "The active policy profile and what its activation changed", to: self,
                PolicyControl.policyStatus),
        ]
    }

    /// Switches to profile `name` (nil: the base policy) in one step on the loop: the new policy is computed whole
    /// first (a refusal changes nothing), then the model's permissions are swapped, then grants, ports and
    /// suspensions follow in the order of `Protocols/policy.md` §3, all before the loop reads another frame.
    @discardableResult
    package func activate(_ name: String?, by source: String) throws(PolicyActivationError) -> PolicyActivation {
        let new: EffectivePolicy
        do throws(PolicyError) {
            new = try EffectivePolicy.compute(base: host.configuration, profile: name)
        } catch {
            refusals &+= 1
            switch error {
            case .unknownProfile(let profile): throw .unknownProfile(profile)
            case .invalidPolicy(let reason): throw .invalidPolicy(reason)
            }
        }
        var actions: [Action] = []
        let diff = host.platform.applyPolicy(new, actions: &actions)
        host.perform(&actions)
        generation &+= 1
        activations &+= 1
        var activation = PolicyActivation(diff: diff, generation: generation, by: source)
        let reason = "policy profile \(name ?? "base")"
        withdrawGrants(diff, reason: reason, into: &activation)
        setPorts(diff, into: &activation)
        for partition in diff.resume where suspendedByPolicy.contains(partition) {
            suspendedByPolicy.remove(partition)
            if host.setSuspended(partition, false, reason: reason) { activation.resumed.append(partition) }
        }
        host.notifyPolicyChanged(profile: name, generation: generation) { diff.summary(for: $0) }
        for partition in diff.suspend where host.setSuspended(partition, true, reason: reason) {
            suspendedByPolicy.insert(partition)
            activation.suspended.append(partition)
        }
        last = activation
        host.publish("policy.activated", partition: nil, device: nil, data: Self.activationJSON(activation))
        return activation
    }

    /// Channels whose grant went are closed `not_permitted`; a modem's calls end when its owner loses it.
    private func withdrawGrants(_ diff: PolicyDiff, reason: String, into activation: inout PolicyActivation) {
        for change in diff.grantsWithdrawn {
            let closed = host.closeChannels(
                partition: change.partition, device: change.device, code: 5,
                reason: "\(reason) withdrew \(change.partition)'s grant for \(change.device)")
            if closed > 0 { activation.channelsClosed.append("\(change.partition)/\(change.device)") }
            guard host.configuration.devices.modems.contains(where: { $0.name == change.device }) else { continue }
            activation.callsEnded += endCalls(on: change.device)
        }
    }

    /// Ends every call of `modem` as if the remote party hung up (`modem.call.hangup`), so no call runs that
    /// nobody may control.
    private func endCalls(on modem: String) -> [String] {
        guard case .success(let answer) = host.callMethod("modem.calls", params: ["modem": .string(modem)]),
            case .array(let calls)? = answer["calls"]
        else { return [] }
        var ended: [String] = []
        for call in calls.prefix(64) {
            guard let id = call["id"]?.intValue else { continue }
            let params: JSON = ["modem": .string(modem), "id": .int(Int64(id))]
            if case .success = host.callMethod("modem.call.hangup", params: params) { ended.append("\(modem)#\(id)") }
        }
        return ended
    }

    private func setPorts(_ diff: PolicyDiff, into activation: inout PolicyActivation) {
        for port in diff.ethernetDown {
            switch setLink(port, up: false) {
            case .some(let failure): activation.failures.append(failure)
            case .none:
                portsDownByPolicy.insert(port)
                activation.portsDown.append(port)
            }
        }
        for port in diff.ethernetUp where portsDownByPolicy.contains(port) {
            portsDownByPolicy.remove(port)
            if let failure = setLink(port, up: true) {
                activation.failures.append(failure)
            } else {
                activation.portsUp.append(port)
            }
        }
    }

    /// `eth.setLink` on `SEGMENT/PORT`; the failure's text, or nil.
    private func setLink(_ port: String, up: Bool) -> String? {
        let parts = port.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return "\(port): not SEGMENT/PORT" }
        let params: JSON = ["segment": .string(parts[0]), "port": .string(parts[1]), "up": .bool(up)]
        if case .failure(let error) = host.callMethod("eth.setLink", params: params) {
            return "\(port): \(error.message)"
        }
        return nil
    }

    /// `activate`, answered as the activation's JSON (`policy.activate`'s answer) or the refusal.
    package func activateJSON(_ name: String?, by source: String) -> Result<JSON, PolicyActivationError> {
        do throws(PolicyActivationError) {
            return .success(Self.activationJSON(try activate(name, by: source)))
        } catch {
            return .failure(error)
        }
    }

    // MARK: Control methods

    /// `policy.activate {profile?}`: absent or null activates the base policy.
    func policyActivate(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["profile"])
        let name: String?
        switch call.params?["profile"] {
        case nil, .null?: name = nil
        default: name = try params.requireString("profile")
        }
        do throws(PolicyActivationError) {
            let activation = try activate(name, by: call.hasCaller ? "control" : "hub")
            return .result(Self.activationJSON(activation))
        } catch {
            switch error {
            case .unknownProfile(let profile): throw ControlError.notFound("profile", name: profile)
            case .invalidPolicy(let reason): throw ControlError.conflict(reason, reason: "invalid_policy")
            }
        }
    }

    /// `policy.status`.
    func policyStatus(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        let policy = host.platform.policy
        return .result([
            "profile": policy.profile.map(JSON.string) ?? .null,
            "profiles": .array(host.configuration.policy.profiles.map { .string($0.name) }),
            "generation": .uint(generation),
            "activations": .uint(activations),
            "refused": .uint(refusals),
            "rateLimited": .uint(rateLimited),
            "suspendedByPolicy": .array(suspendedByPolicy.sorted().map(JSON.string)),
            "portsDownByPolicy": .array(portsDownByPolicy.sorted().map(JSON.string)),
            "last": last.map(Self.activationJSON) ?? .null,
            "effective": Self.policyJSON(policy),
        ])
    }

    package static func policyJSON(_ policy: EffectivePolicy) -> JSON {
        var partitions: JSONObject = [:]
        for name in Set(policy.mayMessage.keys).union(policy.mayInterrupt.keys).sorted() {
            partitions[name] = [
                "mayInterrupt": .array((policy.mayInterrupt[name] ?? []).sorted().map(JSON.string)),
                "mayMessage": .array((policy.mayMessage[name] ?? []).sorted().map(JSON.string)),
                "devices": .array(
                    (policy.grants[name] ?? [:]).sorted { $0.key < $1.key }.map {
                        ["device": .string($0.key), "access": .string($0.value.rawValue)]
                    }),
            ]
        }
        return [
            "partitions": .object(partitions),
            "forbiddenLinks": .array(policy.forbiddenLinks.sorted().map(JSON.string)),
            "suspended": .array(policy.suspended.sorted().map(JSON.string)),
            "ethernetDown": .array(policy.ethernetDown.sorted().map(JSON.string)),
            "linkRates": .array(
                policy.linkRates.sorted { $0.key < $1.key }.map {
                    ["link": .string($0.key), "rate": rateJSON($0.value)]
                }
            ),
        ]
    }

    /// A link's budget as configured (`Deploy/config-reference.md`, links `rateLimit`): 0 is unlimited, a burst
    /// not given is null (one second's worth).
    package static func rateJSON(_ limit: LinkRateLimit) -> JSON {
        [
            "messagesPerSecond": .int(Int64(limit.messagesPerSecond)),
            "bytesPerSecond": .int(Int64(limit.bytesPerSecond)),
            "burstMessages": limit.burstMessages.map { .int(Int64($0)) } ?? .null,
            "burstBytes": limit.burstBytes.map { .int(Int64($0)) } ?? .null,
        ]
    }

    /// The `policy.activated` event's data and `policy.activate`'s answer (`Protocols/policy.md` §4).
    package static func activationJSON(_ activation: PolicyActivation) -> JSON {
        let diff = activation.diff
        let pairs = { (list: [PeerPair]) -> JSON in
            .array(list.map { ["from": .string($0.from), "to": .string($0.to)] })
        }
        let grants = { (list: [GrantChange]) -> JSON in
            .array(
                list.map {
                    [
                        "partition": .string($0.partition), "device": .string($0.device),
                        "access": .string($0.access.rawValue),
                    ]
                })
        }
        let strings = { (list: [String]) -> JSON in .array(list.map(JSON.string)) }
        return [
            "from": diff.from.map(JSON.string) ?? .null,
            "profile": diff.to.map(JSON.string) ?? .null,
            "generation": .uint(activation.generation),
            "by": .string(activation.by),
            "changes": [
                "interruptsForbidden": pairs(diff.interruptsForbidden),
                "interruptsAllowed": pairs(diff.interruptsAllowed),
                "messagesForbidden": pairs(diff.messagesForbidden),
                "messagesAllowed": pairs(diff.messagesAllowed),
                "linksForbidden": strings(diff.linksForbidden),
                "linksAllowed": strings(diff.linksAllowed),
                "grantsGiven": grants(diff.grantsGiven),
                "grantsWithdrawn": grants(diff.grantsWithdrawn),
                "suspend": strings(diff.suspend),
                "resume": strings(diff.resume),
                "ethernetDown": strings(diff.ethernetDown),
                "ethernetUp": strings(diff.ethernetUp),
                "ratesChanged": .array(
                    diff.ratesChanged.map {
                        ["link": .string($0.link), "from": rateJSON($0.from), "to": rateJSON($0.to)]
                    }),
            ],
            "effects": [
                "suspended": strings(activation.suspended),
                "resumed": strings(activation.resumed),
                "portsDown": strings(activation.portsDown),
                "portsUp": strings(activation.portsUp),
                "channelsClosed": strings(activation.channelsClosed),
                "callsEnded": strings(activation.callsEnded),
                "failures": strings(activation.failures),
            ],
        ]
    }
}
