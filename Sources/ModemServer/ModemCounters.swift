import JSON
import Modem

/// What a modem's link to a remote simulator counts (Protocols/modem.md §6.3; `modem.list` `backendLink`,
/// `Protocols/control.md` §14.1).
struct ModemLinkCounters {
    /// Connection attempts since the link was lost (or since start).
    var attempts = 0
    /// Links that came back after a loss.
    var reconnects = 0
    /// Links given up because the simulator stopped answering (a missed command, keepalive or hello deadline).
    var timeouts = 0
    /// Links given up because the simulator left more than `backendBacklogBytes` of host input unread.
    var overflows = 0
    /// Links given up because the simulator broke the link protocol (§6.1): a length out of 1...65537, a first
    /// frame that is not a hello, a hello that is not ours or carries the wrong token.
    var protocolErrors = 0
    /// Host command lines the hub answered itself with an error because the simulator was away or hung.
    var hostErrors = 0
}

/// What the modem family shows of each modem: `modem.list` entries and `hub.limits`.
extension ModemInstance {
    /// One entry of `modem.list` (`Protocols/control.md` §14.1).
    var listJSON: JSON {
        var entry: JSONObject = [
            "name": .string(config.name), "owner": .string(config.owner),
            "backend": .string(isRemote ? "remote" : "builtin"),
            "backendEndpoint": .string(backendDescription),
            "backendUp": .bool(isRemote ? backendUp : true),
            "openers": .array(openers.values.map { .string($0.kind) }.sorted { "\($0)" < "\($1)" }),
            "pty": config.pty.map(JSON.string) ?? .null,
            "openersClosedNotReading": .uint(openersClosedNotReading),
            "ptyDroppedBytes": .uint(ptyDroppedBytes),
            "heldResultsDropped": .uint(simulator?.heldUnsolicitedDropped ?? 0),
        ]
        if isRemote { entry["backendLink"] = backendLinkJSON }
        return .object(entry)
    }

    /// The link's health for `modem.list`: reconnects, attempts since the loss, hangs, overflows, protocol
    /// errors and the host command lines the hub answered itself, whether host settings are held for the next
    /// simulator, and the limits in force.
    var backendLinkJSON: JSON {
        [
            "reconnects": .int(Int64(link.reconnects)), "attempts": .int(Int64(link.attempts)),
            "timeouts": .int(Int64(link.timeouts)), "overflows": .int(Int64(link.overflows)),
            "protocolErrors": .int(Int64(link.protocolErrors)),
            "hostErrors": .int(Int64(link.hostErrors)),
            "settingsHeld": .bool(hostSettings != nil),
            "commandTimeoutMs": .int(Int64(config.backendCommandTimeoutMs)),
            "keepaliveMs": .int(Int64(config.backendKeepaliveMs)),
            "backlogBytes": .int(Int64(config.backendBacklogBytes)),
        ]
    }

    /// This modem's limits under `hub.limits` `modem.<name>` (Protocols/modem.md §7).
    var limitsJSON: JSON {
        [
            "maxLineBytes": .int(Int64(config.maxLineBytes)),
            "smsCapacity": .int(Int64(config.smsCapacity)),
            "maxCalls": .int(Int64(config.maxCalls)),
            "ringIntervalMs": .int(Int64(config.ringIntervalMs)),
            "traceLines": .int(Int64(config.traceLines)),
            "traceLineBytes": .int(Int64(ModemTrace.maxLineBytes)),
            "sentLog": .int(Int64(ModemSimulator.sentLogCapacity)),
            "heldResults": .int(Int64(ModemSimulator.heldUnsolicitedCapacity)),
            "waits": .int(Int64(device.waits?.limit ?? host.limits.controlMaxWaiters)),
            "shared": .bool(config.shared),
            "echo": .string(config.echo.rawValue),
            "backendCommandTimeoutMs": .int(Int64(config.backendCommandTimeoutMs)),
            "backendKeepaliveMs": .int(Int64(config.backendKeepaliveMs)),
            "backendBacklogBytes": .int(Int64(config.backendBacklogBytes)),
        ]
    }
}

/// The AT conversation of one modem, as lines per direction, in a bounded ring.
struct ModemTrace {
    struct Entry {
        let seq: UInt64
        /// `to_modem` (what the guest sent) or `from_modem`.
        let direction: String
        let line: String
    }

    static let defaultCapacity = 2000
    let capacity: Int
    static let maxLineBytes = 512
    private(set) var entries: [Entry] = []
    private(set) var lastSeq: UInt64 = 0
    private var pending: [String: [UInt8]] = [:]

    init(capacity: Int = ModemTrace.defaultCapacity) { self.capacity = max(1, capacity) }

    /// Splits `bytes` into lines at CR/LF; `> ` prompts are recorded as lines of their own.
    mutating func record(_ direction: String, _ bytes: some Sequence<UInt8>) -> [Entry] {
        var buffer = pending[direction] ?? []
        var added: [Entry] = []
        for byte in bytes {
            if byte == 0x0D || byte == 0x0A || byte == 0x1A || byte == 0x1B {
                if !buffer.isEmpty { added.append(append(direction, buffer)) }
                buffer.removeAll(keepingCapacity: true)
                if byte == 0x1A { added.append(append(direction, Array("<ctrl-z>".utf8))) }
                if byte == 0x1B { added.append(append(direction, Array("<esc>".utf8))) }
                continue
            }
            if buffer.count < ModemTrace.maxLineBytes { buffer.append(byte) }
        }
        if direction == "from_modem", buffer == [0x3E, 0x20] {
            added.append(append(direction, buffer))
            buffer.removeAll()
        }
        pending[direction] = buffer
        return added
    }

    private mutating func append(_ direction: String, _ bytes: [UInt8]) -> Entry {
        lastSeq += 1
        let printable = bytes.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }
        let entry = Entry(seq: lastSeq, direction: direction, line: String(decoding: printable, as: UTF8.self))
        entries.append(entry)
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
        return entry
    }
}
