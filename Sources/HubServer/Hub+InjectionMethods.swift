import ControlWire
import DeviceKit
import Events
import Hypervisor
import JSON

extension Hub {
    /// `irq.*`, `msg.*`, `link.*` and partition management: drive the platform as a named test peer
    /// (`Protocols/control.md`). Injections bypass policy but are always recorded as `injector:<name>`.
    func registerInjectionMethods() {
        registerLinkMethods()
        router.register(injectionMethods)
    }

    /// The injection, link and partition-management methods, one named handler each.
    var injectionMethods: [ControlMethod] {
        [
            .bound("irq.raise", "Raise a line on a partition as a named test peer", to: self, Hub.irqRaise),
            .bound("msg.send", "Queue a message on a link as a named test peer", to: self, Hub.msgSend),
            .bound("link.list", "Every messaging link with its queues", to: self, Hub.linkList),
            .bound("link.get", "One link: both directions' queues, credit and counters", to: self, Hub.linkGet),
            .bound(
                "partition.suspend", "Stop deliveries to a partition (they stay pending)", to: self,
                Hub.partitionSuspend),
            .bound("partition.resume", "Resume deliveries to a suspended partition", to: self, Hub.partitionResume),
            .bound("guest.stats", "Guest-protocol connections and error counters", to: self, Hub.guestStats),
        ]
    }

    /// `irq.raise`.
    func irqRaise(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["partition", "line", "as"])
        let target = try self.partition(named: try params.requireString("partition"))
        let line = try params.requireInt("line", in: 0...Int64(target.interruptLines - 1))
        let peer = try self.testPeer(params)
        let before = self.events.log.lastSeq
        var actions: [Action] = []
        let outcome = self.platform.raise(
            from: .injector(peer), to: target.name, line: Int(line), actions: &actions)
        self.perform(&actions)
        let seq = self.events.log.since(before, matching: EventFilter(kinds: ["irq.raised"])).events.first?.seq ?? 0
        return .result(["seq": .uint(seq), "pending": .bool(outcome == .latched)])
    }

    /// `msg.send`.
    func msgSend(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(
            call.params, allowed: ["link", "to", "as", "text", "payload", "correlation"])
        let linkName = try params.requireString("link")
        let peer = try self.testPeer(params)
        let hasText = params.contains("text")
        guard hasText != params.contains("payload") else {
            throw ControlError.invalidParams(
                param: "text", expected: "string", detail: "give exactly one of text and payload")
        }
        // Decode the body before looking the link up, so a malformed body is reported as such.
        let payload: [UInt8] =
            hasText
            ? Array(try params.requireString("text").utf8)
            : try params.optionalBase64("payload", maxLength: self.configuration.hub.limits.guestMaxFrameBytes)
                ?? []
        // Configured or opened at run time.
        guard let link = self.platform.link(named: linkName) else {
            throw ControlError.notFound("link", name: linkName)
        }
        let receiver = try params.requireString("to")
        guard receiver == link.a || receiver == link.b else {
            throw ControlError.invalidParams(
                param: "to", expected: "\(link.a) or \(link.b)",
                detail: "'\(receiver)' is not an end of \(linkName)")
        }
        let correlation = try params.optionalUInt64("correlation")
        var actions: [Action] = []
        let outcome = self.platform.send(
            from: .injector(peer), link: linkName, to: receiver, payload: payload, correlation: correlation,
            actions: &actions)
        self.perform(&actions)
        switch outcome {
        case .queued(let id):
            let attached = self.platform.state(ofPartition: receiver)?.session != nil
            let event = self.publish(
                "msg.sent", partition: receiver,
                data: [
                    "link": .string(linkName), "from": .string("injector:\(peer)"), "to": .string(receiver),
                    "bytes": .int(Int64(payload.count)), "messageId": .uint(id),
                    "correlation": correlation.map { .uint($0) } ?? .null,
                ])
            return .result(["seq": .uint(event.seq), "queued": .bool(attached), "messageId": .uint(id)])
        case .noSuchLink: throw ControlError.notFound("link", name: linkName)
        case .queueFull:
            throw ControlError.limitExceeded(
                "depth of link \(linkName)", value: Int64(link.depth), reason: "queue_full")
        case .tooLarge:
            throw ControlError.limitExceeded(
                "maxMessageBytes of link \(linkName)", value: Int64(link.maxMessageBytes), reason: "too_large")
        case .notPermitted:
            throw ControlError.forbidden("the policy does not let test peers send on \(linkName)")
        case .linkClosing:
            throw ControlError.conflict(
                "link \(linkName) is closing: it takes no new messages", reason: "link_closing")
        }
    }

    /// `link.list`.
    func linkList(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result([
            "links": .array(
                self.platform.snapshot().links.map { link in
                    [
                        "name": .string(link.name), "endpoints": [.string(link.aToB.from), .string(link.aToB.to)],
                        "depth": .int(Int64(link.aToB.held + link.bToA.held)),
                        "capacity": .int(Int64(link.aToB.depth)), "id": .uint(UInt64(link.id)),
                        "runtime": .bool(link.runtime), "state": link.closing ? "closing" : "open",
                    ]
                }),
            "runtime": [
                "count": .int(Int64(self.platform.runtimeLinkCount)),
                "max": .int(Int64(self.configuration.hub.limits.runtimeLinksMax)),
                "opened": .uint(self.platform.runtimeLinkTotals.opened),
                "closed": .uint(self.platform.runtimeLinkTotals.closed),
                "refused": .uint(self.platform.runtimeLinkTotals.refused),
            ],
        ])
    }

    /// `link.get`.
    func linkGet(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["name"])
        let name = try params.requireString("name")
        guard let link = self.platform.snapshot().link(name) else {
            throw ControlError.notFound("link", name: name)
        }
        return .result(self.linkJSON(link))
    }

    /// `partition.suspend`.
    func partitionSuspend(_ call: ControlCall) throws(ControlError) -> ControlReply {
        try self.manage(call, suspend: true)
    }

    /// `partition.resume`.
    func partitionResume(_ call: ControlCall) throws(ControlError) -> ControlReply {
        try self.manage(call, suspend: false)
    }

    /// `guest.stats`.
    func guestStats(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result([
            "connections": .int(Int64(self.guestConnections.count)),
            "attached": .int(Int64(self.guestSessions.count)),
            "malformedFrames": .uint(self.guestCounters.malformedFrames),
            "authFailures": .uint(self.guestCounters.authFailures),
            "heartbeatsMissed": .uint(self.guestCounters.heartbeatsMissed),
            "refusedOverLimit": .uint(self.guestCounters.refusedOverLimit),
        ])
    }

    private func manage(_ call: ControlCall, suspend: Bool) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["name", "reason"])
        let name = try params.requireString("name")
        // The reason reaches the guest's SUSPEND; suspend for priority (Protocols/power.md §5) passes its own.
        let reason = try params.optionalString("reason") ?? "control client \(call.session?.remote ?? "?")"
        guard reason.utf8.count <= 1024 else {
            throw ControlError.invalidParams(param: "reason", expected: "text of at most 1024 bytes")
        }
        var actions: [Action] = []
        let outcome =
            suspend
            ? platform.suspend(partition: name, actions: &actions) : platform.resume(partition: name, actions: &actions)
        let guest = platform.state(ofPartition: name)?.session.flatMap { guestSessions[$0] }
        var processNote: JSON = .null
        if case .ok = outcome {
            // Suspend: tell the guest first, then stop its process; resume: continue it, then tell it.
            if suspend { guest?.notifySuspended(true, reason: reason) }
            if let supervisor = supervisors[name] {
                processNote = supervisor.setSuspended(suspend).map { .string($0) } ?? .null
            }
            if !suspend { guest?.notifySuspended(false, reason: "") }
        }
        perform(&actions)
        let state = Hub.stateName(platform.snapshot().partition(name))
        switch outcome {
        case .ok: return .result(["state": .string(state), "changed": true, "processError": processNote])
        case .unchanged: return .result(["state": .string(state), "changed": false, "processError": .null])
        case .noSuchPartition: throw ControlError.notFound("partition", name: name)
        }
    }

    /// The `as` parameter: a test peer name, which must not be a partition's.
    func testPeer(_ params: ControlParams) throws(ControlError) -> String {
        let peer = try params.requireString("as")
        guard configuration.partition(named: peer) == nil, !peer.isEmpty else {
            throw ControlError.invalidParams(
                param: "as", expected: "test peer name", detail: "'\(peer)' is a partition name or empty; pick another")
        }
        return peer
    }

    func linkJSON(_ link: LinkSnapshot) -> JSON {
        func queue(_ snapshot: LinkDirectionSnapshot) -> JSON {
            [
                "from": .string(snapshot.from), "to": .string(snapshot.to), "depth": .int(Int64(snapshot.held)),
                "capacity": .int(Int64(snapshot.depth)), "credit": .int(Int64(snapshot.senderCredit)),
                "inFlight": .int(Int64(snapshot.inFlight)), "receiveWindow": .int(Int64(snapshot.receiveWindow)),
                "nextMessageId": .uint(snapshot.nextMessageID),
            ]
        }
        let both = [link.aToB.counters, link.bToA.counters]
        return [
            "name": .string(link.name), "endpoints": [.string(link.aToB.from), .string(link.aToB.to)],
            "id": .uint(UInt64(link.id)), "runtime": .bool(link.runtime), "state": link.closing ? "closing" : "open",
            "openedBy": link.openedBy.map { .string($0.description) } ?? .null,
            "maxMessageBytes": .int(Int64(link.maxMessageBytes)),
            "queues": [queue(link.aToB), queue(link.bToA)],
            "counters": [
                "sent": .uint(both.reduce(0) { $0 + $1.queued }),
                "delivered": .uint(both.reduce(0) { $0 + $1.delivered }),
                "redelivered": .uint(both.reduce(0) { $0 + $1.redelivered }),
                "acknowledged": .uint(both.reduce(0) { $0 + $1.acknowledged }),
                "dropped": .uint(both.reduce(0) { $0 + $1.refusedFull + $1.refusedTooLarge }),
                "bytes": .uint(both.reduce(0) { $0 + $1.bytesDelivered }),
                "duplicateSends": .uint(both.reduce(0) { $0 + $1.duplicateSends }),
                "sequenceGaps": .uint(both.reduce(0) { $0 + $1.sequenceGaps }),
            ],
        ]
    }
}
