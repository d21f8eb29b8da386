import PlatformConfig

/// Messaging links opened and closed while the hub runs (`Protocols/guest.md` §7.6–§7.9).
///
/// Policy: a partition opens a link to a peer only when its configuration says `mayOpenLinks: true` and
/// the peer is in its `mayMessage`; injectors (the control API) bypass the policy. Either end sends only
/// if the other is in its `mayMessage`, as on configured links. Limits come from `hub.limits`
/// (`runtimeLinksMax`, `runtimeLinkMaxDepth`, `runtimeLinkMaxMessageBytes`).
///
/// Ids: configured links keep their configuration position; each runtime link gets the next id, never
/// reused while the hub runs. A runtime link lives in `links` like a configured one, so sending,
/// acknowledging, redelivery and scheduling are the same code.
extension Platform {
    /// A session opens a link to `peer` (its partition is the `a` end).
    package func openLink(
        session: SessionID, name: String, peer: String, maxMessageBytes: Int, depth: Int, actions: inout [Action]
    ) -> LinkOpenOutcome {
        guard let opener = partitionState(of: session) else { return .notPermitted }
        return openLink(
            name: name, a: opener.name, b: peer, maxMessageBytes: maxMessageBytes, depth: depth,
            by: .partition(opener.name), requester: opener, actions: &actions)
    }

    /// A control client, as the named injector, opens a link between `a` and `b`, bypassing the policy
    /// (limits and names still apply).
    package func openLink(
        injector: String, name: String, a: String, b: String, maxMessageBytes: Int, depth: Int,
        actions: inout [Action]
    ) -> LinkOpenOutcome {
        openLink(
            name: name, a: a, b: b, maxMessageBytes: maxMessageBytes, depth: depth, by: .injector(injector),
            requester: nil, actions: &actions)
    }

    /// A session closes a runtime link its partition is an end of.
    package func closeLink(session: SessionID, link name: String, actions: inout [Action]) -> LinkCloseOutcome {
        guard let partition = partitionState(of: session), let position = linkIndex[name],
            links[position].sendingDirection(of: partition.index) != nil
        else { return .noSuchLink }
        return close(links[position], by: .partition(partition.name), requester: session, actions: &actions)
    }

    /// A control client closes a runtime link as the named injector.
    package func closeLink(injector: String, link name: String, actions: inout [Action]) -> LinkCloseOutcome {
        guard let position = linkIndex[name] else { return .noSuchLink }
        return close(links[position], by: .injector(injector), requester: nil, actions: &actions)
    }

    /// The session asked (HELLO feature `runtime-links`) to be told about links opened and closed while
    /// it is attached. Sessions that did not ask receive nothing on links opened after their attach
    /// until their partition attaches again.
    package func enableRuntimeLinks(session: SessionID) {
        guard let index = sessions[session] else { return }
        runtimeLinks.awareSession[index] = session
    }

    /// The position in `links` of the link whose guest-protocol id is `id`. Configured links sit at their id
    /// (they come first and are never removed); runtime links, at most `runtimeLinksMax` of them, are searched.
    package func linkIndex(forID id: UInt32) -> Int? {
        let position = Int(id)
        if position < configuration.links.count { return position }
        for index in configuration.links.count..<links.count where links[index].id == id { return index }
        return nil
    }

    /// One link by name, configured or runtime.
    package func link(named name: String) -> LinkDescription? {
        linkIndex[name].map { describe(links[$0]) }
    }

    /// Every link, configured ones first, then runtime ones in the order they were opened.
    package var linkDescriptions: [LinkDescription] { links.map(describe) }

    /// Runtime links that exist now (closing ones included), against `hub.limits.runtimeLinksMax`.
    package var runtimeLinkCount: Int { runtimeLinks.count }

    package var runtimeLinkTotals: RuntimeLinkTotals { runtimeLinks.totals }

    // MARK: Opening

    private func openLink(
        name: String, a aName: String, b bName: String, maxMessageBytes: Int, depth: Int, by originator: Originator,
        requester: PartitionState?, actions: inout [Action]
    ) -> LinkOpenOutcome {
        let outcome = checkedOpen(
            name: name, a: aName, b: bName, maxMessageBytes: maxMessageBytes, depth: depth, by: originator,
            requester: requester, actions: &actions)
        switch outcome {
        case .created, .exists: break
        default: runtimeLinks.totals.refused &+= 1
        }
        return outcome
    }

    private func checkedOpen(
        name: String, a aName: String, b bName: String, maxMessageBytes: Int, depth: Int, by originator: Originator,
        requester: PartitionState?, actions: inout [Action]
    ) -> LinkOpenOutcome {
        guard let a = partitionIndex[aName], let b = partitionIndex[bName] else { return .noSuchPartition }
        guard a != b else { return .invalid(.samePartition) }
        if let requester {
            guard requester.config.mayOpenLinks, requester.mayMessage.contains(bName) else { return .notPermitted }
        }
        if let position = linkIndex[name] {
            let existing = links[position]
            guard !existing.closing, Set([existing.ends.0, existing.ends.1]) == Set([a, b]) else { return .nameInUse }
            return .exists(OpenedLink(link: describe(existing), view: requester.map { endView(existing, for: $0) }))
        }
        let limits = configuration.hub.limits
        guard LinkConfig.isValidName(name) else { return .invalid(.name) }
        guard depth >= 1, depth <= limits.runtimeLinkMaxDepth else { return .invalid(.depth) }
        guard maxMessageBytes >= 1, maxMessageBytes <= limits.effectiveRuntimeLinkMaxMessageBytes else {
            return .invalid(.maxMessageBytes)
        }
        if runtimeLinks.nextID == 0 { runtimeLinks.nextID = UInt32(configuration.links.count) }
        guard runtimeLinks.count < limits.runtimeLinksMax, runtimeLinks.nextID < UInt32.max else {
            return .limitReached
        }

        let id = runtimeLinks.nextID
        runtimeLinks.nextID += 1
        let config = LinkConfig(name: name, a: aName, b: bName, maxMessageBytes: maxMessageBytes, depth: depth)
        let link = LinkState(
            config: config, a: partitions[a], b: partitions[b], id: id, runtime: true,
            rateLimit: config.effectiveRateLimit(configuration.hub.limits), now: scheduler.now)
        link.openedBy = originator
        let position = links.count
        links.append(link)
        linkIndex[name] = position
        runtimeLinks.count += 1
        runtimeLinks.totals.opened &+= 1
        actions.append(.event(.linkOpened(link: name, id: id, a: aName, b: bName, by: originator)))

        for end in [partitions[a], partitions[b]] {
            guard let receiving = link.receivingDirection(of: end.index) else { continue }
            guard end === requester || knowsRuntimeLinks(end) else {
                // Its session could not name the link: it receives on it from its next attach.
                runtimeLinks.deferred[end.index, default: []].append(link)
                continue
            }
            end.incoming.append((position, receiving))
            if let session = end.session, end !== requester {
                actions.append(.linkOpened(session: session, link: endView(link, for: end), openedBy: originator))
            }
        }
        return .created(OpenedLink(link: describe(link), view: requester.map { endView(link, for: $0) }))
    }

    /// Whether the partition's session (if any) can be told about new links; a detached partition learns
    /// them from its next welcome.
    private func knowsRuntimeLinks(_ partition: PartitionState) -> Bool {
        guard let session = partition.session else { return true }
        return runtimeLinks.awareSession[partition.index] == session
    }

    /// `partition`'s side of `link`, topping its credit up to the free slots (the credit in the view is
    /// what this grant adds to what the session already holds).
    private func endView(_ link: LinkState, for partition: PartitionState) -> LinkView {
        let sending = link.sendingDirection(of: partition.index)!
        let receiving = link.receivingDirection(of: partition.index)!
        let peer = partitions[link.receiver(of: sending)].name
        let maySend = partition.mayMessage.contains(peer) && !link.closing
        let credit = maySend && partition.session != nil ? link.directions[sending].topUpCredit() : 0
        return LinkView(
            name: link.config.name, peer: peer, maxMessageBytes: link.config.maxMessageBytes,
            depth: link.config.depth, maySend: maySend, sendCredit: credit,
            receiveWindow: link.directions[receiving].window, id: link.id, runtime: link.runtime,
            closing: link.closing)
    }

    /// A new session of `partition` lists every link in its welcome, so the links its previous session
    /// was not told about become deliverable now.
    func activateDeferredLinks(of partition: PartitionState) {
        guard let deferred = runtimeLinks.deferred.removeValue(forKey: partition.index) else { return }
        for link in deferred {
            guard let position = linkIndex[link.config.name], links[position] === link,
                let receiving = link.receivingDirection(of: partition.index)
            else { continue }
            partition.incoming.append((position, receiving))
        }
    }

    // MARK: Closing

    private func close(_ link: LinkState, by originator: Originator, requester: SessionID?, actions: inout [Action])
        -> LinkCloseOutcome
    {
        guard link.runtime else { return .configured }
        let held = link.directions[0].count + link.directions[1].count
        if link.closing { return .closing(held: held) }
        link.closing = true
        // Credit still held is void: every send is refused from now on.
        for direction in 0..<2 { link.directions[direction].senderCredit = 0 }
        actions.append(.event(.linkClosing(link: link.config.name, id: link.id, by: originator, held: held)))
        if held == 0 {
            remove(link, notifyingAllBut: requester, actions: &actions)
            return .closed
        }
        for end in [partitions[link.ends.0], partitions[link.ends.1]] {
            guard let session = end.session, session != requester, runtimeLinks.awareSession[end.index] == session
            else { continue }
            actions.append(.linkClosing(session: session, link: link.config.name, id: link.id, closedBy: originator))
        }
        return .closing(held: held)
    }

    /// Removes a closing link once both directions hold nothing (called after each acknowledgement).
    func retireIfDrained(_ link: LinkState, actions: inout [Action]) {
        guard link.closing, link.directions[0].count == 0, link.directions[1].count == 0 else { return }
        remove(link, notifyingAllBut: nil, actions: &actions)
    }

    /// Takes the link out of the model. Positions after it shift down by one in the name index and in
    /// every partition's incoming set; ids do not change (they are not positions for runtime links).
    func remove(_ link: LinkState, notifyingAllBut except: SessionID?, actions: inout [Action]) {
        let name = link.config.name
        guard let position = linkIndex[name], links[position] === link else { return }
        links.remove(at: position)
        linkIndex[name] = nil
        for (other, index) in linkIndex where index > position { linkIndex[other] = index - 1 }
        for partition in partitions {
            partition.incoming = partition.incoming.compactMap { entry in
                entry.link == position ? nil : (entry.link > position ? entry.link - 1 : entry.link, entry.direction)
            }
            if partition.nextIncoming >= partition.incoming.count { partition.nextIncoming = 0 }
        }
        for (partition, pending) in runtimeLinks.deferred {
            let kept = pending.filter { $0 !== link }
            runtimeLinks.deferred[partition] = kept.isEmpty ? nil : kept
        }
        runtimeLinks.count -= 1
        runtimeLinks.totals.closed &+= 1
        for end in [partitions[link.ends.0], partitions[link.ends.1]] {
            guard let session = end.session, session != except else { continue }
            actions.append(.linkClosed(session: session, link: name, id: link.id))
        }
        actions.append(.event(.linkClosed(link: name, id: link.id)))
    }

    private func describe(_ link: LinkState) -> LinkDescription {
        LinkDescription(
            id: link.id, name: link.config.name, a: partitions[link.ends.0].name, b: partitions[link.ends.1].name,
            maxMessageBytes: link.config.maxMessageBytes, depth: link.config.depth, runtime: link.runtime,
            closing: link.closing, openedBy: link.openedBy)
    }
}
