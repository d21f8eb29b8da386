import EventLoop
import GuestWire
import Hypervisor
import JSON
import PlatformControl

/// Glue between the pure platform model and the hub: actions become frames to guest sessions or
/// control events; deliveries are drained once per loop pass, in priority order.
extension Hub {
    /// Carries out what the model asked for. `actions` is the hub's reusable buffer.
    ///
    /// Deliveries to real-time partitions go out at once, before the loop handles any other connection's input;
    /// fair-share deliveries wait for the end of the pass (`scheduleDeliveries`).
    func perform(_ actions: inout [Action]) {
        carryOut(&actions)
        if platform.hasRealTimeDeliveries {
            platform.drainDeliveries(budget: deliveryBudget, fairShareBudget: 0, into: &actions)
            withFlushFollowing { carryOut(&actions) }
            flushScheduledSessions()
        }
        scheduleDeliveries()
    }

    /// Runs `body`, whose caller flushes the scheduled sessions right after it: the sessions `body` queues frames
    /// for are listed as usual, but arm no flush timer. Why: every interrupt delivered to a real-time partition
    /// armed the timer (a closure allocated, a timer in libuv's heap) for a flush that had already happened when
    /// it fired.
    private func withFlushFollowing(_ body: () -> Void) {
        let outer = flushFollows
        flushFollows = true
        body()
        flushFollows = outer
    }

    private func carryOut(_ actions: inout [Action]) {
        // Consecutive actions usually address the same session (a batch of deliveries): one lookup for the run.
        var cachedSession: SessionID? = nil
        var cachedGuest: GuestSession? = nil
        func guest(_ session: SessionID) -> GuestSession? {
            if session != cachedSession {
                cachedSession = session
                cachedGuest = guestSessions[session]
            }
            return cachedGuest
        }
        for action in actions {
            switch action {
            case .event(let event):
                publish(event)
            case .deliverInterrupt(let session, let line, let priority, let coalesced):
                guard let guest = guest(session) else { continue }
                // A partition that declared itself idle or suspended is woken first (Protocols/power.md §3.3).
                if let power, let name = guest.partition,
                    let wake = power.wakeBeforeInterrupt(partition: name, line: line)
                {
                    guest.queue(GuestFrame(wake))
                }
                guest.deliverInterrupt(line: line, priority: priority, coalesced: coalesced)
                scheduleFlush(of: guest)
            case .deliverMessages(let batch):
                guard let guest = guest(batch.session) else { continue }
                guest.deliverMessages(batch)
                scheduleFlush(of: guest)
            case .grantCredit(let session, let link, let credit):
                // Credit goes to the sender's session, usually not the one whose input is being handled:
                // it must be flushed too, or a sender waiting for credit waits forever.
                guard let guest = guest(session) else { continue }
                guest.grantCredit(link: link, credit: credit)
                scheduleFlush(of: guest)
            case .closeSession(let session, let reason):
                guest(session)?.close(reason: reason)
                cachedSession = nil
            case .linkOpened, .linkClosing, .linkClosed:
                performLinkAction(action)
            }
        }
        actions.removeAll(keepingCapacity: true)
    }

    /// Deliveries wait until the current loop pass has handled all its input, then go out in one batch per
    /// session at the end of the pass. One delivery pass per loop pass: what its budget leaves goes out at the end
    /// of the next, after the loop has polled every connection again, so a real-time guest's raise is read (and
    /// served first) between two slices of a fair-share flood.
    func scheduleDeliveries() {
        guard platform.hasPendingDeliveries, !deliveryScheduled, !isShuttingDown else { return }
        deliveryScheduled = true
        deliveryPass.arm { [unowned self] in
            self.deliveryScheduled = false
            var actions: [Action] = []
            self.platform.drainDeliveries(
                budget: self.deliveryBudget,
                fairShareBudget: self.configuration.hub.limits.fairShareDeliveriesPerPass, into: &actions)
            self.withFlushFollowing { self.perform(&actions) }
            // Only the sessions that got frames, not every attached guest (there may be thousands).
            self.flushScheduledSessions()
        }
    }

    /// Publishes the hub events of a model event (`PlatformControl`'s `HypervisorEvent.hubEvents`).
    func publish(_ event: HypervisorEvent) {
        // The hub events of one model event are one occurrence (a latched raise is irq.raised and irq.latched):
        // they carry one time, and the clocks are read once for them.
        let time = Hub.eventTimeNow()
        event.forEachHubEvent { kind, partition, data in
            publish(kind, partition: partition, data: data, time: time)
        }
    }
}
