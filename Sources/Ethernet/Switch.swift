import EthernetWire

/// A port's handle inside its switch.
public struct PortID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static func < (lhs: PortID, rhs: PortID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "port#\(rawValue)" }
}

/// One Ethernet segment: a learning 802.1Q switch with per-port counters, bounded egress queues and
/// impairments (`Protocols/ethernet.md` §4–§5).
///
/// Pure: no sockets, no clock reads. The caller hands in frames with the current monotonic time,
/// takes each ready port's queued frames (`takeReadyPorts`, `takeEgress`) and calls `advance(now:)`
/// at `nextDeadline` so delayed frames move on. Everything runs on one thread.
public final class Switch {
    public let name: String
    /// Largest payload after the Ethernet header (and tag); frames above it are dropped as `oversize`.
    public var mtu: Int
    /// How long a learned address stays valid without being seen again.
    public var macAgeingNs: UInt64
    /// At most this many learned addresses; beyond it new sources are not learned (and are counted).
    public var macTableLimit: Int

    final class Port {
        var settings: PortSettings
        var counters = PortCounters()
        var linkUp = true
        var ingress: ImpairmentStage?
        var egress: ImpairmentStage?
        var queue = FrameQueue<ArraySlice<UInt8>>()
        var queuedBytes = 0
        var isReady = false
        var isDelayed = false
        /// The queue is at least half full: lossless senders should pause until it is written out.
        var isPressured = false
        /// The port stopped reading for longer than senders wait: it exerts no pressure and tail-drops.
        var isStalled = false

        init(settings: PortSettings) { self.settings = settings }
    }

    struct MACEntry {
        var port: PortID
        var seen: UInt64
    }

    private var ports: [Port?] = []
    private var freeIDs: [Int] = []
    private var activeIDs: [PortID] = []
    private var macTable: [UInt64: MACEntry] = [:]
    private var random: SplitMix64
    private var ready: [PortID] = []
    private var delayed: Set<PortID> = []
    private var pressured: [PortID] = []
    /// Pressured ports the frames of the latest `receive` were queued to.
    public private(set) var pressureHits: [PortID] = []
    /// Frames forwarded (each copy a port received counts once).
    public private(set) var forwardedFrames: UInt64 = 0
    public private(set) var floodedFrames: UInt64 = 0

    public static let defaultMACAgeingNs: UInt64 = 300_000_000_000
    public static let defaultMACTableLimit = 8192

    public init(
        name: String, mtu: Int = 1500, macAgeingNs: UInt64 = Switch.defaultMACAgeingNs,
        macTableLimit: Int = Switch.defaultMACTableLimit, seed: UInt64 = 0x5EED
    ) {
        self.name = name
        self.mtu = mtu
        self.macAgeingNs = macAgeingNs
        self.macTableLimit = macTableLimit
        random = SplitMix64(seed: seed)
    }

    /// Longest frame accepted: header, optional tag, MTU.
    public var maxFrameLength: Int { mtu + EthernetHeader.length + EthernetHeader.tagLength }

    // MARK: Ports

    public func addPort(_ settings: PortSettings) -> PortID {
        let port = Port(settings: settings)
        let id: PortID
        if let free = freeIDs.popLast() {
            ports[free] = port
            id = PortID(rawValue: free)
        } else {
            ports.append(port)
            id = PortID(rawValue: ports.count - 1)
        }
        activeIDs.append(id)
        return id
    }

    /// Removes a port and forgets what was learned on it.
    public func removePort(_ id: PortID) {
        guard port(id) != nil else { return }
        ports[id.rawValue] = nil
        freeIDs.append(id.rawValue)
        activeIDs.removeAll { $0 == id }
        macTable = macTable.filter { $0.value.port != id }
        delayed.remove(id)
        ready.removeAll { $0 == id }
        pressured.removeAll { $0 == id }
    }

    public var portIDs: [PortID] { activeIDs }

    public func settings(of id: PortID) -> PortSettings? { port(id)?.settings }
    public func counters(of id: PortID) -> PortCounters? { port(id)?.counters }
    public func isLinkUp(_ id: PortID) -> Bool { port(id)?.linkUp ?? false }
    public func queuedFrames(of id: PortID) -> Int { port(id)?.queue.count ?? 0 }
    public func impairments(of id: PortID) -> (ingress: Impairments, egress: Impairments)? {
        guard let port = port(id) else { return nil }
        return (port.ingress?.settings ?? .none, port.egress?.settings ?? .none)
    }

    public func updateSettings(_ id: PortID, _ settings: PortSettings) { port(id)?.settings = settings }

    /// Link down drops what the port sends and what would be sent to it, and flushes its queue.
    public func setLink(_ id: PortID, up: Bool) {
        guard let port = port(id) else { return }
        port.linkUp = up
        if !up {
            port.counters.drop(.linkDown, count: UInt64(port.queue.count))
            port.queue.removeAll()
            port.queuedBytes = 0
            relieve(id, port)
            macTable = macTable.filter { $0.value.port != id }
        }
    }

    /// Sets both directions; `.none` removes a stage. Frames already held keep their release times.
    public func setImpairments(_ id: PortID, ingress: Impairments, egress: Impairments, now: UInt64) {
        guard let port = port(id) else { return }
        port.ingress = Switch.stage(port.ingress, ingress, now)
        port.egress = Switch.stage(port.egress, egress, now)
    }

    private static func stage(_ current: ImpairmentStage?, _ settings: Impairments, _ now: UInt64) -> ImpairmentStage? {
        if var current {
            if settings.isNone && current.held.isEmpty { return nil }
            current.update(settings, now: now)
            return current
        }
        return settings.isNone ? nil : ImpairmentStage(settings: settings, now: now)
    }

    /// Counts a frame the transport refused before it reached the switch (bad framing, bad VXLAN header).
    public func countDrop(_ reason: DropReason, on id: PortID, bytes: Int = 0) {
        guard let port = port(id) else { return }
        port.counters.rxFrames += 1
        port.counters.rxBytes += UInt64(bytes)
        port.counters.drop(reason)
    }

    @inline(__always)
    private func port(_ id: PortID) -> Port? {
        id.rawValue >= 0 && id.rawValue < ports.count ? ports[id.rawValue] : nil
    }

    // MARK: Ingress

    /// A frame arrived from port `id`.
    public func receive(_ bytes: ArraySlice<UInt8>, from id: PortID, now: UInt64) {
        if !pressureHits.isEmpty { pressureHits.removeAll(keepingCapacity: true) }
        guard let port = port(id) else { return }
        port.counters.rxFrames += 1
        port.counters.rxBytes += UInt64(bytes.count)
        guard port.linkUp else { return port.counters.drop(.linkDown) }
        guard bytes.count >= EthernetHeader.length else { return port.counters.drop(.runt) }
        let tagged = EthernetHeader.u16(bytes, at: 12) == EthernetHeader.tpid8021Q
        if tagged && bytes.count < EthernetHeader.length + EthernetHeader.tagLength {
            return port.counters.drop(.runt)
        }
        guard bytes.count <= mtu + EthernetHeader.length + (tagged ? EthernetHeader.tagLength : 0) else {
            return port.counters.drop(.oversize)
        }
        let tagVID: UInt16? = tagged ? EthernetHeader.u16(bytes, at: 14) & 0x0FFF : nil
        let vid: UInt16
        switch port.settings.vlan {
        case .access(let access):
            guard tagVID == nil || tagVID == 0 else { return port.counters.drop(.vlan) }
            vid = access
        case .trunk(let allowed, let native):
            if let tagVID, tagVID != 0 {
                guard allowed?.contains(tagVID) ?? true else { return port.counters.drop(.vlan) }
                vid = tagVID
            } else {
                guard let native else { return port.counters.drop(.vlan) }
                vid = native
            }
        }
        let frame = SwitchFrame(bytes: bytes, vid: vid, tagged: tagged)
        if port.ingress != nil {
            switch port.ingress!.admit(length: bytes.count, now: now, random: &random) {
            case .lost: return port.counters.drop(.impairmentLoss)
            case .overBacklog: return port.counters.drop(.rateLimit)
            case .pass(let copies, let release):
                if release <= now && port.ingress!.held.isEmpty {
                    for _ in 0..<copies { forward(frame, from: id, port: port, now: now) }
                } else {
                    for _ in 0..<copies { port.ingress!.held.append((release, frame)) }
                    markDelayed(id, port)
                }
            }
            return
        }
        forward(frame, from: id, port: port, now: now)
    }

    private func forward(_ frame: SwitchFrame, from id: PortID, port source: Port, now: UInt64) {
        let destination = MACAddress(frame.bytes, at: 0)
        let sourceMAC = MACAddress(frame.bytes, at: 6)
        let vidKey = UInt64(frame.vid) << 48
        if !sourceMAC.isGroup { learn(sourceMAC.rawValue | vidKey, id, source, now) }
        if !destination.isGroup, let entry = macTable[destination.rawValue | vidKey],
            now &- entry.seen <= macAgeingNs, let target = port(entry.port)
        {
            // Known unicast: never back out of the port it came from.
            guard entry.port != id else { return }
            if source.settings.isolated && target.settings.isolated { return }
            var converted = Converted(frame)
            deliver(&converted, to: entry.port, port: target, now: now)
            return
        }
        floodedFrames += 1
        var converted = Converted(frame)
        for other in activeIDs where other != id {
            guard let target = ports[other.rawValue] else { continue }
            if source.settings.isolated && target.settings.isolated { continue }
            deliver(&converted, to: other, port: target, now: now)
        }
    }

    private func learn(_ key: UInt64, _ id: PortID, _ port: Port, _ now: UInt64) {
        if let entry = macTable[key], entry.port == id {
            macTable[key]!.seen = now
            return
        }
        if macTable[key] == nil && macTable.count >= macTableLimit {
            purgeAged(now: now)
            if macTable.count >= macTableLimit { return port.counters.drop(.macTableFull) }
        }
        macTable[key] = MACEntry(port: id, seen: now)
    }

    /// Forgets addresses not seen within the ageing time.
    public func purgeAged(now: UInt64) {
        macTable = macTable.filter { now &- $0.value.seen <= macAgeingNs }
    }

    /// The frame in the two forms egress ports need, each built at most once per forward.
    private struct Converted {
        let frame: SwitchFrame
        var untagged: ArraySlice<UInt8>?
        var tagged: ArraySlice<UInt8>?

        init(_ frame: SwitchFrame) {
            self.frame = frame
            if frame.tagged {
                // A priority-only or foreign tag is rewritten to carry the classified VLAN.
                if EthernetHeader.u16(frame.bytes, at: 14) & 0x0FFF == frame.vid { tagged = frame.bytes }
            } else {
                untagged = frame.bytes
            }
        }

        mutating func bytes(tagged wantTag: Bool) -> ArraySlice<UInt8> {
            if wantTag {
                if let tagged { return tagged }
                let base = untagged ?? VLANTagging.pop(frame.bytes)[...]
                let built = VLANTagging.push(base, vid: frame.vid)[...]
                tagged = built
                return built
            }
            if let untagged { return untagged }
            let built = VLANTagging.pop(frame.bytes)[...]
            untagged = built
            return built
        }
    }

    private func deliver(_ converted: inout Converted, to id: PortID, port: Port, now: UInt64) {
        let vid = converted.frame.vid
        let wantTag: Bool
        switch port.settings.vlan {
        case .access(let access):
            guard access == vid else { return }
            wantTag = false
        case .trunk(let allowed, let native):
            if native == vid {
                wantTag = false
            } else {
                guard allowed?.contains(vid) ?? true else { return }
                wantTag = true
            }
        }
        guard port.linkUp else { return port.counters.drop(.linkDown) }
        let bytes = converted.bytes(tagged: wantTag)
        forwardedFrames += 1
        if port.egress != nil {
            switch port.egress!.admit(length: bytes.count, now: now, random: &random) {
            case .lost: return port.counters.drop(.impairmentLoss)
            case .overBacklog: return port.counters.drop(.rateLimit)
            case .pass(let copies, let release):
                if release <= now && port.egress!.held.isEmpty {
                    for _ in 0..<copies { enqueue(bytes, id, port) }
                } else {
                    let frame = SwitchFrame(bytes: bytes, vid: vid, tagged: wantTag)
                    for _ in 0..<copies { port.egress!.held.append((release, frame)) }
                    markDelayed(id, port)
                }
            }
            return
        }
        enqueue(bytes, id, port)
    }

    @inline(__always)
    private func enqueue(_ bytes: ArraySlice<UInt8>, _ id: PortID, _ port: Port) {
        guard port.queue.count < port.settings.queueFrames,
            port.queuedBytes + bytes.count <= port.settings.queueBytes
        else { return port.counters.drop(.queueFull) }
        port.queue.append(bytes)
        port.queuedBytes += bytes.count
        if !port.isReady {
            port.isReady = true
            ready.append(id)
        }
        if !port.isPressured && !port.isStalled
            && (port.queue.count * 2 >= port.settings.queueFrames
                || port.queuedBytes * 2 >= port.settings.queueBytes)
        {
            port.isPressured = true
            pressured.append(id)
        }
        if port.isPressured { pressureHits.append(id) }
    }

    // MARK: Backpressure

    /// Whether any port's queue is at least half full (and the port is not stalled).
    public var hasPressure: Bool { !pressured.isEmpty }

    public func isPressured(_ id: PortID) -> Bool { port(id)?.isPressured ?? false }

    public func isStalled(_ id: PortID) -> Bool { port(id)?.isStalled ?? false }

    /// A stalled port exerts no pressure: frames beyond its queue are tail-dropped. Unstalling it lets it
    /// slow lossless senders again.
    public func setStalled(_ id: PortID, _ stalled: Bool) {
        guard let port = port(id) else { return }
        port.isStalled = stalled
        if stalled { relieve(id, port) }
    }

    private func relieve(_ id: PortID, _ port: Port) {
        guard port.isPressured else { return }
        port.isPressured = false
        pressured.removeAll { $0 == id }
    }

    private func markDelayed(_ id: PortID, _ port: Port) {
        if !port.isDelayed {
            port.isDelayed = true
            delayed.insert(id)
        }
    }

    // MARK: Egress

    /// Ports that gained queued frames since the last call, each once.
    public func takeReadyPorts() -> [PortID] {
        let out = ready
        ready.removeAll(keepingCapacity: true)
        for id in out { port(id)?.isReady = false }
        return out
    }

    /// Every frame queued for port `id`, in order, counted as sent.
    public func takeEgress(_ id: PortID) -> ArraySlice<ArraySlice<UInt8>> {
        guard let port = port(id), !port.queue.isEmpty else { return [] }
        let frames = port.queue.drain()
        port.counters.txFrames += UInt64(frames.count)
        port.counters.txBytes += UInt64(port.queuedBytes)
        port.queuedBytes = 0
        relieve(id, port)
        return frames
    }

    // MARK: Time

    /// The earliest time a held frame is due, if any.
    public var nextDeadline: UInt64? {
        var best: UInt64? = nil
        for id in delayed {
            guard let port = port(id) else { continue }
            for head in [port.ingress?.held.first?.release, port.egress?.held.first?.release] {
                if let head, best == nil || head < best! { best = head }
            }
        }
        return best
    }

    /// Moves every held frame whose time has come.
    public func advance(now: UInt64) {
        for id in delayed.sorted() {
            guard let port = port(id) else { continue }
            while let head = port.ingress?.held.first, head.release <= now {
                _ = port.ingress!.held.removeFirst()
                if port.linkUp { forward(head.frame, from: id, port: port, now: now) }
            }
            while let head = port.egress?.held.first, head.release <= now {
                _ = port.egress!.held.removeFirst()
                if port.linkUp { enqueue(head.frame.bytes, id, port) } else { port.counters.drop(.linkDown) }
            }
            if (port.ingress?.held.isEmpty ?? true) && (port.egress?.held.isEmpty ?? true) {
                port.isDelayed = false
                delayed.remove(id)
            }
        }
    }

    // MARK: Inspection

    public struct MACTableEntry: Equatable, Sendable {
        public var mac: MACAddress
        public var vid: UInt16
        public var port: PortID
        public var ageNs: UInt64
    }

    /// Learned addresses still valid at `now`, sorted by VLAN then address.
    public func macEntries(now: UInt64) -> [MACTableEntry] {
        macTable.compactMap { key, entry in
            let age = now &- entry.seen
            guard age <= macAgeingNs else { return nil }
            return MACTableEntry(
                mac: MACAddress(rawValue: key & 0xFFFF_FFFF_FFFF), vid: UInt16(key >> 48), port: entry.port, ageNs: age)
        }.sorted { ($0.vid, $0.mac) < ($1.vid, $1.mac) }
    }

    /// Forgets every learned address.
    public func flushMACTable() { macTable.removeAll() }
}
