import PlatformConfig

extension Platform {
    /// Queues a message on `link` (`Protocols/guest.md` §7, §7.1–§7.5).
    ///
    /// A session sends to the other end, which must be in its `mayMessage`; `to`, if given,
    /// must name that end. Injectors and devices must name the receiving end in `to`, and
    /// bypass the policy. The size is checked before the payload is copied. Once the answer
    /// is `queued(id)` the message stays in the hub until the receiver acknowledges it.
    package func send(
        from source: CommandSource, link name: String, to receiverName: String? = nil,
        payload: some Collection<UInt8>, correlation: UInt64? = nil, identity: String? = nil,
        actions: inout [Action]
    ) -> SendOutcome {
        guard let index = linkIndex[name] else {
            let sender = source.session.flatMap { partitionState(of: $0) }
            guard source.session == nil || sender != nil else { return .notPermitted }
            return refuse(.noSuchLink, link: name, sender, originator(of: source, sender), &actions)
        }
        return send(
            from: source, linkAt: index, to: receiverName, payload: ArraySlice(payload), correlation: correlation,
            identity: identity, actions: &actions)
    }

    /// `send(from:link:…)` for a link named by its position among the platform's links (`linkIndex(forID:)`
    /// turns a guest-protocol link id into one): the guest hot path, with no name lookup.
    ///
    /// `identity` is what the sending partition says it acts for (`MSG_SEND_AS`, `Protocols/guest.md` §7.12): the
    /// caller has checked its syntax; it is stored with the message beside the stamped sender. A partition's send
    /// is held to its end's rate budget (§7.12), checked only once the queue has room, so a refusal is precise.
    package func send(
        from source: CommandSource, linkAt index: Int, to receiverName: String? = nil,
        payload: ArraySlice<UInt8>, correlation: UInt64? = nil, identity: String? = nil, actions: inout [Action]
    ) -> SendOutcome {
        var senderPartition: PartitionState? = nil
        if let session = source.session {
            guard let partition = partitionState(of: session) else { return .notPermitted }
            senderPartition = partition
        }
        let originator = originator(of: source, senderPartition)
        guard links.indices.contains(index) else {
            return refuse(.noSuchLink, link: "#\(index)", senderPartition, originator, &actions)
        }
        let link = links[index]
        let name = link.name
        guard !link.closing else { return refuse(.linkClosing, link: name, senderPartition, originator, &actions) }
        let direction: Int
        if let senderPartition {
            guard let sending = link.sendingDirection(of: senderPartition.index), link.senderMayMessage[sending],
                receiverName == nil || receiverName == partitions[link.receiver(of: sending)].name
            else { return refuse(.notPermitted, link: name, senderPartition, originator, &actions) }
            direction = sending
        } else {
            guard let receiverName, let receiver = partitionIndex[receiverName],
                let receiving = link.receivingDirection(of: receiver)
            else { return refuse(.notPermitted, link: name, nil, originator, &actions) }
            direction = receiving
        }
        guard payload.count <= link.maxMessageBytes else {
            link.directions[direction].counters.refusedTooLarge &+= 1
            return refuse(.tooLarge, link: name, senderPartition, originator, &actions)
        }
        let receiver = partitions[link.receiver(of: direction)]
        if senderPartition != nil, link.directions[direction].budget != nil, link.directions[direction].freeSlots > 0,
            !link.directions[direction].budget!.admit(byteCount: payload.count, now: scheduler.now)
        {
            return refuseRate(link, direction, bytes: payload.count, senderPartition, originator, &actions)
        }
        guard
            let id = link.directions[direction].enqueue(
                sender: originator, correlation: correlation, payload: [UInt8](payload), identity: identity)
        else {
            link.directions[direction].counters.refusedFull &+= 1
            senderPartition?.counters.sendsRefused &+= 1
            if !link.fullReported[direction] {
                link.fullReported[direction] = true
                actions.append(.event(.linkQueueFull(link: name, sender: originator, receiver: receiver.name)))
            }
            return .queueFull
        }
        link.directions[direction].rateLimitReported = false
        if senderPartition != nil, link.directions[direction].senderCredit > 0 {
            link.directions[direction].senderCredit -= 1
        }
        receiver.counters.messagesQueued &+= 1
        markReady(receiver)
        return .queued(id)
    }

    /// Who the receiver is told sent a message: the hub stamps it, a guest cannot choose it.
    private func originator(of source: CommandSource, _ sender: PartitionState?) -> Originator {
        switch source {
        case .session: sender?.originator ?? .partition("")
        case .injector(let injector): .injector(injector)
        case .device(let device): .device(device)
        }
    }

    /// A send over its end's rate budget: counted on the link direction and the partition, reported as an event
    /// once per episode (a flooding sender must not flood the event log either). Nothing is queued and no credit is
    /// used, so the sender's credit count stays exact (`Protocols/guest.md` §7.12).
    private func refuseRate(
        _ link: LinkState, _ direction: Int, bytes: Int, _ sender: PartitionState?, _ originator: Originator,
        _ actions: inout [Action]
    ) -> SendOutcome {
        link.directions[direction].counters.rateLimited &+= 1
        link.directions[direction].counters.bytesRateLimited &+= UInt64(bytes)
        sender?.counters.sendsRefused &+= 1
        sender?.counters.sendsRateLimited &+= 1
        if !link.directions[direction].rateLimitReported {
            link.directions[direction].rateLimitReported = true
            actions.append(.event(.messageRefused(link: link.name, sender: originator, reason: .rateLimited)))
        }
        return .rateLimited
    }

    private func refuse(
        _ outcome: SendOutcome, link: String, _ sender: PartitionState?, _ originator: Originator,
        _ actions: inout [Action]
    ) -> SendOutcome {
        sender?.counters.sendsRefused &+= 1
        actions.append(.event(.messageRefused(link: link, sender: originator, reason: outcome)))
        return outcome
    }

    /// Cumulative acknowledgement by the receiving session: frees every message on `link`
    /// towards it with id ≤ `upTo`, and tops up the sender's credit.
    package func acknowledge(session: SessionID, link name: String, upTo: UInt64, actions: inout [Action])
        -> AckOutcome
    {
        guard let partition = partitionState(of: session) else { return .notPermitted }
        guard let linkIndex = linkIndex[name] else { return .noSuchLink }
        let link = links[linkIndex]
        guard let direction = link.receivingDirection(of: partition.index) else { return .notPermitted }
        switch link.directions[direction].acknowledge(upTo: upTo) {
        case .beyondDelivered:
            return .beyondDelivered
        case .freed(let freed):
            if freed > 0 {
                link.fullReported[direction] = false
                grantCredit(link: link, direction: direction, actions: &actions)
                markReady(partition)
                if link.closing { retireIfDrained(link, actions: &actions) }
            }
            return .acknowledged(freed: freed)
        }
    }

    /// Changes how many unacknowledged messages on `link` the session is handed at most
    /// (clamped to 1…depth).
    package func setReceiveWindow(session: SessionID, link name: String, window: Int) -> AckOutcome {
        guard let partition = partitionState(of: session) else { return .notPermitted }
        guard let linkIndex = linkIndex[name] else { return .noSuchLink }
        let link = links[linkIndex]
        guard let direction = link.receivingDirection(of: partition.index) else { return .notPermitted }
        link.directions[direction].window = max(1, min(window, link.config.depth))
        markReady(partition)
        return .acknowledged(freed: 0)
    }

    /// Gives the sending end's session credit for the slots freed, if it is attached and
    /// allowed to send.
    func grantCredit(link: LinkState, direction: Int, actions: inout [Action]) {
        let sender = partitions[link.sender(of: direction)]
        guard !link.closing, let session = sender.session, link.senderMayMessage[direction] else { return }
        let credit = link.directions[direction].topUpCredit()
        if credit > 0 { actions.append(.grantCredit(session: session, link: link.config.name, credit: credit)) }
    }
}

extension Platform {
    /// Replaces `link`'s rate budget while the hub runs (`Protocols/guest.md` §7.12), as a policy switch does
    /// (`Protocols/policy.md` §3, rate limits): each sending end keeps the tokens it holds, up to the new burst, so
    /// setting a limit again never refills a sender that has spent its budget; a previously unlimited end starts
    /// full. Messages already queued are not touched (the budget only ever decides whether a new send is
    /// accepted). False for an unknown link.
    @discardableResult
    package func setRateLimit(link name: String, _ limit: LinkRateLimit) -> Bool {
        guard let index = linkIndex[name] else { return false }
        links[index].changeRateLimit(limit, now: scheduler.now)
        return true
    }
}
