import ControlWire
import DeviceKit
import EthernetWire
import HubSystem
import JSON
import Wire

// Frames observed at ports: `eth.wait` (answered by the first matching frame) and captures (a pcap file, or
// live `eth.frame` events). A segment offers every frame it receives or sends to both, when any is active.

/// What an `eth.wait` waits for (`Protocols/control.md` §13.9): the first frame seen at `port` of `segment`, in
/// `direction`, that matches `pattern` (`Protocols/ethernet.md` §7). Held in the device's `DeferredWaits`.
struct FrameWatch {
    enum Direction: String { case sent, received, any }

    let segment: String
    let port: String
    let direction: Direction
    let pattern: FramePattern

    func matches(_ frame: UnsafeRawBufferPointer, segment: String, port: String, direction: Direction) -> Bool {
        self.segment == segment && self.port == port && (self.direction == .any || self.direction == direction)
            && pattern.matches(frame)
    }
}

extension EthernetDevice {
    /// Frames seen at a port (received from it, or sent to it) answer the pending waits they match.
    func offer(
        _ frame: UnsafeRawBufferPointer, segment: EthernetSegment, port: EthernetPortRuntime,
        direction: FrameWatch.Direction
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

/// A pcap file being written for a segment or one port. Records are buffered and written once per
/// loop pass, so capture adds one `write` per pass rather than one per frame.
final class EthernetCapture {
    let path: String
    /// `nil` captures every port of the segment.
    let port: String?
    let snapLength: Int
    private let fd: Int32
    private var pending: [UInt8] = []
    private(set) var frames: UInt64 = 0
    private(set) var bytesWritten: UInt64 = 0
    /// The first failed write's errno (0: none); records after it are counted in `frames` but not written.
    private(set) var writeError: Int32 = 0

    /// `writeError` as the control API reports it: null, or the system's wording.
    var writeErrorJSON: JSON { writeError == 0 ? .null : .string(SystemError.describe(writeError)) }

    init(path: String, port: String?, snapLength: Int) throws(EthernetCaptureError) {
        do {
            fd = try FileTree.createRegular(path, permissions: 0o644)
        } catch {
            throw EthernetCaptureError(path: path, code: error.code)
        }
        self.path = path
        self.port = port
        self.snapLength = snapLength
        pending = PcapWriter.globalHeader(snapLength: UInt32(snapLength))
        flush()
    }

    func record(_ frame: UnsafeRawBufferPointer, unixNanoseconds: UInt64) {
        PcapWriter.appendRecord(frame, unixNanoseconds: unixNanoseconds, snapLength: snapLength, to: &pending)
        frames += 1
    }

    var hasPending: Bool { !pending.isEmpty }

    func flush() {
        guard !pending.isEmpty, writeError == 0 else { return }
        var offset = 0
        while offset < pending.count {
            do {
                offset += try Descriptors.write(fd, pending[offset...])
            } catch {
                writeError = error.code
                break
            }
        }
        bytesWritten += UInt64(offset)
        pending.removeAll(keepingCapacity: true)
    }

    func close() {
        flush()
        Descriptors.close(fd)
    }
}

/// Why a capture file could not be opened.
struct EthernetCaptureError: Error {
    let path: String
    let code: Int32
    var message: String {
        guard code != FileTree.notRegularFile else {
            return "cannot open \(path): not a regular file (a FIFO, device, socket or link is refused)"
        }
        return "cannot open \(path): \(SystemError.describe(code))"
    }
}

/// Frames streamed live to control clients as `eth.frame` events (`Protocols/control.md` §13): each frame is
/// published once, with at most `snapLength` bytes of it, and reaches every subscriber whose filter matches,
/// through the hub's bounded outboxes (a slow client is told how many it missed; the switch never waits).
final class EthernetLiveCapture {
    let port: String?
    let snapLength: Int
    private(set) var frames: UInt64 = 0
    private unowned let host: any DeviceHost

    init(port: String?, snapLength: Int, host: any DeviceHost) {
        self.port = port
        self.snapLength = snapLength
        self.host = host
    }

    /// The `eth.frame` event of one frame (`Protocols/control.md`): built from members whose keys differ, so
    /// nothing is searched for a repeated key, once for every frame the capture sees.
    func publish(_ frame: UnsafeRawBufferPointer, segment: String, port: String, direction: String) {
        frames &+= 1
        var members: [JSONObject.Member] = []
        members.reserveCapacity(4)
        members.append(JSONObject.Member(key: "port", value: .string(port)))
        members.append(JSONObject.Member(key: "direction", value: .string(direction)))
        members.append(JSONObject.Member(key: "length", value: .int(Int64(frame.count))))
        let captured = UnsafeRawBufferPointer(rebasing: frame[..<min(frame.count, snapLength)])
        members.append(JSONObject.Member(key: "frame", value: .string(Hex.encode(captured))))
        host.publish("eth.frame", device: segment, data: .object(JSONObject(distinctMembers: members)))
    }
}
