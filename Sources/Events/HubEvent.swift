// The hub-wide event model (`Protocols/control.md` §5). Pure values: no clock reads, no I/O.
// Whoever appends an event passes the time in; the control session turns events into notifications.
import JSON

/// When an event happened, on both clocks: wall time for humans and logs, monotonic time for
/// measuring intervals between events (it never jumps).
public struct EventTime: Sendable, Hashable {
    /// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
    public var unixNs: Int64
    /// Nanoseconds on the hub's monotonic clock (CLOCK_MONOTONIC; only differences are meaningful).
    public var monoNs: UInt64

    public init(unixNs: Int64, monoNs: UInt64) {
        self.unixNs = unixNs
        self.monoNs = monoNs
    }

    public var json: JSON { ["unixNs": .int(unixNs), "monoNs": .uint(monoNs)] }
}

/// One thing that happened in the hub: a partition attached, an interrupt was raised, a message was
/// delivered, a client connected. Every event has a hub-wide sequence number, strictly increasing from 1.
public struct HubEvent: Sendable, Hashable {
    public var seq: UInt64
    public var time: EventTime
    /// Dotted kind, e.g. `partition.attached`, `irq.raised`, `msg.delivered`.
    public var kind: String
    /// The partition concerned, if any.
    public var partition: String?
    /// The device concerned (`lan0`, `modem0`, a link name, …), if any.
    public var device: String?
    /// Kind-specific details (an object).
    public var data: JSON

    public init(seq: UInt64, time: EventTime, kind: String, partition: String?, device: String?, data: JSON) {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.partition = partition
        self.device = device
        self.data = data
    }

    /// The `params` of an `event` notification:
    /// `{"seq":…,"time":{"unixNs":…,"monoNs":…},"kind":…,"partition":…|null,"device":…|null,"data":{…}}`.
    public var json: JSON {
        [
            "seq": .uint(seq), "time": time.json, "kind": .string(kind),
            "partition": partition.map(JSON.string) ?? .null, "device": device.map(JSON.string) ?? .null,
            "data": data,
        ]
    }

    /// Reads an event from its JSON form (clients); nil when a required member is missing or mistyped.
    public init?(json: JSON) {
        guard let seq = json["seq"]?.uint64Value, let kind = json["kind"]?.stringValue,
            let unixNs = json["time"]?["unixNs"]?.int64Value, let monoNs = json["time"]?["monoNs"]?.uint64Value
        else { return nil }
        self.init(
            seq: seq, time: EventTime(unixNs: unixNs, monoNs: monoNs), kind: kind,
            partition: json["partition"]?.stringValue, device: json["device"]?.stringValue,
            data: json["data"] ?? .null)
    }
}
