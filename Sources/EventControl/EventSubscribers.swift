import ControlWire
import Events
import JSON

/// The hub's event subscriptions, by control session id, and what publishing an event does with them
/// (`Protocols/control.md` §5): the event goes into the outbox of each subscriber whose filter matches it, and
/// each such subscriber is put once on the list of those to write to at the end of the pass.
///
/// A filter looks only at an event's kind, partition and device, so which subscribers match is kept per such
/// triple (a route) until the subscriptions change: publishing looks the route up once, then visits only the
/// subscribers it names. A subscriber whose filter does not match costs nothing per event, and one that does
/// costs no filter check. The routes are bounded (`maxRoutes`): past that, they are forgotten and found again.
package final class EventSubscribers {
    private struct Route: Hashable {
        var kind: String
        var partition: String?
        var device: String?
    }

    private var entries: [(id: UInt64, subscription: EventSubscription)] = []
    /// `entries` again, by the same index, without the references being counted: publishing reads these, so
    /// handing an event to a subscriber takes no retain and release of it (`entries` keeps each alive).
    private var unretained: [(id: UInt64, subscription: Unmanaged<EventSubscription>)] = []
    private var routes: [Route: [Int]] = [:]
    /// The last routes used, looked at before `routes`: a burst repeats a few routes (a raise makes irq.raised then
    /// irq.latched), and comparing short names costs less than hashing them.
    private var recentRoutes: [(route: Route, matching: [Int])] = []
    private static let recentRouteCount = 4
    /// Subscribers given events since the last `takeQueued` (each once: `EventSubscription.flushQueued`).
    private var queued: [UInt64] = []
    /// The most routes kept; kinds, partitions and devices are the hub's own names, so few are ever used.
    package static let maxRoutes = 1024

    package init() {}

    package var count: Int { entries.count }

    /// Sets (or, with nil, removes) the subscription of control session `id`.
    package func set(_ subscription: EventSubscription?, for id: UInt64) {
        entries.removeAll { $0.id == id }
        if let subscription { entries.append((id, subscription)) }
        unretained = entries.map { ($0.id, Unmanaged.passUnretained($0.subscription)) }
        routes.removeAll()
        recentRoutes.removeAll()
    }

    /// Queues `event` for every subscriber whose filter matches it (a replaying one takes it from the ring when
    /// its replay gets there). True when a subscriber was put on the flush list that was not on it.
    ///
    /// With `lines`, what is queued is the event's notification line, serialised once (`lines`) and shared by
    /// every outbox it goes to; without, the event itself.
    package func deliver(_ event: HubEvent, lines: EventLines? = nil) -> Bool {
        guard !entries.isEmpty else { return false }
        let route = Route(kind: event.kind, partition: event.partition, device: event.device)
        let matching: [Int]
        if let recent = recentRoutes.firstIndex(where: { $0.route == route }) {
            matching = recentRoutes[recent].matching
        } else {
            if let known = routes[route] {
                matching = known
            } else {
                matching = entries.indices.filter { entries[$0].subscription.matches(event) }
                if routes.count >= EventSubscribers.maxRoutes { routes.removeAll(keepingCapacity: true) }
                routes[route] = matching
            }
            if recentRoutes.count >= EventSubscribers.recentRouteCount { recentRoutes.removeFirst() }
            recentRoutes.append((route, matching))
        }
        var newlyQueued = false
        // Serialised once when a subscriber takes it now (a replaying one takes it from the ring later), then shared:
        // every outbox holds the same bytes.
        let line: [UInt8]? =
            if let lines, matching.contains(where: { !isReplaying(unretained[$0].subscription) }) {
                lines.line(for: event)
            } else { nil }
        for index in matching {
            let (id, entry) = unretained[index]
            // SAFETY: `entries` holds this subscription strongly at the same index, and nothing below changes
            // `entries` (pushing into an outbox calls nothing outside), so the subscription lives through this use
            // without a retain of its own.
            entry._withUnsafeGuaranteedRef { subscription in
                if subscription.replayCursor == nil {
                    if let line {
                        subscription.outbox.push(line: line, seq: event.seq)
                    } else {
                        subscription.outbox.push(event)
                    }
                }
                if !subscription.flushQueued {
                    subscription.flushQueued = true
                    queued.append(id)
                    newlyQueued = true
                }
            }
        }
        return newlyQueued
    }

    private func isReplaying(_ entry: Unmanaged<EventSubscription>) -> Bool {
        // SAFETY: as in `deliver`: `entries` holds every subscription of `unretained` strongly.
        entry._withUnsafeGuaranteedRef { $0.replayCursor != nil }
    }

    /// The subscribers given events since the last call, in the order they were first given one.
    package func takeQueued() -> [UInt64] {
        var taken: [UInt64] = []
        swap(&taken, &queued)
        return taken
    }
}

/// Event notification lines, each serialised once per loop pass however many subscribers receive it
/// (`Protocols/control.md` §5), and the count of lines serialised (`hub.controlClients` counters).
package final class EventLines {
    /// This pass's lines, by their event's distance from the first one's sequence number (events are published
    /// in sequence order; an empty entry is one not serialised yet). Events before it (a replay) or too far past
    /// it are serialised without being kept.
    private var lines: [[UInt8]] = []
    private var firstSeq: UInt64 = 0
    private static let maxKept: UInt64 = 16384
    /// Event lines serialised over the hub's life: one per event per pass however many subscribers receive it.
    package private(set) var linesEncoded: UInt64 = 0

    package init() {}

    /// The `event` notification line for `event`, serialised on its first use this pass.
    package func line(for event: HubEvent) -> [UInt8] {
        if lines.isEmpty { firstSeq = event.seq }
        guard event.seq >= firstSeq, event.seq - firstSeq < EventLines.maxKept else {
            linesEncoded += 1
            return EventLines.encode(event)
        }
        let slot = Int(event.seq - firstSeq)
        if slot < lines.count, !lines[slot].isEmpty { return lines[slot] }
        linesEncoded += 1
        let line = EventLines.encode(event)
        while lines.count <= slot { lines.append([]) }
        lines[slot] = line
        return line
    }

    /// The pass is over: the next pass serialises again (what was written is in the sessions' buffers).
    package func endPass() { lines.removeAll(keepingCapacity: true) }

    /// The line `ControlNotification(method: "event", params: event.json).encodedLine()` gives, written directly.
    package static func encode(_ event: HubEvent) -> [UInt8] { event.notificationLine() }
}
