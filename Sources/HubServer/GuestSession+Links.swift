import GuestWire
import Hypervisor

/// Links opened and closed at run time (`Protocols/guest.md` §7.6–§7.9), for sessions that asked for the
/// `runtime-links` feature in `HELLO`. Sessions that did not are never sent these frames: they learn
/// about runtime links from their next `WELCOME`, as about configured ones.
extension GuestSession {
    /// Features the hub offers in `CHALLENGE` (§5.2, §11).
    static let offeredFeatures = [
        GuestProtocol.runtimeLinksFeature, GuestProtocol.sendSequenceFeature, GuestProtocol.markGoodFeature,
        GuestProtocol.identityFeature, GuestProtocol.rateLimitFeature,
        GuestProtocol.powerFeature,
        GuestProtocol.errorLogFeature,
        GuestProtocol.policyProfilesFeature,
    ]

    /// After `WELCOME`: ask the model to report new links to this session, and tell the guest which of
    /// the links it was given are already closing.
    func enableRuntimeLinks(_ info: AttachInfo) {
        hub.platform.enableRuntimeLinks(session: info.session)
        for view in info.links where view.closing {
            let held = hub.platform.snapshot().link(view.name).map { $0.aToB.held + $0.bToA.held } ?? 0
            queue(
                GuestFrame(.linkClosed(link: view.id, state: .closing, held: UInt32(clamping: held))))
        }
    }

    /// `LINK_OPEN` (§7.6): answered `LINK_OPENED` or `ERROR`.
    func openLink(name: String, peer: String, maxMessage: UInt32, depth: UInt32, requestId: UInt32) {
        guard runtimeLinks, let session = sessionID else {
            return sendError(
                .unknownFrameType, "LINK_OPEN needs the '\(GuestProtocol.runtimeLinksFeature)' feature in HELLO",
                requestId: requestId)
        }
        let limits = hub.configuration.hub.limits
        let outcome = hub.platform.openLink(
            session: session, name: name, peer: peer, maxMessageBytes: Int(clamping: maxMessage),
            depth: Int(clamping: depth), actions: &actions)
        switch outcome {
        case .created(let opened), .exists(let opened):
            guard let view = opened.view else { return }
            let existing = if case .exists = outcome { true } else { false }
            learn(view)
            queue(
                GuestFrame(
                    .linkOpened(
                        GuestLinkOpened(
                            link: linkInfo(view), existing: existing,
                            openedBy: opened.link.openedBy?.description ?? "configuration")),
                    requestId: requestId
                ))
            if existing { queueSendSequence(link: view.id) }
        case .notPermitted:
            sendError(
                .notPermitted, "\(partition ?? "?") may not open a link to '\(peer)' (mayOpenLinks and mayMessage)",
                requestId: requestId)
        case .noSuchPartition:
            sendError(.noSuchPartition, "no partition named '\(peer)'", requestId: requestId)
        case .limitReached:
            sendError(
                .limitReached, "\(limits.runtimeLinksMax) runtime links exist (hub.limits.runtimeLinksMax)",
                requestId: requestId)
        case .nameInUse:
            sendError(.nameInUse, "link name '\(name)' is taken (or its link is closing)", requestId: requestId)
        case .invalid(.depth):
            sendError(
                .tooLarge, "depth \(depth) is above hub.limits.runtimeLinkMaxDepth (\(limits.runtimeLinkMaxDepth))",
                requestId: requestId)
        case .invalid(.maxMessageBytes):
            sendError(
                .tooLarge,
                "max_message \(maxMessage) is above hub.limits.runtimeLinkMaxMessageBytes (\(limits.effectiveRuntimeLinkMaxMessageBytes) in effect)",
                requestId: requestId)
        case .invalid(.name):
            sendError(
                .invalidArgument, "'\(name)' is not a valid link name (a letter, then letters, digits, '-' or '_')",
                requestId: requestId)
        case .invalid(.samePartition):
            sendError(.invalidArgument, "a link cannot join \(peer) to itself", requestId: requestId)
        }
    }

    /// `LINK_CLOSE` (§7.8): answered `LINK_CLOSED` (closing or closed) or `ERROR`.
    func closeLink(_ linkID: UInt32, requestId: UInt32) {
        guard runtimeLinks, let session = sessionID else {
            return sendError(
                .unknownFrameType, "LINK_CLOSE needs the '\(GuestProtocol.runtimeLinksFeature)' feature in HELLO",
                requestId: requestId)
        }
        guard let name = linkNames[linkID] else {
            return sendError(.noSuchLink, "link \(linkID)", requestId: requestId)
        }
        switch hub.platform.closeLink(session: session, link: name, actions: &actions) {
        case .closed:
            forget(linkID)
            queue(
                GuestFrame(.linkClosed(link: linkID, state: .closed, held: 0), requestId: requestId))
        case .closing(let held):
            queue(
                GuestFrame(
                    .linkClosed(link: linkID, state: .closing, held: UInt32(clamping: held)), requestId: requestId
                ))
        case .configured:
            sendError(
                .notPermitted, "link \(name) is configured; only links opened at run time close", requestId: requestId)
        case .noSuchLink:
            sendError(.noSuchLink, "link \(linkID)", requestId: requestId)
        }
    }

    // MARK: From the model (Hub.perform)

    /// A peer (or an injector) opened a link with this partition as an end.
    func linkOpened(_ view: LinkView, openedBy: Originator) {
        guard runtimeLinks else { return }
        learn(view)
        queue(
            GuestFrame(
                .linkOpened(GuestLinkOpened(link: linkInfo(view), existing: false, openedBy: openedBy.description))
            ))
    }

    func linkClosing(id: UInt32) {
        guard runtimeLinks, linkNames[id] != nil else { return }
        let held = linkNames[id].flatMap { hub.platform.snapshot().link($0) }.map { $0.aToB.held + $0.bToA.held } ?? 0
        queue(GuestFrame(.linkClosed(link: id, state: .closing, held: UInt32(clamping: held))))
    }

    /// The link is gone: its id is no longer valid for this session, whether or not it was told.
    func linkClosed(id: UInt32) {
        guard linkNames[id] != nil else { return }
        forget(id)
        if runtimeLinks { queue(GuestFrame(.linkClosed(link: id, state: .closed, held: 0))) }
    }

    // MARK: Helpers

    private func learn(_ view: LinkView) {
        linkIDs[view.name] = view.id
        linkNames[view.id] = view.name
        markWelcomed(link: view.id, true)
    }

    private func forget(_ id: UInt32) {
        if let name = linkNames.removeValue(forKey: id) { linkIDs[name] = nil }
        markWelcomed(link: id, false)
    }

    private func linkInfo(_ view: LinkView) -> GuestLinkInfo {
        GuestLinkInfo(
            id: view.id, name: view.name, peer: view.peer, maxMessage: UInt32(clamping: view.maxMessageBytes),
            depth: UInt32(clamping: view.depth), initialCredit: UInt32(clamping: max(0, view.sendCredit)))
    }
}
