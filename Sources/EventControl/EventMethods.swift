import ControlWire
import DeviceKit
import Events
import JSON
import PlatformConfig

/// A control session's event subscription: its filter and its bounded outbox.
///
/// A replay (`since`) does not go into the outbox at once, where the outbox bound would cut it: while
/// `replayCursor` is set, the subscription reads the replay ring from there as the client reads, an
/// outbox-full at a time, and events published meanwhile are taken from the ring too, so they stay in
/// order. Once the cursor reaches the newest event the subscription is live (`Protocols/control.md` §5.5).
package final class EventSubscription {
    package let filter: EventFilter
    package var outbox: SubscriberOutbox
    /// While replaying: the sequence number up to which the ring has been copied into the outbox.
    package var replayCursor: UInt64?
    /// Set while the hub has this subscriber on its list to flush this loop pass, so an event adds it once.
    package var flushQueued = false

    /// Whether `event` passes this subscriber's filter, read in place (publishing asks this for every subscriber).
    package func matches(_ event: HubEvent) -> Bool { filter.matches(event) }

    package init(filter: EventFilter, capacity: Int) {
        self.filter = filter
        outbox = SubscriberOutbox(capacity: capacity)
    }
}

/// What the `events.*` methods need of the hub: its limits, its event log and waits, and the caller's session
/// (only a control session subscribes).
package protocol EventControlHost: AnyObject {
    var limits: Limits { get }
    var eventLog: EventLog { get }
    /// Pending `events.wait` calls, hub-wide (`controlMaxWaiters`).
    var eventWaits: DeferredWaits<EventFilter> { get }
    /// Sets (or, with nil, ends) the subscription of the call's control session; false without one.
    func setSubscription(_ subscription: EventSubscription?, of call: ControlCall) -> Bool
    /// Writes what the call's session's subscription holds, as far as its write queue allows.
    func flushEvents(of call: ControlCall)
    /// A filter was refused over its limits (`hub.control` counters).
    func filterRefused()
}

/// The events control family (`Protocols/control.md`, events): `events.subscribe`, `events.unsubscribe`,
/// `events.recent`, `events.wait`, on the hub's event log and its `DeferredWaits`.
package final class EventMethods {
    let host: any EventControlHost

    package init(host: any EventControlHost) {
        self.host = host
    }

    /// The `events.*` methods, one named handler each.
    package var methods: [ControlMethod] {
        [
            .bound(
                "events.subscribe",
                "Receive matching events as notifications, optionally replaying since a sequence number", to: self,
                EventMethods.eventsSubscribe),
            .bound("events.unsubscribe", "Stop receiving events", to: self, EventMethods.eventsUnsubscribe),
            .bound("events.recent", "The newest held events, without subscribing", to: self, EventMethods.eventsRecent),
            .bound(
                "events.wait", "Answer with the first matching event, or a timeout error", to: self,
                EventMethods.eventsWait),
        ]
    }

    /// `events.subscribe`.
    func eventsSubscribe(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["filter", "since"])
        let filter = try self.filter(params["filter"])
        let since = try params.optionalUInt64("since")
        let subscription = EventSubscription(filter: filter, capacity: self.host.limits.controlOutboxEvents)
        // Every matching held event after `since` reaches a client that reads: the replay streams
        // through the outbox as the client reads (see `EventSubscription`).
        var replayed = 0
        if let since {
            chargeRingScan(call)
            replayed = self.host.eventLog.count(since: since, matching: filter)
            subscription.replayCursor = since
        }
        guard self.host.setSubscription(subscription, of: call) else { return .deferred }
        // The answer goes out before any replayed event, so a client sees its reply first.
        call.reply(
            .result([
                "subscribed": true, "filter": filter.json, "lastSeq": .uint(self.host.eventLog.lastSeq),
                "replayed": .int(Int64(replayed)),
            ]))
        self.host.flushEvents(of: call)
        return .deferred
    }

    /// `events.unsubscribe`.
    func eventsUnsubscribe(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        _ = self.host.setSubscription(nil, of: call)
        return .result(["subscribed": false])
    }

    /// `events.recent`.
    func eventsRecent(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["filter", "limit", "since"])
        let filter = try self.filter(params["filter"])
        let limit = Int(try params.optionalInt("limit", in: 1...Int64(max(1, self.host.eventLog.capacity))) ?? 100)
        var missed: JSON = .null
        var held: [HubEvent]
        chargeRingScan(call)
        if let since = try params.optionalUInt64("since") {
            let replay = self.host.eventLog.since(since, matching: filter)
            held = replay.events
            if let gap = replay.missed { missed = gap.json }
        } else {
            held = self.host.eventLog.recent(limit, matching: filter)
        }
        if held.count > limit { held = Array(held.suffix(limit)) }
        return .result([
            "events": .array(held.map(\.json)), "lastSeq": .uint(self.host.eventLog.lastSeq), "missed": missed,
        ])
    }

    /// `events.wait`.
    func eventsWait(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["filter", "timeoutMs", "since"])
        // Required (`Protocols/control.md` §12.3): a wait for any event at all is asked for with `{}`.
        guard params["filter"] != nil else {
            throw ControlError.invalidParams(param: "filter", expected: "object", detail: "is required (object)")
        }
        let filter = try self.filter(params["filter"])
        let timeout = try params.requireInt(
            "timeoutMs", in: 0...Int64(self.host.limits.controlMaxWaitMs))
        // With `since`, an event that already happened answers at once: act, then wait, without a race. The scan
        // stops at the first match and is charged for the events it examined (`Protocols/control.md` §2.7).
        if let since = try params.optionalUInt64("since") {
            let (first, examined) = self.host.eventLog.first(after: since, matching: filter)
            call.workBytes += examined * Self.eventScanBytesPerEvent
            if let first { return .result(["event": first.json]) }
        }
        return try self.host.eventWaits.register(call, until: filter, timeoutMs: timeout)
    }

    /// A request that looks through the replay ring is charged for the events it may examine
    /// (`eventScanBytesPerEvent` each, the whole ring at most: `Protocols/control.md` §2.7; `events.wait`, which
    /// stops at its first match, for those it did examine), not only for its few
    /// request and answer bytes, which let one client pipeline a thousand scans of a full ring into one pass.
    private func chargeRingScan(_ call: ControlCall) {
        call.workBytes += self.host.eventLog.count * Self.eventScanBytesPerEvent
    }

    /// What examining one held event is charged (a full ring of 4096 is one default pass budget), here and when
    /// a subscription's replay is refilled from the ring.
    package static let eventScanBytesPerEvent = 64
    /// What each event a replay finds is charged beyond its examination (its line is written later).
    package static let replayBytesPerEventFound = 256

    /// Reads a filter from a request, bounded by `controlMaxFilterEntries` and `controlMaxFilterEntryBytes`.
    package func filter(_ json: JSON?) throws(ControlError) -> EventFilter {
        let limits = host.limits
        let bounds = EventFilter.Bounds(
            maxEntries: limits.controlMaxFilterEntries, maxEntryBytes: limits.controlMaxFilterEntryBytes)
        do {
            return try EventFilter(json: json, bounds: bounds)
        } catch {
            if let limit = error.limit {
                host.filterRefused()
                let name = limit.name == "maxEntries" ? "controlMaxFilterEntries" : "controlMaxFilterEntryBytes"
                let configured = name == "controlMaxFilterEntries" ? bounds.maxEntries : bounds.maxEntryBytes
                throw ControlError(
                    code: .limitExceeded, reason: "limit_exceeded",
                    message: "Limit exceeded: '\(error.field)' \(error.detail) (\(name))",
                    details: [
                        "limit": .string(name), "value": .int(Int64(configured)), "param": .string(error.field),
                        "got": .int(Int64(limit.value)),
                    ])
            }
            throw ControlError.invalidParams(param: error.field, expected: error.expected, detail: error.detail)
        }
    }
}
