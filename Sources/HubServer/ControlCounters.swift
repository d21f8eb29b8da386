import ControlWire
import DeviceKit
import JSON

/// What the control sessions refused or cut off, hub-wide (`hub.controlClients`, `Protocols/control.md` §9.8).
struct ControlCounters {
    /// Lines over `controlMaxLineBytes` / `controlMaxUnauthenticatedLineBytes` (the connection was closed).
    var linesTooLong: UInt64 = 0
    /// Wrong tokens presented to `hub.authenticate`.
    var authFailures: UInt64 = 0
    /// Connections closed because they reached `controlMaxAuthFailures`.
    var closedForAuthFailures: UInt64 = 0
    /// Times a session stopped handling requests because its unsent answers passed the budget.
    var heldBack: UInt64 = 0
    /// Connections closed because their answers stayed unread for `controlWriteStallTimeoutMs`.
    var writeStalls: UInt64 = 0
    /// Requests refused with `auth_required` (any method but `hub.authenticate` before authentication).
    var unauthenticatedRequests: UInt64 = 0
    /// Event filters refused for their size (`controlMaxFilterEntries`, `controlMaxFilterEntryBytes`).
    var filtersRefused: UInt64 = 0
    /// Times a session left its remaining requests for the next loop pass (`controlAnswerBytesPerPass`).
    var passesYielded: UInt64 = 0

    var json: JSON {
        [
            "linesTooLong": .uint(linesTooLong), "authFailures": .uint(authFailures),
            "closedForAuthFailures": .uint(closedForAuthFailures), "heldBack": .uint(heldBack),
            "writeStalls": .uint(writeStalls), "filtersRefused": .uint(filtersRefused),
            "unauthenticatedRequests": .uint(unauthenticatedRequests), "passesYielded": .uint(passesYielded),
        ]
    }
}

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
