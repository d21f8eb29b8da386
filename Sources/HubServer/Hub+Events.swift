import ControlWire
import DeviceKit
import ErrorLogServer
import EventLoop
import Events
import JSON

/// A control session's event subscription: its filter and its bounded outbox.
///
/// A replay (`since`) does not go into the outbox at once, where the outbox bound would cut it: while
/// `replayCursor` is set, the subscription reads the replay ring from there as the client reads, an
/// outbox-full at a time, and events published meanwhile are taken from the ring too, so they stay in
/// order. Once the cursor reaches the newest event the subscription is live (`Protocols/control.md` §5.5).
final class EventSubscription {
    let filter: EventFilter
    var outbox: SubscriberOutbox
    /// While replaying: the sequence number up to which the ring has been copied into the outbox.
    var replayCursor: UInt64?

    init(filter: EventFilter, capacity: Int) {
        self.filter = filter
        outbox = SubscriberOutbox(capacity: capacity)
    }
}

/// The hub-wide event plumbing: one log with a replay ring, fan-out to subscribers' outboxes,
/// server-side waits (`Protocols/control.md`, events section).
final class EventHub {
    var log: EventLog
    /// Pending `events.wait` calls, hub-wide (`controlMaxWaiters`).
    let waiters: DeferredWaits<EventFilter>
    var published: UInt64 = 0
    /// Control sessions with something to write this pass.
    var dirty: [UInt64: ControlSession] = [:]
    var flushScheduled = false
    var flushTimer: Timer?
    /// Event lines serialised this pass, by sequence number.
    var encoded: [UInt64: [UInt8]] = [:]

    init(replayCapacity: Int, waiters: DeferredWaits<EventFilter>) {
        log = EventLog(capacity: replayCapacity)
        self.waiters = waiters
    }
}

extension Hub {
    /// Records an event, queues it for every matching subscriber and resolves matching waits.
    /// Never blocks: a subscriber whose outbox is full has the event counted as missed. Subscribers
    /// are written to once per loop pass, however many events the pass produced.
    @discardableResult
    func publish(_ kind: String, partition: String? = nil, device: String? = nil, data: JSON = [:]) -> HubEvent {
        let time = EventTime(unixNs: Int64(Hub.wallClockNanos()), monoNs: MonotonicClock.nanoseconds())
        let event = events.log.append(kind: kind, partition: partition, device: device, data: data, time: time)
        events.published += 1
        // The hub's faults (crash, missed heartbeats, rollback, refused command) go to the error logs too.
        if ErrorLogDevice.records(kind) { errorLog?.observe(kind: kind, partition: partition, data: data) }
        for session in controlSessions.values {
            guard let subscription = session.subscription, subscription.filter.matches(event) else { continue }
            // A replaying subscription takes this event from the ring when its replay gets there.
            if subscription.replayCursor == nil { subscription.outbox.push(event) }
            scheduleControlFlush(session)
        }
        if !events.waiters.isEmpty {
            events.waiters.resolve { filter in filter.matches(event) ? ["event": event.json] : nil }
        }
        return event
    }

    /// Moves what the session's outbox holds into its pass write while its write queue has room. What
    /// does not fit stays in the bounded outbox; the low-watermark callback calls this again.
    func flushEvents(to session: ControlSession) {
        guard let subscription = session.subscription else { return }
        while !session.isWriteQueueFull {
            guard let item = subscription.outbox.pop() else {
                guard let cursor = subscription.replayCursor else { break }
                // The outbox is empty: refill it from the ring, one less than its capacity (room for a gap
                // marker), so nothing is dropped.
                let (replay, through) = events.log.since(
                    cursor, matching: subscription.filter, limit: subscription.outbox.capacity - 1)
                subscription.outbox.push(replay)
                subscription.replayCursor = through >= events.log.lastSeq ? nil : through
                continue
            }
            switch item {
            case .event(let event):
                // Each event is serialised once per pass, however many subscribers receive it.
                if let line = events.encoded[event.seq] {
                    session.send(line)
                } else {
                    let line = ControlNotification(method: item.method, params: item.params).encodedLine()
                    events.encoded[event.seq] = line
                    session.send(line)
                }
            case .missed:
                session.send(ControlNotification(method: item.method, params: item.params).encodedLine())
            }
        }
        session.flush()
    }

    /// Sessions with replies or events queued are flushed together at the start of the next pass.
    func scheduleControlFlush(_ session: ControlSession) {
        events.dirty[session.id] = session
        guard !events.flushScheduled, let timer = events.flushTimer else { return }
        events.flushScheduled = true
        timer.start(afterMilliseconds: 0) { [unowned self] in
            self.events.flushScheduled = false
            let sessions = self.events.dirty
            self.events.dirty.removeAll(keepingCapacity: true)
            for session in sessions.values { self.flushEvents(to: session) }
            for session in sessions.values where session.subscription == nil { session.flush() }
            self.events.encoded.removeAll(keepingCapacity: true)
        }
    }

    func registerEventMethods() {
        router.register(eventMethods)
    }

    /// The `events.*` methods, one named handler each.
    var eventMethods: [ControlMethod] {
        [
            .bound(
                "events.subscribe",
                "Receive matching events as notifications, optionally replaying since a sequence number", to: self,
                Hub.eventsSubscribe),
            .bound("events.unsubscribe", "Stop receiving events", to: self, Hub.eventsUnsubscribe),
            .bound("events.recent", "The newest held events, without subscribing", to: self, Hub.eventsRecent),
            .bound("events.wait", "Answer with the first matching event, or a timeout error", to: self, Hub.eventsWait),
        ]
    }

    /// `events.subscribe`.
    func eventsSubscribe(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["filter", "since"])
        let filter = try self.filter(params["filter"])
        let since = try params.optionalUInt64("since")
        guard let session = call.session else { return .deferred }
        let subscription = EventSubscription(
            filter: filter, capacity: self.configuration.hub.limits.controlOutboxEvents)
        // Every matching held event after `since` reaches a client that reads: the replay streams
        // through the outbox as the client reads (see `EventSubscription`).
        var replayed = 0
        if let since {
            replayed = self.events.log.count(since: since, matching: filter)
            subscription.replayCursor = since
        }
        session.subscription = subscription
        // The answer goes out before any replayed event, so a client sees its reply first.
        call.reply(
            .result([
                "subscribed": true, "filter": filter.json, "lastSeq": .uint(self.events.log.lastSeq),
                "replayed": .int(Int64(replayed)),
            ]))
        self.flushEvents(to: session)
        return .deferred
    }

    /// `events.unsubscribe`.
    func eventsUnsubscribe(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        call.session?.subscription = nil
        return .result(["subscribed": false])
    }

    /// `events.recent`.
    func eventsRecent(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["filter", "limit", "since"])
        let filter = try self.filter(params["filter"])
        let limit = Int(try params.optionalInt("limit", in: 1...Int64(max(1, self.events.log.capacity))) ?? 100)
        var missed: JSON = .null
        var held: [HubEvent]
        if let since = try params.optionalUInt64("since") {
            let replay = self.events.log.since(since, matching: filter)
            held = replay.events
            if let gap = replay.missed { missed = gap.json }
        } else {
            held = self.events.log.recent(limit, matching: filter)
        }
        if held.count > limit { held = Array(held.suffix(limit)) }
        return .result([
            "events": .array(held.map(\.json)), "lastSeq": .uint(self.events.log.lastSeq), "missed": missed,
        ])
    }

    /// `events.wait`.
    func eventsWait(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["filter", "timeoutMs", "since"])
        let filter = try self.filter(params["filter"])
        let timeout = try params.requireInt(
            "timeoutMs", in: 0...Int64(self.configuration.hub.limits.controlMaxWaitMs))
        // With `since`, an event that already happened answers at once: act, then wait, without a race.
        if let since = try params.optionalUInt64("since"),
            let first = self.events.log.since(since, matching: filter).events.first
        {
            return .result(["event": first.json])
        }
        return try self.events.waiters.register(call, until: filter, timeoutMs: timeout)
    }

    /// Reads a filter from a request, bounded by `controlMaxFilterEntries` and `controlMaxFilterEntryBytes`.
    func filter(_ json: JSON?) throws(ControlError) -> EventFilter {
        let limits = configuration.hub.limits
        let bounds = EventFilter.Bounds(
            maxEntries: limits.controlMaxFilterEntries, maxEntryBytes: limits.controlMaxFilterEntryBytes)
        do {
            return try EventFilter(json: json, bounds: bounds)
        } catch {
            if let limit = error.limit {
                controlCounters.filtersRefused += 1
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
