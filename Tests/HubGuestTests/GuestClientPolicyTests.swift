import GuestWire
import HubGuest
import Testing

/// The Swift client's side of policy profiles (`Protocols/guest.md` §9.6–§9.7) against a scripted hub: the
/// feature is asked for, `POLICY_ACTIVATE` is answered `OK` with `POLICY_CHANGED` arriving first, a refusal throws
/// the hub's code, and `POLICY_CHANGED` surfaces as a typed event.
@Suite struct GuestClientPolicyTests {
    @Test func activatesAndSeesPolicyChanged() throws {
        let client = try ScriptedGuestHub.attachClient(feature: GuestProtocol.policyProfilesFeature) { hub in
            guard let (first, _) = hub.read(), case .policyActivate("enterprise") = first.message else { return }
            hub.write(
                GuestFrame(.policyChanged(generation: 4, profile: "enterprise", summary: "lost lan0")),
                GuestFrame(.ok, requestId: first.requestId))
            guard let (second, _) = hub.read(), case .policyActivate("") = second.message else { return }
            hub.write(GuestFrame(.error(code: .notPermitted, reason: "no"), requestId: second.requestId))
        }
        #expect(client.hubOffersPolicyProfiles)
        try client.activatePolicy("enterprise")
        #expect(
            try client.nextEvent(timeout: 1)
                == .policyChanged(generation: 4, profile: "enterprise", summary: "lost lan0"))
        #expect(throws: GuestClientError.self) { try client.activatePolicy(nil) }
        client.close()
    }
}
