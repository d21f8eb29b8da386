import ControlWire
import DeviceKit
import Ethernet
import EthernetWire
import EventLoop
import JSON
import Wire

/// A pending `eth.wait`: answered by the first matching frame or by its timer.
final class FrameWatch {
    enum Direction: String { case sent, received, any }

    let segment: String
    let port: String
    let direction: Direction
    let pattern: FramePattern
    let call: ControlCall
    var timer: Timer?

    init(segment: String, port: String, direction: Direction, pattern: FramePattern, call: ControlCall) {
        self.segment = segment
        self.port = port
        self.direction = direction
        self.pattern = pattern
        self.call = call
    }

    func finish(_ reply: ControlReply) {
        timer?.close()
        timer = nil
        call.reply(reply)
    }
}

extension EthernetDevice {
    /// Frames seen at a port (received from it, or sent to it) are matched against pending waits.
    func offer(
        _ frame: ArraySlice<UInt8>, segment: EthernetSegment, port: EthernetPortRuntime, direction: FrameWatch.Direction
    ) {
        var matched: [FrameWatch] = []
        for watch in watches
        where watch.segment == segment.name && watch.port == port.config.name
            && (watch.direction == .any || watch.direction == direction) && watch.pattern.matches(frame)
        {
            matched.append(watch)
        }
        guard !matched.isEmpty else { return }
        for watch in matched {
            defer { removeWatch(watch) }
            watch.finish(
                .result([
                    "segment": .string(segment.name), "port": .string(port.config.name),
                    "direction": .string(direction.rawValue), "length": .int(Int64(frame.count)),
                    "frame": .string(Hex.encode(frame)),
                ]))
        }
    }

    func segment(_ params: ControlParams) throws(ControlError) -> EthernetSegment {
        let name = try params.requireString("segment")
        guard let segment = segments.first(where: { $0.name == name }) else {
            throw ControlError.notFound("segment", name: name)
        }
        return segment
    }

    func port(_ params: ControlParams, in segment: EthernetSegment) throws(ControlError) -> EthernetPortRuntime {
        let name = try params.requireString("port")
        guard let port = segment.port(named: name) else { throw ControlError.notFound("port", name: name) }
        return port
    }

    static func countersJSON(_ counters: PortCounters) -> JSON {
        var drops = JSONObject()
        for reason in DropReason.allCases { drops[reason.rawValue] = .uint(counters.drops(reason)) }
        return [
            "rxFrames": .uint(counters.rxFrames), "rxBytes": .uint(counters.rxBytes),
            "txFrames": .uint(counters.txFrames),
            "txBytes": .uint(counters.txBytes), "drops": .object(drops),
        ]
    }

    static func impairmentsJSON(_ value: Impairments) -> JSON {
        [
            "delayMs": .double(Double(value.delayNs) / 1e6), "jitterMs": .double(Double(value.jitterNs) / 1e6),
            "loss": .double(value.loss), "duplicate": .double(value.duplicate),
            "rateBitsPerSecond": .uint(value.rateBitsPerSecond), "burstBytes": .int(Int64(value.burstBytes)),
            "backlogBytes": .int(Int64(value.backlogBytes)),
        ]
    }

    static func vlanJSON(_ mode: PortSettings.VLANMode) -> JSON {
        switch mode {
        case .access(let vid): return ["mode": "access", "vid": .int(Int64(vid))]
        case .trunk(let allowed, let native):
            return [
                "mode": "trunk", "allowed": allowed.map { .array($0.sorted().map { .int(Int64($0)) }) } ?? "all",
                "native": native.map { .int(Int64($0)) } ?? .null,
            ]
        }
    }

    func portJSON(_ port: EthernetPortRuntime) -> JSON {
        let sw = port.segment.sw
        let impairments = sw.impairments(of: port.id) ?? (.none, .none)
        var object: JSONObject = [
            "name": .string(port.config.name), "kind": .string(port.config.kind), "link": .bool(port.linkUp),
            "adminUp": .bool(port.adminUp), "carrier": .bool(port.carrier),
            "vlan": sw.settings(of: port.id).map { EthernetDevice.vlanJSON($0.vlan) } ?? .null,
            "isolated": .bool(port.config.isolated), "queuedFrames": .int(Int64(sw.queuedFrames(of: port.id))),
            "queueFrames": .int(Int64(port.config.queueFrames)), "queueBytes": .int(Int64(port.config.queueBytes)),
            "counters": sw.counters(of: port.id).map(EthernetDevice.countersJSON) ?? .null,
            "impairments": [
                "ingress": EthernetDevice.impairmentsJSON(impairments.ingress),
                "egress": EthernetDevice.impairmentsJSON(impairments.egress),
            ],
        ]
        for member in port.attachment?.stateJSON ?? [:] { object[member.key] = member.value }
        return .object(object)
    }

    /// The fastest rate limit a control client may set (1 Tbit/s; 0 means unlimited).
    static let maxRateBitsPerSecond: UInt64 = 1_000_000_000_000

    /// Parses `{delayMs, jitterMs, loss, duplicate, rateBitsPerSecond, burstBytes, backlogBytes}`.
    static func impairments(_ json: JSON?, name: String) throws(ControlError) -> Impairments {
        guard let json else { return .none }
        let params = try ControlParams(
            json,
            allowed: ["delayMs", "jitterMs", "loss", "duplicate", "rateBitsPerSecond", "burstBytes", "backlogBytes"],
            path: name)
        // Every number is range-checked before it is converted (Protocols/control.md §13.6).
        let maxDelayMs = Double(Impairments.maxDelayNs / 1_000_000)
        var result = Impairments()
        result.delayNs = UInt64((try params.optionalNumber("delayMs", in: 0...maxDelayMs) ?? 0) * 1e6)
        result.jitterNs = UInt64((try params.optionalNumber("jitterMs", in: 0...maxDelayMs) ?? 0) * 1e6)
        result.loss = try params.optionalNumber("loss", in: 0...1) ?? 0
        result.duplicate = try params.optionalNumber("duplicate", in: 0...1) ?? 0
        result.rateBitsPerSecond =
            try params.optionalInteger("rateBitsPerSecond", in: 0...EthernetDevice.maxRateBitsPerSecond) ?? 0
        result.burstBytes = try params.optionalInteger("burstBytes", in: 0...(64 << 20)) ?? 0
        result.backlogBytes =
            try params.optionalInteger("backlogBytes", in: 0...(64 << 20)) ?? Impairments.defaultBacklogBytes
        if let reason = result.invalidReason {
            throw ControlError.invalidParams(param: name, expected: "valid impairments", detail: reason)
        }
        return result
    }

    func registerEthernetMethods(on hub: Hub) {
        let router = hub.router
        router.register("eth.segments", summary: "Every Ethernet segment with its MTU, ports and capture") {
            [unowned self] call throws(ControlError) in
            _ = try ControlParams(call.params, allowed: [])
            return .result([
                "segments": .array(
                    self.segments.map { segment in
                        [
                            "name": .string(segment.name), "mtu": .int(Int64(segment.config.mtu)),
                            "macAgeingSeconds": .int(Int64(segment.config.macAgeingSeconds)),
                            "ports": .array(segment.ports.map { .string($0.config.name) }),
                            "forwardedFrames": .uint(segment.sw.forwardedFrames),
                            "floodedFrames": .uint(segment.sw.floodedFrames),
                            "capture": segment.capture.map { capture in
                                [
                                    "path": .string(capture.path), "port": capture.port.map(JSON.string) ?? .null,
                                    "frames": .uint(capture.frames),
                                ]
                            } ?? .null,
                        ]
                    })
            ])
        }
        router.register("eth.ports", summary: "A segment's ports: kind, link, VLAN, queue, counters, impairments") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["segment"])
            let segment = try self.segment(params)
            return .result(["segment": .string(segment.name), "ports": .array(segment.ports.map(self.portJSON))])
        }
        router.register("eth.macTable", summary: "Addresses a segment has learned, with VLAN, port and age") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["segment"])
            let segment = try self.segment(params)
            let names = Dictionary(uniqueKeysWithValues: segment.ports.map { ($0.id, $0.config.name) })
            let entries = segment.sw.macEntries(now: MonotonicClock.nanoseconds())
            return .result([
                "segment": .string(segment.name),
                "entries": .array(
                    entries.map { entry in
                        [
                            "mac": .string(entry.mac.description), "vlan": .int(Int64(entry.vid)),
                            "port": .string(names[entry.port] ?? "?"), "ageMs": .uint(entry.ageNs / 1_000_000),
                        ]
                    }),
            ])
        }
        router.register("eth.counters", summary: "Per-port frame, byte and drop counters") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["segment", "port"])
            let segment = try self.segment(params)
            let ports = params.contains("port") ? [try self.port(params, in: segment)] : segment.ports
            var result = JSONObject()
            for port in ports {
                result[port.config.name] = segment.sw.counters(of: port.id).map(EthernetDevice.countersJSON) ?? .null
            }
            return .result(["segment": .string(segment.name), "ports": .object(result)])
        }
        router.register("eth.setLink", summary: "Bring a port's link up or down") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["segment", "port", "up"])
            let segment = try self.segment(params)
            let port = try self.port(params, in: segment)
            port.setAdminUp(try params.requireBool("up"))
            self.hub.publish(
                "eth.link", device: segment.name,
                data: ["port": .string(port.config.name), "up": .bool(port.adminUp), "link": .bool(port.linkUp)])
            return .result([
                "port": .string(port.config.name), "adminUp": .bool(port.adminUp), "link": .bool(port.linkUp),
            ])
        }
        router.register("eth.setImpairments", summary: "Set a port's impairments by preset or per direction") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["segment", "port", "preset", "ingress", "egress"])
            let segment = try self.segment(params)
            let port = try self.port(params, in: segment)
            var ingress = Impairments.none
            var egress = Impairments.none
            if let presetName = try params.optionalChoice(
                "preset", of: ImpairmentPreset.allCases.map(\.rawValue)),
                let preset = ImpairmentPreset(rawValue: presetName)
            {
                guard !params.contains("ingress") && !params.contains("egress") else {
                    throw ControlError.invalidParams(
                        param: "preset", expected: "preset alone", detail: "give a preset or ingress/egress, not both")
                }
                ingress = preset.up
                egress = preset.down
            } else {
                ingress = try EthernetDevice.impairments(params["ingress"], name: "ingress")
                egress = try EthernetDevice.impairments(params["egress"], name: "egress")
            }
            segment.sw.setImpairments(port.id, ingress: ingress, egress: egress, now: MonotonicClock.nanoseconds())
            return .result([
                "port": .string(port.config.name), "ingress": EthernetDevice.impairmentsJSON(ingress),
                "egress": EthernetDevice.impairmentsJSON(egress),
            ])
        }
        router.register("eth.capture.start", summary: "Write a segment's (or one port's) frames to a pcap file") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["segment", "port", "path", "snapLength", "live"])
            let segment = try self.segment(params)
            let portName = params.contains("port") ? try self.port(params, in: segment).config.name : nil
            if try params.optionalBool("live") == true {
                // A live stream to control clients instead of a file: frames become eth.frame events.
                let snap = Int(try params.optionalInt("snapLength", in: 14...9216) ?? 128)
                guard segment.liveCapture == nil else {
                    throw ControlError.conflict("\(segment.name) is already streaming its frames")
                }
                segment.liveCapture = EthernetLiveCapture(port: portName, snapLength: snap, hub: self.hub)
                return .result([
                    "segment": .string(segment.name), "live": true, "port": portName.map(JSON.string) ?? .null,
                    "snapLength": .int(Int64(snap)),
                ])
            }
            let path = try params.requireString("path")
            let snap = Int(try params.optionalInt("snapLength", in: 64...262_144) ?? 65535)
            guard segment.capture == nil else {
                throw ControlError.conflict("\(segment.name) is already capturing to \(segment.capture!.path)")
            }
            do throws(EthernetCaptureError) {
                segment.capture = try EthernetCapture(path: path, port: portName, snapLength: snap)
            } catch {
                throw ControlError.invalidParams(param: "path", expected: "a writable file", detail: error.message)
            }
            return .result([
                "segment": .string(segment.name), "path": .string(path), "port": portName.map(JSON.string) ?? .null,
            ])
        }
        router.register("eth.capture.stop", summary: "Finish a segment's capture file") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["segment", "live"])
            let segment = try self.segment(params)
            if try params.optionalBool("live") == true {
                guard let live = segment.liveCapture else {
                    throw ControlError.conflict("\(segment.name) is not streaming its frames")
                }
                segment.liveCapture = nil
                return .result(["segment": .string(segment.name), "live": true, "frames": .uint(live.frames)])
            }
            guard let capture = segment.capture else { throw ControlError.conflict("\(segment.name) is not capturing") }
            capture.close()
            segment.capture = nil
            return .result([
                "segment": .string(segment.name), "path": .string(capture.path), "frames": .uint(capture.frames),
                "bytes": .uint(capture.bytesWritten),
            ])
        }
        router.register("eth.inject", summary: "Send a frame into a segment as if a port had received it") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(call.params, allowed: ["segment", "port", "frame"])
            let segment = try self.segment(params)
            let port = try self.port(params, in: segment)
            let text = try params.requireString("frame")
            guard text.utf8.count <= 2 * 65536 * 2, let bytes = Hex.decode(text) else {
                throw ControlError.invalidParams(param: "frame", expected: "hex bytes of one Ethernet frame")
            }
            let before = segment.sw.counters(of: port.id)?.totalDrops ?? 0
            port.received(bytes[...])
            let dropped = (segment.sw.counters(of: port.id)?.totalDrops ?? 0) > before
            return .result([
                "port": .string(port.config.name), "length": .int(Int64(bytes.count)), "dropped": .bool(dropped),
            ])
        }
        router.register("eth.wait", summary: "Answer with the first frame matching a byte pattern at a port") {
            [unowned self] call throws(ControlError) in
            let params = try ControlParams(
                call.params, allowed: ["segment", "port", "pattern", "direction", "timeoutMs"])
            let segment = try self.segment(params)
            let port = try self.port(params, in: segment)
            let pattern: FramePattern
            do {
                pattern = try FramePattern(parsing: try params.requireString("pattern"))
            } catch {
                throw ControlError.invalidParams(
                    param: "pattern", expected: "hex bytes, ?? wildcards", detail: "\(error)")
            }
            let direction = FrameWatch.Direction(
                rawValue: try params.optionalChoice("direction", of: ["sent", "received", "any"]) ?? "sent")!
            let timeout = try params.requireInt(
                "timeoutMs", in: 0...Int64(self.hub.configuration.hub.limits.controlMaxWaitMs))
            guard self.watches.count < EthernetDevice.maxWatches else {
                throw ControlError.limitExceeded("eth.maxWatches", value: Int64(EthernetDevice.maxWatches))
            }
            let watch = FrameWatch(
                segment: segment.name, port: port.config.name, direction: direction, pattern: pattern, call: call)
            do {
                let timer = try Timer(loop: self.hub.loop)
                watch.timer = timer
                // The closure holds the watch; `finish` closes the timer, which releases the closure and the cycle.
                timer.start(afterMilliseconds: UInt64(timeout)) { [unowned self] in
                    watch.finish(.error(.timeout(afterMs: timeout)))
                    self.removeWatch(watch)
                }
            } catch {
                throw ControlError.internalError("timer: \(error)")
            }
            self.watches.append(watch)
            return .deferred
        }
    }
}
