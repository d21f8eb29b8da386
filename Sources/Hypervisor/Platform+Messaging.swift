extension Platform {
    /// Queues a message on `link` (issue 3 §5).
    ///
    /// A session sends to the other end, which must be in its `mayMessage`; `to`, if given,
    /// must name that end. Injectors and devices must name the receiving end in `to`, and
    /// bypass the policy. The size is checked before the payload is copied. Once the answer
    /// is `queued(id)` the message stays in the hub until the receiver acknowledges it.
    public func send(
        from source: CommandSource, link name: String, to receiverName: String? = nil,
        payload: some Collection<UInt8>, correlation: UInt64? = nil, actions: inout [Action]
    ) -> SendOutcome {
        var senderPartition: PartitionState? = nil
        let originator: Originator
        switch source {
        case .session(let session):
            guard let partition = partitionState(of: session) else { return .notPermitted }
            senderPartition = partition
            originator = .partition(partition.name)
        case .injector(let injector): originator = .injector(injector)
        case .device(let device): originator = .device(device)
        }
        guard let linkIndex = linkIndex[name] else {
            return refuse(.noSuchLink, link: name, senderPartition, originator, &actions)
        }
        let link = links[linkIndex]
        guard !link.closing else { return refuse(.linkClosing, link: name, senderPartition, originator, &actions) }
        let direction: Int
        if let senderPartition {
            guard let sending = link.sendingDirection(of: senderPartition.index),
                senderPartition.mayMessage.contains(partitions[link.receiver(of: sending)].name),
                receiverName == nil || receiverName == partitions[link.receiver(of: sending)].name
            else { return refuse(.notPermitted, link: name, senderPartition, originator, &actions) }
            direction = sending
        } else {
            guard let receiverName, let receiver = partitionIndex[receiverName],
                let receiving = link.receivingDirection(of: receiver)
            else { return refuse(.notPermitted, link: name, nil, originator, &actions) }
            direction = receiving
        }
        guard payload.count <= link.config.maxMessageBytes else {
            link.directions[direction].counters.refusedTooLarge &+= 1
            return refuse(.tooLarge, link: name, senderPartition, originator, &actions)
        }
        let receiver = partitions[link.receiver(of: direction)]
        guard
            let id = link.directions[direction].enqueue(
                sender: originator, correlation: correlation, payload: Array(payload))
        else {
            link.directions[direction].counters.refusedFull &+= 1
            senderPartition?.counters.sendsRefused &+= 1
            if !link.fullReported[direction] {
                link.fullReported[direction] = true
                actions.append(.event(.linkQueueFull(link: name, sender: originator, receiver: receiver.name)))
            }
            return .queueFull
        }
        if senderPartition != nil, link.directions[direction].senderCredit > 0 {
            link.directions[direction].senderCredit -= 1
        }
        receiver.counters.messagesQueued &+= 1
        markReady(receiver)
        return .queued(id)
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
    public func acknowledge(session: SessionID, link name: String, upTo: UInt64, actions: inout [Action])
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
    public func setReceiveWindow(session: SessionID, link name: String, window: Int) -> AckOutcome {
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
        guard !link.closing, let session = sender.session,
            sender.mayMessage.contains(partitions[link.receiver(of: direction)].name)
        else { return }
        let credit = link.directions[direction].topUpCredit()
        if credit > 0 { actions.append(.grantCredit(session: session, link: link.config.name, credit: credit)) }
    }
}
