import ControlWire
import DeviceKit
import Events
import Hypervisor
import JSON
import PlatformConfig

/// What the platform's control methods need of the hub: the model and its configuration, turning the model's
/// actions into frames and events, and what the hub's supervisors and guest sessions say about a partition.
package protocol PlatformControlHost: AnyObject {
    var configuration: PlatformConfiguration { get }
    /// True when a configured partition has this name; asked on every injected interrupt and message, so a host
    /// answers without copying the whole configuration.
    func isPartitionName(_ name: String) -> Bool
    /// The interrupt line count of the configured partition `name`, nil when there is none; asked on every
    /// injected interrupt, so a host answers without copying the whole configuration.
    func interruptLines(ofPartition name: String) -> Int?
    var platform: Platform { get }
    /// The hub's event log (`irq.raise` answers with the sequence number of the event it caused).
    var eventLog: EventLog { get }
    /// Carries out the model's actions: deliveries, frames to sessions, events.
    func perform(_ actions: inout [Action])
    @discardableResult
    func publish(_ kind: String, partition: String?, device: String?, data: JSON) -> HubEvent
    /// The partition's supervisor's state when it has one (a launched partition), else nil.
    func processState(ofPartition name: String) -> String?
    /// The partition's supervisor's status when it has one.
    func supervisorJSON(ofPartition name: String) -> JSON?
    /// The attached guest of a model session: its peer, when it attached, and the bytes the hub holds for it unsent.
    func guest(_ session: SessionID) -> (remote: String, attachedAtUnixNs: UInt64, unsentBytes: Int)?
    /// Where a partition came from: `"configuration"` or its provisioning record (`Protocols/management.md` §9).
    func origin(ofPartition name: String) -> JSON
    /// `provisioning.status`'s answer: budgets, provisioned partitions, counters.
    var provisioningStatusJSON: JSON { get }
}

/// The platform model's control methods (`Protocols/control.md`): `irq.raise` and `msg.send` as a named test
/// peer (injections bypass policy but are always recorded as `injector:<name>`), `link.*` and the `partition.*`
/// inspection methods. The hub keeps the methods that act on its sessions and supervisors.
package final class PlatformMethods {
    let host: any PlatformControlHost

    package init(host: any PlatformControlHost) {
        self.host = host
    }

    /// Every method of the family, one named handler each.
    package var methods: [ControlMethod] { injectionMethods + linkMethods + partitionMethods }

    /// The injection and link-inspection methods.
    var injectionMethods: [ControlMethod] {
        [
            .bound("irq.raise", "Raise a line on a partition as a named test peer", to: self, PlatformMethods.irqRaise),
            .bound("msg.send", "Queue a message on a link as a named test peer", to: self, PlatformMethods.msgSend),
            .bound("link.list", "Every messaging link with its queues", to: self, PlatformMethods.linkList),
            .bound(
                "link.get", "One link: both directions' queues, credit and counters", to: self,
                PlatformMethods.linkGet),
        ]
    }

    /// `irq.raise`.
    func irqRaise(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["partition", "line", "as"])
        let target = try params.requireString("partition")
        guard let lines = self.host.interruptLines(ofPartition: target) else {
            throw ControlError.notFound("partition", name: target)
        }
        let line = try params.requireInt("line", in: 0...Int64(lines - 1))
        let peer = try self.testPeer(params)
        let before = self.host.eventLog.lastSeq
        var actions: [Action] = []
        let outcome = self.host.platform.raise(
            from: .injector(peer), to: target, line: Int(line), actions: &actions)
        self.host.perform(&actions)
        let seq = self.host.eventLog.firstSeq(after: before, kind: "irq.raised") ?? 0
        // Test peers raise in bursts: the answer `{"seq":N,"pending":B}` is written, not built as an object.
        var answer: [UInt8] = []
        answer.reserveCapacity(48)
        JSON.writeRaw(#"{"seq":"#, into: &answer)
        JSON.uint(seq).write(into: &answer)
        JSON.writeRaw(outcome == .latched ? #","pending":true}"# : #","pending":false}"#, into: &answer)
        return .encodedResult(answer)
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
            : try params.optionalBase64(
                "payload", maxLength: self.host.configuration.hub.limits.guestMaxFrameBytes, limit: "guestMaxFrameBytes"
            )
                ?? []
        // Configured or opened at run time.
        guard let link = self.host.platform.link(named: linkName) else {
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
        let outcome = self.host.platform.send(
            from: .injector(peer), link: linkName, to: receiver, payload: payload, correlation: correlation,
            actions: &actions)
        self.host.perform(&actions)
        switch outcome {
        case .queued(let id):
            let attached = self.host.platform.state(ofPartition: receiver)?.session != nil
            let event = self.host.publish(
                "msg.sent", partition: receiver, device: nil,
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
        case .rateLimited:  // Only partitions' sends have a budget; kept for completeness.
            throw ControlError.limitExceeded("rate budget of link \(linkName)", value: 0, reason: "rate_limited")
        }
    }

    /// `link.list`.
    func linkList(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result([
            "links": .array(
                self.host.platform.snapshot().links.map { link in
                    [
                        "name": .string(link.name), "endpoints": [.string(link.aToB.from), .string(link.aToB.to)],
                        "depth": .int(Int64(link.aToB.held + link.bToA.held)),
                        "capacity": .int(Int64(link.aToB.depth)), "id": .uint(UInt64(link.id)),
                        "runtime": .bool(link.runtime), "state": link.closing ? "closing" : "open",
                    ]
                }),
            "runtime": [
                "count": .int(Int64(self.host.platform.runtimeLinkCount)),
                "max": .int(Int64(self.host.configuration.hub.limits.runtimeLinksMax)),
                "opened": .uint(self.host.platform.runtimeLinkTotals.opened),
                "closed": .uint(self.host.platform.runtimeLinkTotals.closed),
                "refused": .uint(self.host.platform.runtimeLinkTotals.refused),
            ],
        ])
    }

    /// `link.get`.
    func linkGet(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["name"])
        let name = try params.requireString("name")
        guard let link = self.host.platform.snapshot().link(name) else {
            throw ControlError.notFound("link", name: name)
        }
        return .result(self.linkJSON(link))
    }

    /// The `as` parameter: a test peer name, which follows the name grammar (`Protocols/control.md` §1) and must not
    /// be a partition's. Checked before anything uses it: it travels to guests inside frames (`injector:NAME`,
    /// `Protocols/guest.md` §2), whose name fields are bounded.
    package func testPeer(_ params: ControlParams) throws(ControlError) -> String {
        let peer = try params.requireString("as")
        guard Self.isTestPeerName(peer) else {
            throw ControlError.invalidParams(
                param: "as", expected: "test peer name",
                detail: "a lowercase letter, then lowercase letters, digits, '-' or '_', at most 32 bytes")
        }
        guard !host.isPartitionName(peer) else {
            throw ControlError.invalidParams(
                param: "as", expected: "test peer name", detail: "'\(peer)' is a partition name; pick another")
        }
        return peer
    }

    /// `[a-z][a-z0-9_-]{0,31}` (`Protocols/control.md` §1), checked on the bytes: it runs for every injected
    /// interrupt and message, and a check by `Character` cost about a tenth of an `irq.raise`.
    static func isTestPeerName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= 32, (0x61...0x7a).contains(first) else { return false }
        // A plain loop: `allSatisfy` over the view went through its generic iterator, a call per byte.
        for byte in bytes {
            let allowed = (0x61...0x7a).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x5f || byte == 0x2d
            if !allowed { return false }
        }
        return true
    }

    package func linkJSON(_ link: LinkSnapshot) -> JSON {
        func queue(_ snapshot: LinkDirectionSnapshot) -> JSON {
            [
                "from": .string(snapshot.from), "to": .string(snapshot.to), "depth": .int(Int64(snapshot.held)),
                "capacity": .int(Int64(snapshot.depth)), "credit": .int(Int64(snapshot.senderCredit)),
                "inFlight": .int(Int64(snapshot.inFlight)), "receiveWindow": .int(Int64(snapshot.receiveWindow)),
                "nextMessageId": .uint(snapshot.nextMessageID),
                "rateLimit": PlatformMethods.rateLimitJSON(snapshot),
                "rateLimited": .uint(snapshot.counters.rateLimited),
                "identitySends": .uint(snapshot.counters.identitySends),
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
                "rateLimited": .uint(both.reduce(0) { $0 + $1.rateLimited }),
                "bytesRateLimited": .uint(both.reduce(0) { $0 + $1.bytesRateLimited }),
                "identitySends": .uint(both.reduce(0) { $0 + $1.identitySends }),
            ],
        ]
    }
}

extension PlatformControlHost {
    package func isPartitionName(_ name: String) -> Bool { configuration.partition(named: name) != nil }
    package func interruptLines(ofPartition name: String) -> Int? {
        configuration.interruptLines(ofPartition: name)
    }
}
