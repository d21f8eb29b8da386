import ControlWire
import JSON

/// A control session's event subscription (filled in by the event plumbing).
final class EventSubscription {}

extension Hub {
    /// Sends whatever the session's outbox holds, as far as its write queue allows.
    func flushEvents(to session: ControlSession) {}

    /// Runtime state of a partition for the control API.
    func partitionRuntimeJSON(_ name: String) -> JSONObject { ["state": "detached"] }
}
