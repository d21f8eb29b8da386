import ControlWire
import DeviceKit
import JSON

extension Hub {
    /// `hub.controlClients`: every control connection with its backlog, and the control counters.
    func registerControlClientMethods() {
        router.register(controlClientMethods)
    }

    /// `hub.controlClients` as a one-method table.
    var controlClientMethods: [ControlMethod] {
        [
            .bound(
                "hub.controlClients", "Control connections with their unsent answers, and refusals", to: self,
                Hub.hubControlClients)
        ]
    }

    /// `hub.controlClients`.
    func hubControlClients(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        let open = self.controlSessions.values.map { ($0, false) }
        let closing = self.closingControlSessions.values.map { ($0, true) }
        let clients = (open + closing).sorted { $0.0.id < $1.0.id }.map { session, isClosing -> JSON in
            [
                "id": .uint(session.id), "endpoint": .string(session.remote),
                "authenticated": .bool(session.authenticated),
                "state": .string(isClosing ? "closing" : session.heldBack ? "held_back" : "open"),
                "unsentBytes": .int(Int64(session.unsentBytes)),
                "bufferedRequestBytes": .int(Int64(session.bufferedRequestBytes)),
                "requests": .uint(session.requestsServed),
                "subscribed": .bool(session.subscription != nil),
            ]
        }
        var counters = self.controlCounters.json.objectValue ?? [:]
        counters["eventsPublished"] = .uint(self.events.published)
        counters["eventLinesEncoded"] = .uint(self.events.lines.linesEncoded)
        counters["budgetWaits"] = .uint(self.controlBudget.waits)
        return .result(["clients": .array(clients), "counters": .object(counters)])
    }
}
