import ControlWire
import DeviceKit
import EthernetWire
import JSON
import Wire

/// What an `eth.wait` waits for (`Protocols/control.md` §13.9): the first frame seen at `port` of `segment`, in
/// `direction`, that matches `pattern` (`Protocols/ethernet.md` §7). Held in the device's `DeferredWaits`.
struct FrameWatch {
    enum Direction: String { case sent, received, any }

    let segment: String
    let port: String
    let direction: Direction
    let pattern: FramePattern

    func matches(_ frame: ArraySlice<UInt8>, segment: String, port: String, direction: Direction) -> Bool {
        self.segment == segment && self.port == port && (self.direction == .any || self.direction == direction)
            && pattern.matches(frame)
    }
}

extension EthernetDevice {
    /// Whether any `eth.wait` is pending: checked per frame, so frames go straight to the switch otherwise.
    @inline(__always)
    var hasWaits: Bool { !waits.isEmpty }

    /// Frames seen at a port (received from it, or sent to it) answer the pending waits they match.
    func offer(
        _ frame: ArraySlice<UInt8>, segment: EthernetSegment, port: EthernetPortRuntime, direction: FrameWatch.Direction
    ) {
        waits.resolve { watch in
            guard watch.matches(frame, segment: segment.name, port: port.config.name, direction: direction) else {
                return nil
            }
            return [
                "segment": .string(segment.name), "port": .string(port.config.name),
                "direction": .string(direction.rawValue), "length": .int(Int64(frame.count)),
                "frame": .string(Hex.encode(frame)),
            ]
        }
    }

    /// `eth.wait {segment, port, pattern, direction?, timeoutMs}`: held until a matching frame or the timeout.
    func ethWait(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["segment", "port", "pattern", "direction", "timeoutMs"])
        let segment = try segment(params)
        let port = try port(params, in: segment)
        let pattern: FramePattern
        do {
            pattern = try FramePattern(parsing: try params.requireString("pattern"))
        } catch {
            throw ControlError.invalidParams(param: "pattern", expected: "hex bytes, ?? wildcards", detail: "\(error)")
        }
        let direction = FrameWatch.Direction(
            rawValue: try params.optionalChoice("direction", of: ["sent", "received", "any"]) ?? "sent")!
        let timeout = try params.requireInt("timeoutMs", in: 0...Int64(host.limits.controlMaxWaitMs))
        let watch = FrameWatch(segment: segment.name, port: port.config.name, direction: direction, pattern: pattern)
        return try waits.register(call, until: watch, timeoutMs: timeout)
    }
}
