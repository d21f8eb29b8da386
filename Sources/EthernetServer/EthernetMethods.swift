import ControlWire
import DeviceKit
import Ethernet
import EthernetWire
import EventLoop
import JSON
import Wire

/// The `eth.*` control methods (`Protocols/control.md` §13): the table the device registers, then one named
/// handler per method. Parameters are read through `ControlParams`, every number range-checked before use.
extension EthernetDevice {
    /// Every method of the family, registered by `start(host:)`.
    var methods: [ControlMethod] {
        [
            ControlMethod("eth.segments", summary: "Every Ethernet segment with its MTU, ports and capture") {
                [unowned self] call throws(ControlError) in try self.ethSegments(call)
            },
            ControlMethod("eth.ports", summary: "A segment's ports: kind, link, VLAN, queue, counters, impairments") {
                [unowned self] call throws(ControlError) in try self.ethPorts(call)
            },
            ControlMethod("eth.macTable", summary: "Addresses a segment has learned, with VLAN, port and age") {
                [unowned self] call throws(ControlError) in try self.ethMACTable(call)
            },
            ControlMethod("eth.counters", summary: "Per-port frame, byte and drop counters") {
                [unowned self] call throws(ControlError) in try self.ethCounters(call)
            },
            ControlMethod("eth.setLink", summary: "Bring a port's link up or down") {
                [unowned self] call throws(ControlError) in try self.ethSetLink(call)
            },
            ControlMethod("eth.setImpairments", summary: "Set a port's impairments by preset or per direction") {
                [unowned self] call throws(ControlError) in try self.ethSetImpairments(call)
            },
            ControlMethod("eth.capture.start", summary: "Write a segment's (or one port's) frames to a pcap file") {
                [unowned self] call throws(ControlError) in try self.ethCaptureStart(call)
            },
            ControlMethod("eth.capture.stop", summary: "Finish a segment's capture file") {
                [unowned self] call throws(ControlError) in try self.ethCaptureStop(call)
            },
            ControlMethod("eth.inject", summary: "Send a frame into a segment as if a port had received it") {
                [unowned self] call throws(ControlError) in try self.ethInject(call)
            },
            ControlMethod("eth.wait", summary: "Answer with the first frame matching a byte pattern at a port") {
                [unowned self] call throws(ControlError) in try self.ethWait(call)
            },
        ]
    }

    /// `eth.segments {}`.
    func ethSegments(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result([
            "segments": .array(
                segments.map { segment in
                    [
                        "name": .string(segment.name), "mtu": .int(Int64(segment.config.mtu)),
                        "macAgeingSeconds": .int(Int64(segment.config.macAgeingSeconds)),
                        "ports": .array(segment.ports.map { .string($0.config.name) }),
                        "forwardedFrames": .uint(segment.sw.forwardedFrames),
                        "floodedFrames": .uint(segment.sw.floodedFrames),
                        "capture": segment.capture.map { capture in
                            [
                                "path": .string(capture.path), "port": capture.port.map(JSON.string) ?? .null,
                                "frames": .uint(capture.frames), "writeError": capture.writeErrorJSON,
                            ]
                        } ?? .null,
                    ]
                })
        ])
    }

    /// `eth.ports {segment}`.
    func ethPorts(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["segment"])
        let segment = try segment(params)
        return .result(["segment": .string(segment.name), "ports": .array(segment.ports.map(portJSON))])
    }

    /// `eth.macTable {segment}`.
    func ethMACTable(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["segment"])
        let segment = try segment(params)
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

    /// `eth.counters {segment, port?}`.
    func ethCounters(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["segment", "port"])
        let segment = try segment(params)
        let ports = params.contains("port") ? [try port(params, in: segment)] : segment.ports
        var result = JSONObject()
        for port in ports {
            result[port.config.name] = segment.sw.counters(of: port.id).map(EthernetDevice.countersJSON) ?? .null
        }
        return .result(["segment": .string(segment.name), "ports": .object(result)])
    }

    /// `eth.setLink {segment, port, up}`: publishes `eth.link`.
    func ethSetLink(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["segment", "port", "up"])
        let segment = try segment(params)
        let port = try port(params, in: segment)
        port.setAdminUp(try params.requireBool("up"))
        host.publish(
            "eth.link", device: segment.name,
            data: ["port": .string(port.config.name), "up": .bool(port.adminUp), "link": .bool(port.linkUp)])
        return .result([
            "port": .string(port.config.name), "adminUp": .bool(port.adminUp), "link": .bool(port.linkUp),
        ])
    }

    /// `eth.setImpairments {segment, port, preset | ingress?, egress?}`.
    func ethSetImpairments(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["segment", "port", "preset", "ingress", "egress"])
        let segment = try segment(params)
        let port = try port(params, in: segment)
        var ingress = Impairments.none
        var egress = Impairments.none
        if let presetName = try params.optionalChoice("preset", of: ImpairmentPreset.allCases.map(\.rawValue)),
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

    /// `eth.capture.start {segment, port?, path | live, snapLength?}`.
    func ethCaptureStart(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["segment", "port", "path", "snapLength", "live"])
        let segment = try segment(params)
        let portName = params.contains("port") ? try port(params, in: segment).config.name : nil
        if try params.optionalBool("live") == true {
            // A live stream to control clients instead of a file: frames become eth.frame events.
            let snap = Int(try params.optionalInt("snapLength", in: 14...9216) ?? 128)
            guard segment.liveCapture == nil else {
                throw ControlError.conflict("\(segment.name) is already streaming its frames")
            }
            segment.liveCapture = EthernetLiveCapture(port: portName, snapLength: snap, host: host)
            return .result([
                "segment": .string(segment.name), "live": true, "port": portName.map(JSON.string) ?? .null,
                "snapLength": .int(Int64(snap)),
            ])
        }
        let path = try params.requireString("path")
        let snap = Int(try params.optionalInt("snapLength", in: 64...262_144) ?? 65535)
        if let capture = segment.capture {
            throw ControlError.conflict("\(segment.name) is already capturing to \(capture.path)")
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

    /// `eth.capture.stop {segment, live?}`.
    func ethCaptureStop(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["segment", "live"])
        let segment = try segment(params)
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
            "bytes": .uint(capture.bytesWritten), "writeError": capture.writeErrorJSON,
        ])
    }

    /// `eth.inject {segment, port, frame}`: the frame enters the switch as if `port` had received it.
    func ethInject(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["segment", "port", "frame"])
        let segment = try segment(params)
        let port = try port(params, in: segment)
        let text = try params.requireString("frame")
        // Twice the largest frame any segment carries (its MTU of at most 65535 plus headers): enough for every
        // frame worth judging, with room for spacing between the digits, and a bound on the work of decoding.
        let maxDigits = 2 * Self.maxInjectBytes
        guard text.utf8.count <= maxDigits else {
            throw ControlError.invalidParams(
                param: "frame", expected: "hex of at most \(maxDigits) characters",
                detail:
                    "must be at most \(maxDigits) characters of hex, spaces included (\(Self.maxInjectBytes) bytes "
                    + "unspaced), got \(text.utf8.count)")
        }
        guard let bytes = Hex.decode(text) else {
            throw ControlError.invalidParams(param: "frame", expected: "hex bytes of one Ethernet frame")
        }
        let before = segment.sw.counters(of: port.id)?.totalDrops ?? 0
        port.received(bytes[...])
        let dropped = (segment.sw.counters(of: port.id)?.totalDrops ?? 0) > before
        return .result([
            "port": .string(port.config.name), "length": .int(Int64(bytes.count)), "dropped": .bool(dropped),
        ])
    }

    // MARK: Parameters

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

    /// The most bytes `eth.inject` takes as one frame (`Protocols/control.md` §13.8).
    static let maxInjectBytes = 131_072

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
}
