import GuestWire

/// Policy profiles (`Protocols/guest.md` §9.6–§9.7, `Protocols/policy.md`). Attach with
/// `features: [GuestProtocol.policyProfilesFeature]`; the hub then sends `POLICY_CHANGED` on every switch
/// (surfacing as `GuestEvent.policyChanged`).
extension GuestClient {
    /// Whether the hub offered policy profiles in `CHALLENGE`.
    public var hubOffersPolicyProfiles: Bool { hubFeatures.contains(GuestProtocol.policyProfilesFeature) }

    /// Switches the hub's policy to `profile` (nil: the base policy), for a partition with `mayActivatePolicy`.
    /// Returns once the switch is complete (this guest's own `POLICY_CHANGED` is queued before the answer); a
    /// refusal throws `.rejected` with the hub's code (`not_permitted`, `invalid_argument`).
    public func activatePolicy(_ profile: String?) throws(GuestClientError) {
        let answer = try request(.policyActivate(profile: profile ?? ""))
        guard case .ok = answer.message else { throw .unexpected(answer.type) }
    }
}
