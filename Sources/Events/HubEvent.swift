// The hub-wide event model (`Protocols/control.md` §5). Pure values: no clock reads, no I/O.
// Whoever appends an event passes the time in; the control session turns events into notifications.
import JSON

/// When an event happened, on both clocks: wall time for humans and logs, monotonic time for
/// measuring intervals between events (it never jumps).
package struct EventTime: Sendable, Hashable {
    /// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
    package var unixNs: Int64
    /// Nanoseconds on the hub's monotonic clock (CLOCK_MONOTONIC; only differences are meaningful).
    package var monoNs: UInt64

    package init(unixNs: Int64, monoNs: UInt64) {
        self.unixNs = unixNs
        self.monoNs = monoNs
    }

    package var json: JSON { ["unixNs": .int(unixNs), "monoNs": .uint(monoNs)] }
}

/// One thing that happened in the hub: a partition attached, an interrupt was raised, a message was
/// delivered, a client connected. Every event has a hub-wide sequence number, strictly increasing from 1.
package struct HubEvent: Sendable, Hashable {
    package var seq: UInt64
    package var time: EventTime
    /// Dotted kind, e.g. `partition.attached`, `irq.raised`, `msg.delivered`.
    package var kind: String
    /// The partition concerned, if any.
    package var partition: String?
    /// The device concerned (`lan0`, `modem0`, a link name, …), if any.
    package var device: String?
    /// Kind-specific details (an object).
    package var data: JSON

    package init(seq: UInt64, time: EventTime, kind: String, partition: String?, device: String?, data: JSON) {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.partition = partition
        self.device = device
        self.data = data
    }

    /// The `params` of an `event` notification:
    /// `{"seq":…,"time":{"unixNs":…,"monoNs":…},"kind":…,"partition":…|null,"device":…|null,"data":{…}}`.
    package var json: JSON {
        [
            "seq": .uint(seq), "time": time.json, "kind": .string(kind),
            "partition": partition.map(JSON.string) ?? .null, "device": device.map(JSON.string) ?? .null,
            "data": data,
        ]
    }

    /// Appends the compact text of ``json`` without building it (every event published to a subscriber is
    /// written once): the same members in the same order, numbers clamped as `JSON.uint` clamps them.
    package func writeJSON(into out: inout [UInt8]) {
        JSON.writeRaw(#"{"seq":"#, into: &out)
        JSON.writeInteger(Int64(clamping: seq), into: &out)
        JSON.writeRaw(#","time":{"unixNs":"#, into: &out)
        JSON.writeInteger(time.unixNs, into: &out)
        JSON.writeRaw(#","monoNs":"#, into: &out)
        JSON.writeInteger(Int64(clamping: time.monoNs), into: &out)
        JSON.writeRaw(#"},"kind":"#, into: &out)
        JSON.writeString(kind, into: &out)
        JSON.writeRaw(#","partition":"#, into: &out)
        HubEvent.writeName(partition, into: &out)
        JSON.writeRaw(#","device":"#, into: &out)
        HubEvent.writeName(device, into: &out)
        JSON.writeRaw(#","data":"#, into: &out)
        data.write(into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// The `event` notification line of this event, newline included: `{"jsonrpc":"2.0","method":"event","params":`,
    /// ``writeJSON(into:)``, `}` and a newline (`Protocols/control.md` §5). Written through a pointer into a buffer on
    /// the stack, then copied once into an array of its size; a line that does not fit, or needs escapes or a
    /// fraction, is written the ordinary way.
    package func notificationLine() -> [UInt8] {
        let line = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { buffer -> [UInt8]? in
            var out = JSONBoundedWriter(buffer)
            out.raw(#"{"jsonrpc":"2.0","method":"event","params":{"seq":"#)
            out.integer(Int64(clamping: seq))
            out.raw(#","time":{"unixNs":"#)
            out.integer(time.unixNs)
            out.raw(#","monoNs":"#)
            out.integer(Int64(clamping: time.monoNs))
            out.raw(#"},"kind":"#)
            out.string(kind)
            out.raw(#","partition":"#)
            if let partition { out.string(partition) } else { out.raw("null") }
            out.raw(#","device":"#)
            if let device { out.string(device) } else { out.raw("null") }
            out.raw(#","data":"#)
            out.value(data)
            out.raw("}}\n")
            return out.fits ? Array(out.written) : nil
        }
        if let line { return line }
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        JSON.writeRaw(#"{"jsonrpc":"2.0","method":"event","params":"#, into: &out)
        writeJSON(into: &out)
        JSON.writeRaw("}\n", into: &out)
        return out
    }

    private static func writeName(_ name: String?, into out: inout [UInt8]) {
        if let name { JSON.writeString(name, into: &out) } else { JSON.writeRaw("null", into: &out) }
    }

    /// Reads an event from its JSON form (clients); nil when a required member is missing or mistyped.
    package init?(json: JSON) {
        guard let seq = json["seq"]?.uint64Value, let kind = json["kind"]?.stringValue,
            let unixNs = json["time"]?["unixNs"]?.int64Value, let monoNs = json["time"]?["monoNs"]?.uint64Value
        else { return nil }
        self.init(
            seq: seq, time: EventTime(unixNs: unixNs, monoNs: monoNs), kind: kind,
            partition: json["partition"]?.stringValue, device: json["device"]?.stringValue,
            data: json["data"] ?? .null)
    }
}
