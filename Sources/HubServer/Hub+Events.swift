import ControlWire
import DeviceKit
import ErrorLogServer
import EventControl
import EventLoop
import Events
import JSON
import PlatformConfig

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
    /// The subscriptions, so publishing visits only the subscribers an event matches and never a session.
    let subscribers = EventSubscribers()
    /// Event lines, each serialised once per pass however many subscribers receive it.
    let lines = EventLines()

    init(replayCapacity: Int, replayBytes: Int, waiters: DeferredWaits<EventFilter>) {
        log = EventLog(capacity: replayCapacity, byteLimit: replayBytes)
        self.waiters = waiters
    }
}

extension Hub {
    /// Records an event, queues it for every matching subscriber and resolves matching waits.
    /// Never blocks: a subscriber whose outbox is full has the event counted as missed. Subscribers
    /// are written to once per loop pass, however many events the pass produced.
    @discardableResult
    func publish(
        _ kind: String, partition: String? = nil, device: String? = nil, data: JSON = [:],
        time: EventTime = Hub.eventTimeNow()
    ) -> HubEvent {
        let event = events.log.append(kind: kind, partition: partition, device: device, data: data, time: time)
        events.published += 1
        // The hub's faults (crash, missed heartbeats, rollback, refused command) go to the error logs too.
        if ErrorLogDevice.records(kind) { errorLog?.observe(kind: kind, partition: partition, data: data) }
        if events.subscribers.deliver(event, lines: events.lines) { armControlFlush() }
        if !events.waiters.isEmpty {
            events.waiters.resolve { filter in filter.matches(event) ? ["event": event.json] : nil }
        }
        // After subscribers have this event: what the power model publishes in turn comes after it, in order.
        power?.observe(kind, partition: partition, device: device, data: data)
        return event
    }

    /// The time an event published now carries, on both clocks.
    static func eventTimeNow() -> EventTime {
        EventTime(unixNs: Int64(Hub.wallClockNanos()), monoNs: MonotonicClock.nanoseconds())
    }

    /// Moves what the session's outbox holds into its pass write while its write queue has room. What
    /// does not fit stays in the bounded outbox; the low-watermark callback calls this again. A pass write goes
    /// to the kernel at once (`ControlSession.flush`), and when it takes all of it nothing stays queued to bring
    /// that callback, so filling goes on here until the outbox is empty or bytes are left queued.
    func flushEvents(to session: ControlSession) {
        guard let subscription = session.subscription else { return }
        subscription.flushQueued = false
        while true {
            let stoppedAtBudget = fillPassWrite(of: session, from: subscription)
            session.flush()
            guard stoppedAtBudget, !session.closing, !session.isWriteQueueFull else { return }
        }
    }

    /// Queues outbox items (refilled from the ring while replaying) into the session's pass write until its write
    /// budget or `eventWriteChunkBytes` is reached (true) or nothing is left (false). The chunk keeps a pass write
    /// within the buffer a session keeps, not regrown from nothing every pass (`flushEvents` writes it, goes on).
    private func fillPassWrite(of session: ControlSession, from subscription: EventSubscription) -> Bool {
        var chunk = Hub.eventWriteChunkBytes
        while !session.isWriteQueueFull && chunk >= 0 && !session.closing {
            guard !subscription.outbox.isEmpty else {
                guard let cursor = subscription.replayCursor else { return false }
                // The outbox is empty: refill it from the ring, one less than its capacity (room for a gap
                // marker), so nothing is dropped.
                let (replay, through) = events.log.since(
                    cursor, matching: subscription.filter, limit: subscription.outbox.capacity - 1)
                // A replay is work the client asked for: the ring examined and the events it found are charged to
                // the control budget (`Protocols/control.md` §2.7), so replays for many clients spread over passes.
                let examined = Int(min(through &- cursor, UInt64(events.log.count)))
                controlBudget.spend(
                    examined * EventMethods.eventScanBytesPerEvent
                        + replay.events.count * EventMethods.replayBytesPerEventFound)
                subscription.outbox.push(replay)
                subscription.replayCursor = through >= events.log.lastSeq ? nil : through
                continue
            }
            var room = min(session.writeRoom, chunk)  // only this pass's write grows while the outbox drains
            let start = room
            session.queue { pending in
                subscription.outbox.drain(into: &pending, room: &room) { item, pending in
                    switch item {
                    case .line(_, let line): pending.append(contentsOf: line)
                    case .event(let event): pending.append(contentsOf: events.lines.line(for: event))
                    case .missed: pending += ControlNotification(method: item.method, params: item.params).encodedLine()
                    }
                }
            }
            chunk -= start - room
        }
        return true
    }

    static let eventWriteChunkBytes = ControlSession.keptPendingCapacity / 2

    /// Sessions with replies or events queued are flushed together at the start of the next pass.
    func scheduleControlFlush(_ session: ControlSession) {
        events.dirty[session.id] = session
        armControlFlush()
    }

    private func armControlFlush() {
        guard !events.flushScheduled, let timer = events.flushTimer else { return }
        events.flushScheduled = true
        timer.start(afterMilliseconds: 0) { [unowned self] in
            self.events.flushScheduled = false
            let sessions = self.events.dirty
            self.events.dirty.removeAll(keepingCapacity: true)
            let queued = self.events.subscribers.takeQueued()
            for session in sessions.values { self.flushEvents(to: session) }
            for id in queued where sessions[id] == nil {
                if let session = self.controlSessions[id] { self.flushEvents(to: session) }
            }
            for session in sessions.values where session.subscription == nil { session.flush() }
            self.events.lines.endPass()
        }
    }

    func registerEventMethods() {
        router.register(eventMethods.methods)
    }
}

/// What the `events.*` methods (`EventControl`) ask of the hub: its event log, its waits, the caller's session.
final class HubEventControlHost: EventControlHost {
    private unowned let hub: Hub

    init(hub: Hub) {
        self.hub = hub
    }

    var limits: Limits { hub.configuration.hub.limits }
    var eventLog: EventLog { hub.events.log }
    var eventWaits: DeferredWaits<EventFilter> { hub.events.waiters }

    func setSubscription(_ subscription: EventSubscription?, of call: ControlCall) -> Bool {
        guard let session = call.session else { return false }
        session.subscription = subscription
        return true
    }

    func flushEvents(of call: ControlCall) {
        guard let session = call.session else { return }
        hub.flushEvents(to: session)
    }

    func filterRefused() { hub.controlCounters.filtersRefused += 1 }
}
