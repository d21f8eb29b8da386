import GuestWire

/// Links opened and closed at run time (`Protocols/guest.md` §7.6–§7.9). Attach with
/// `features: [GuestProtocol.runtimeLinksFeature]` to use them; the hub then also sends unsolicited
/// `LINK_OPENED`/`LINK_CLOSED` (surfacing as `GuestEvent.linkOpened`/`.linkClosed`).
extension GuestClient {
    /// Whether the hub offered runtime links in `CHALLENGE`.
    public var hubOffersRuntimeLinks: Bool { hubFeatures.contains(GuestProtocol.runtimeLinksFeature) }

    /// Opens a link named `name` to `peer` (§7.6). Returns the link with the credit granted now; a link
    /// with that name already joining the two partitions comes back with `existing` set. A refusal throws
    /// `.rejected` with the hub's code (`not_permitted`, `no_such_partition`, `limit_reached`,
    /// `name_in_use`, `too_large`, `invalid_argument`).
    public func openLink(
        name: String, peer: String, maxMessage: UInt32, depth: UInt32
    ) throws(GuestClientError) -> GuestLinkOpened {
        let answer = try request(.linkOpen(name: name, peer: peer, maxMessage: maxMessage, depth: depth))
        guard case .linkOpened(let opened) = answer.message else { throw .unexpected(answer.type) }
        return opened
    }

    /// Closes a runtime link (§7.8). `closing` means the link takes no new messages and goes once the
    /// `held` ones are acknowledged (a later unsolicited `LINK_CLOSED` says `closed`).
    public func closeLink(_ link: UInt32) throws(GuestClientError) -> (state: GuestLinkState, held: UInt32) {
        let answer = try request(.linkClose(link: link))
        guard case .linkClosed(_, let state, let held) = answer.message else { throw .unexpected(answer.type) }
        return (state, held)
    }
}
