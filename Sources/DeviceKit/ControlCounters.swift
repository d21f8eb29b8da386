import JSON

/// What the hub's control sessions refused or cut off, hub-wide (`hub.controlClients`, `Protocols/control.md`
/// §9.8): kept beside the control router, which every control method goes through.
package struct ControlCounters {
    /// Lines over `controlMaxLineBytes` / `controlMaxUnauthenticatedLineBytes` (the connection was closed).
    package var linesTooLong: UInt64 = 0
    /// Wrong tokens presented to `hub.authenticate`.
    package var authFailures: UInt64 = 0
    /// Connections closed because they reached `controlMaxAuthFailures`.
    package var closedForAuthFailures: UInt64 = 0
    /// Connections closed because they reached `controlMaxUnauthenticatedLines` before authenticating.
    package var closedUnauthenticated: UInt64 = 0
    /// Times a session stopped handling requests because its unsent answers passed the budget.
    package var heldBack: UInt64 = 0
    /// Connections closed because their answers stayed unread for `controlWriteStallTimeoutMs`.
    package var writeStalls: UInt64 = 0
    /// Requests refused with `auth_required` (any method but `hub.authenticate` before authentication).
    package var unauthenticatedRequests: UInt64 = 0
    /// Event filters refused for their size (`controlMaxFilterEntries`, `controlMaxFilterEntryBytes`).
    package var filtersRefused: UInt64 = 0
    /// Times a session left its remaining requests for the next loop pass (`controlAnswerBytesPerPass`).
    package var passesYielded: UInt64 = 0

    package init() {}

    package var json: JSON {
        [
            "linesTooLong": .uint(linesTooLong), "authFailures": .uint(authFailures),
            "closedForAuthFailures": .uint(closedForAuthFailures),
            "closedUnauthenticated": .uint(closedUnauthenticated),
            "heldBack": .uint(heldBack),
            "writeStalls": .uint(writeStalls), "filtersRefused": .uint(filtersRefused),
            "unauthenticatedRequests": .uint(unauthenticatedRequests), "passesYielded": .uint(passesYielded),
        ]
    }
}
