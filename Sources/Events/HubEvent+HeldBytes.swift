import JSON

extension HubEvent {
    /// What this event counts against the replay ring's byte bound (`hub.limits.eventReplayBytes`,
    /// `Protocols/control.md` §5.5): about the length of its JSON text, its strings (kind, names, keys, values)
    /// counted by their UTF-8 bytes, which is also about what it holds in memory. Linear in the event's size, which
    /// building the event already cost; escapes are not counted.
    package var heldBytes: Int {
        HubEvent.envelopeBytes + kind.utf8.count + (partition?.utf8.count ?? 0) + (device?.utf8.count ?? 0)
            + HubEvent.heldBytes(of: data)
    }

    /// The members every event has (`seq`, `time`, the names and quotes around them), counted once.
    static let envelopeBytes = 128

    /// What `value` counts. Inlined where it is called, so a scalar (most of an event's data is a flat object of
    /// scalars, and this runs for every event published) costs no call; an array or object is counted by its own
    /// function, which comes back here for each element or member.
    @inline(__always)
    private static func heldBytes(of value: JSON) -> Int {
        switch value {
        case .null, .bool: return 5
        case .int, .double: return 20
        case .string(let text): return text.utf8.count + 2
        case .array(let elements): return heldBytes(ofArray: elements)
        case .object(let object): return heldBytes(ofObject: object)
        }
    }

    private static func heldBytes(ofArray elements: [JSON]) -> Int {
        var total = 2
        for element in elements { total += heldBytes(of: element) + 1 }
        return total
    }

    private static func heldBytes(ofObject object: JSONObject) -> Int {
        var total = 2
        for member in object.members { total += member.key.utf8.count + 4 + heldBytes(of: member.value) }
        return total
    }

    /// What the replay ring keeps in a slot that holds no event: no storage of its own.
    static let vacant = HubEvent(
        seq: 0, time: EventTime(unixNs: 0, monoNs: 0), kind: "", partition: nil, device: nil, data: .null)
}
