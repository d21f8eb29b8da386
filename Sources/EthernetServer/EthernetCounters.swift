import Ethernet
import JSON

/// What the Ethernet family counts, as JSON: each port's frames, bytes and drops by reason (kept by the switch,
/// `Protocols/ethernet.md` §8), with the port's state for `eth.ports`; each transport adds its own
/// counters (refused peers, wrong VNIs, write failures, the read slice) through `PortAttachment.stateJSON`.
extension EthernetDevice {
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
}
