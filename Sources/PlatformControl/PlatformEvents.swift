import Hypervisor
import JSON

/// One event the hub publishes (`Protocols/control.md`, events): its kind, partition and data.
package struct PublishedEvent {
    package let kind: String
    package let partition: String?
    package let data: JSON
}

extension HypervisorEvent {
    /// The hub events a model event becomes, in order (a latched interrupt is `irq.raised`, then `irq.latched`).
    package var hubEvents: [PublishedEvent] {
        var events: [PublishedEvent] = []
        forEachHubEvent { events.append(PublishedEvent(kind: $0, partition: $1, data: $2)) }
        return events
    }

    /// Hands each hub event this model event becomes to `body` (kind, partition, data), in ``hubEvents``'s order,
    /// without collecting them: the hub publishes every raise's events this way, and an array per raise was a
    /// heap allocation on the injection path.
    package func forEachHubEvent(_ body: (String, String?, JSON) -> Void) {
        func publish(_ kind: String, partition: String? = nil, data: JSON = [:]) {
            body(kind, partition, data)
        }
        switch self {
        case .attached(let partition, let session, let resumed):
            publish(
                "partition.attached", partition: partition,
                data: ["session": .uint(session.rawValue), "resumed": .bool(resumed)])
        case .detached(let partition, let session, let reason):
            publish(
                "partition.detached", partition: partition,
                data: ["session": .uint(session.rawValue), "reason": .string(reason.rawValue)])
        case .attachRefused(let partition, let reason):
            publish("partition.attachRefused", partition: partition, data: ["reason": .string(reason.rawValue)])
        case .interruptRaised(let source, let target, let line, let coalesced):
            publish("irq.raised", partition: target, data: Self.interruptData(source, line, coalesced: coalesced))
        case .interruptLatched(let source, let target, let line):
            // Latched is still raised (kind irq.raised, as the spec's filters expect), then marked latched.
            let data = Self.interruptData(source, line, coalesced: false)
            publish("irq.raised", partition: target, data: data)
            publish("irq.latched", partition: target, data: data)
        case .interruptRefused(let source, let target, let line, let reason):
            publish(
                "irq.refused", partition: target,
                data: [
                    "line": .int(Int64(line)), "from": .string(PlatformEventNames.name(of: source)),
                    "reason": .string(reason.wireName),
                ])
        case .linkQueueFull(let link, let sender, let receiver):
            publish(
                "link.queueFull", partition: receiver,
                data: ["link": .string(link), "sender": .string(sender.description)])
        case .messageRefused(let link, let sender, let reason):
            publish(
                "msg.refused",
                data: [
                    "link": .string(link), "sender": .string(sender.description), "reason": .string(reason.wireName),
                ])
        case .regionAccessRefused(let partition, let region, let write):
            publish("region.refused", partition: partition, data: ["region": .string(region), "write": .bool(write)])
        case .linkOpened, .linkClosing, .linkClosed:
            linkEvents(publish)
        case .suspended(let partition):
            publish("partition.suspended", partition: partition)
        case .resumed(let partition):
            publish("partition.resumed", partition: partition)
        }
    }

    /// An interrupt event's data, `{"line":…,"from":…}` and `"coalesced":true` when it was: built on every raise,
    /// so as one array of members with no search for repeated keys.
    private static func interruptData(_ source: Originator, _ line: Int, coalesced: Bool) -> JSON {
        var members: [JSONObject.Member] = []
        members.reserveCapacity(3)
        members.append(JSONObject.Member(key: "line", value: .int(Int64(line))))
        members.append(JSONObject.Member(key: "from", value: .string(PlatformEventNames.name(of: source))))
        if coalesced { members.append(JSONObject.Member(key: "coalesced", value: true)) }
        return .object(JSONObject(distinctMembers: members))
    }

    /// `link.opened`, `link.closing`, `link.closed` (`Protocols/control.md` §5.6).
    private func linkEvents(_ publish: (String, String?, JSON) -> Void) {
        switch self {
        case .linkOpened(let link, let id, let a, let b, let by):
            publish(
                "link.opened", nil,
                [
                    "link": .string(link), "id": .uint(UInt64(id)), "endpoints": [.string(a), .string(b)],
                    "by": .string(by.description),
                ])
        case .linkClosing(let link, let id, let by, let held):
            publish(
                "link.closing", nil,
                [
                    "link": .string(link), "id": .uint(UInt64(id)), "by": .string(by.description),
                    "held": .int(Int64(held)),
                ])
        case .linkClosed(let link, let id):
            publish("link.closed", nil, ["link": .string(link), "id": .uint(UInt64(id))])
        default:
            break
        }
    }
}

package enum PlatformEventNames {
    /// How an originator is named in events: partitions by name, test peers by their `as` name.
    package static func name(of originator: Originator) -> String {
        switch originator {
        case .partition(let name), .injector(let name): return name
        case .device(let name): return "device:\(name)"
        case .timer: return "timer"
        }
    }
}

extension RaiseOutcome {
    /// The name used on the control API and in events.
    package var wireName: String {
        switch self {
        case .delivered: return "delivered"
        case .latched: return "latched"
        case .notPermitted: return "not_permitted"
        case .noSuchPartition: return "no_such_partition"
        case .noSuchLine: return "no_such_line"
        }
    }
}

extension SendOutcome {
    package var wireName: String {
        switch self {
        case .queued: return "queued"
        case .queueFull: return "queue_full"
        case .tooLarge: return "too_large"
        case .noSuchLink: return "no_such_link"
        case .notPermitted: return "not_permitted"
        case .linkClosing: return "link_closing"
        case .rateLimited: return "rate_limited"
        }
    }
}
