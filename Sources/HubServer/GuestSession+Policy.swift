import EventLoop
import GuestWire
import PlatformControl

/// Policy profiles on the guest protocol (`Protocols/guest.md` §9.6–§9.7, `Protocols/policy.md` §5), for sessions
/// that asked for the `policy-profiles` feature.
extension GuestSession {
    /// POLICY_ACTIVATE: a partition with `mayActivatePolicy` switches the policy; answered `OK` (request id ≠ 0)
    /// once the switch is done, or `ERROR` `not_permitted` / `rate_limited` / `invalid_argument` with nothing changed.
    func activatePolicy(_ profile: String, requestId request: UInt32) {
        guard policyProfiles, let partition else {
            return sendError(
                .unknownFrameType,
                "POLICY_ACTIVATE needs the '\(GuestProtocol.policyProfilesFeature)' feature in HELLO",
                requestId: request)
        }
        guard hub.configuration.partition(named: partition)?.mayActivatePolicy == true else {
            hub.policyControl.countRefusal()
            return sendError(.notPermitted, "\(partition) may not activate policy profiles", requestId: request)
        }
        guard hub.policyControl.admitGuestActivation(by: partition, now: MonotonicClock.nanoseconds()) else {
            return sendError(
                .rateLimited, "more than hub.limits.policyActivationsPerSecond activations", requestId: request)
        }
        do throws(PolicyActivationError) {
            try hub.policyControl.activate(profile.isEmpty ? nil : profile, by: "guest:\(partition)")
            if request != 0 { queue(GuestFrame(.ok, requestId: request)) }
        } catch {
            switch error {
            case .unknownProfile(let name):
                sendError(.invalidArgument, "no policy profile '\(name)'", requestId: request)
            case .invalidPolicy(let reason): sendError(.internalError, reason, requestId: request)
            }
        }
    }

    /// POLICY_CHANGED to this guest when it enabled the feature.
    func policyChanged(profile: String?, generation: UInt64, summary: String) {
        guard policyProfiles else { return }
        let text = String(summary.utf8.prefix(1000)) ?? "changed"
        queue(GuestFrame(.policyChanged(generation: generation, profile: profile ?? "", summary: text)))
        hub.scheduleFlush(of: self)
    }

    /// Closes every channel open to `device` (its grant went); returns how many.
    func closeChannels(toDevice device: String, code: UInt16, reason: String) -> Int {
        let numbers = channelDevices.filter { $0.value == device }.map(\.key).sorted()
        for number in numbers { closeChannelForPolicy(number, code: code, reason: reason) }
        return numbers.count
    }
}
