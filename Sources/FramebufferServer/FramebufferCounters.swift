import JSON

/// What one framebuffer counts (`fb.info` `counters`, `Protocols/control.md`): viewers admitted and refused,
/// updates sent, input delivered or dropped, guest commands and their refusals.
package struct FramebufferCounters {
    package var viewersAccepted: UInt64 = 0
    package var viewersRefused: UInt64 = 0
    package var viewerProtocolErrors: UInt64 = 0
    package var updatesSent: UInt64 = 0
    package var updateBytes: UInt64 = 0
    package var keysDelivered: UInt64 = 0
    package var keysIgnored: UInt64 = 0
    package var inputDropped: UInt64 = 0
    package var touchesDelivered: UInt64 = 0
    package var commands: UInt64 = 0
    package var commandErrors: UInt64 = 0
    package var framesDone: UInt64 = 0
    package var surfacesMapped: UInt64 = 0
    package var flushedRects: UInt64 = 0
    /// Pumps that ran out of `rfbEncodeMsPerPass` with viewers still owed an update (served at the next pass).
    package var updatesDeferred: UInt64 = 0

    package var json: JSON {
        [
            "viewersAccepted": .uint(viewersAccepted), "viewersRefused": .uint(viewersRefused),
            "viewerProtocolErrors": .uint(viewerProtocolErrors),
            "updatesSent": .uint(updatesSent), "updateBytes": .uint(updateBytes),
            "keysDelivered": .uint(keysDelivered), "keysIgnored": .uint(keysIgnored),
            "touchesDelivered": .uint(touchesDelivered), "inputDropped": .uint(inputDropped),
            "commands": .uint(commands), "commandErrors": .uint(commandErrors),
            "framesDone": .uint(framesDone), "surfacesMapped": .uint(surfacesMapped),
            "flushedRects": .uint(flushedRects), "updatesDeferred": .uint(updatesDeferred),
        ]
    }
}
