import GuestWire

/// Identity-stamped sends (`Protocols/guest.md` §7.12). Attach with `features: [GuestProtocol.identityFeature]`
/// (and `rateLimitFeature` to hear `rateLimited` rather than `queueFull` when over a link's budget); the receiver
/// gets the identity beside the sender the hub stamps, as `GuestEvent.identifiedMessage`.
extension GuestClient {
    /// Whether the hub offered `identity` in `CHALLENGE`.
    public var hubOffersIdentity: Bool { hubFeatures.contains(GuestProtocol.identityFeature) }

    /// Sends `payload` on `link` on behalf of `identity` (1–64 bytes of letters, digits and `. _ - @ : +`;
    /// anything else is refused here, before it reaches the hub) and waits for the verdict.
    public func send(
        link: UInt32, as identity: String, payload: some Collection<UInt8>, correlation: UInt64 = 0
    ) throws(GuestClientError) -> SendOutcome {
        guard GuestIdentity.isValid(identity) else { throw .invalidArgument("identity '\(identity)'") }
        let answer = try request(
            .msgSendAs(link: link, correlation: correlation, identity: identity, payload: ArraySlice(payload)))
        guard case .msgSent(_, let messageId, let status) = answer.message else { throw .unexpected(answer.type) }
        return SendOutcome(status: status, messageId: messageId)
    }
}
