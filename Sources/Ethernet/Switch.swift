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
        var settings: PortSettings { didSet { cacheSettings() } }
        /// Plain copies of the settings the forwarding path reads for every frame (reading the settings struct
        /// itself copies its name and VLAN set, a retain and release each). -1: a trunk port.
        private(set) var accessVID: Int32 = 1
        private(set) var isolated = false
        private(set) var queueFrames = 0
        private(set) var queueBytes = 0
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

        init(settings: PortSettings) {
            self.settings = settings
            cacheSettings()
        }

        private func cacheSettings() {
            if case .access(let vid) = settings.vlan { accessVID = Int32(vid) } else { accessVID = -1 }
            isolated = settings.isolated
            queueFrames = settings.queueFrames
            queueBytes = settings.queueBytes
        }
    }

    struct MACEntry {
        var port: PortID
        var seen: UInt64
    }

    private var ports: [Port?] = [] {
        didSet { borrowed = ports.map { $0.map(Unmanaged.passUnretained) } }
    }
    /// The same ports, unretained, for the forwarding path: a port is owned by `ports` for as long as it is in
    /// the switch, and a strong reference taken per frame costs a retain and a release.
    private var borrowed: [Unmanaged<Port>?] = []
    private var freeIDs: [Int] = []
    private var activeIDs: [PortID] = []
    /// Every insert or removal must be followed by `forgetCachedSlots()`: the caches below hold its indices.
    private var macTable: [UInt64: MACEntry] = [:]
    /// One-entry caches of table slots for the latest source and destination keys: a stream of frames between
    /// the same two hosts then costs no hashing. Updating an entry's value in place keeps indices valid.
    private var sourceSlotKey = UInt64.max
    private var sourceSlot: Dictionary<UInt64, MACEntry>.Index?
    private var destinationSlotKey = UInt64.max
    private var destinationSlot: Dictionary<UInt64, MACEntry>.Index?
    private var random: SplitMix64
    private var ready: [PortID] = []
    private var delayed: Set<PortID> = []
    private var pressured: [PortID] = []
    /// Pressured ports the frames of the latest `receive` were queued to.
    public private(set) var pressureHits: [PortID] = []
    /// Whether the latest `receive` queued a frame to a pressured port (`pressureHits` is not empty).
    public var hasPressureHits: Bool { !pressureHits.isEmpty }
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
        forgetCachedSlots()
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
            forgetCachedSlots()
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
        guard id.rawValue >= 0 && id.rawValue < borrowed.count, let port = borrowed[id.rawValue] else { return }
        // SAFETY: `ports` owns every port in `borrowed` and nothing below removes one.
        port._withUnsafeGuaranteedRef { receive(bytes, from: id, port: $0, now: now) }
    }

    private func receive(_ bytes: ArraySlice<UInt8>, from id: PortID, port: Port, now: UInt64) {
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
        if port.accessVID >= 0 {
            guard tagVID == nil || tagVID == 0 else { return port.counters.drop(.vlan) }
            vid = UInt16(port.accessVID)
        } else if case .trunk(let allowed, let native) = port.settings.vlan {
            if let tagVID, tagVID != 0 {
                guard allowed?.contains(tagVID) ?? true else { return port.counters.drop(.vlan) }
                vid = tagVID
            } else {
                guard let native else { return port.counters.drop(.vlan) }
                vid = native
            }
        } else {
            return port.counters.drop(.vlan)
        }
        if port.ingress != nil {
            let frame = SwitchFrame(bytes: bytes, vid: vid, tagged: tagged)
            switch port.ingress!.admit(length: bytes.count, now: now, random: &random) {
            case .lost: return port.counters.drop(.impairmentLoss)
            case .overBacklog: return port.counters.drop(.rateLimit)
            case .pass(let copies, let release):
                if release <= now && port.ingress!.held.isEmpty {
                    for _ in 0..<copies { forward(bytes, vid: vid, tagged: tagged, from: id, port: port, now: now) }
                } else {
                    for _ in 0..<copies { port.ingress!.held.append((release, frame)) }
                    markDelayed(id, port)
                }
            }
            return
        }
        forward(bytes, vid: vid, tagged: tagged, from: id, port: port, now: now)
    }

    private func forward(
        _ bytes: ArraySlice<UInt8>, vid: UInt16, tagged: Bool, from id: PortID, port source: Port, now: UInt64
    ) {
        let destination = MACAddress(bytes, at: 0)
        let sourceMAC = MACAddress(bytes, at: 6)
        let vidKey = UInt64(vid) << 48
        if !sourceMAC.isGroup { learn(sourceMAC.rawValue | vidKey, id, source, now) }
        var converted = Converted()
        if !destination.isGroup, let entry = destinationEntry(destination.rawValue | vidKey),
            now &- entry.seen <= macAgeingNs, entry.port.rawValue < borrowed.count,
            let target = borrowed[entry.port.rawValue]
        {
            // Known unicast: never back out of the port it came from.
            guard entry.port != id else { return }
            // SAFETY: `ports` owns every port in `borrowed` and nothing below removes one.
            target._withUnsafeGuaranteedRef { target in
                if source.isolated && target.isolated { return }
                deliver(bytes, vid: vid, tagged: tagged, &converted, to: entry.port, port: target, now: now)
            }
            return
        }
        floodedFrames += 1
        for other in activeIDs where other != id {
            guard let target = borrowed[other.rawValue] else { continue }
            // SAFETY: as above.
            target._withUnsafeGuaranteedRef { target in
                if source.isolated && target.isolated { return }
                deliver(bytes, vid: vid, tagged: tagged, &converted, to: other, port: target, now: now)
            }
        }
    }

    private func learn(_ key: UInt64, _ id: PortID, _ port: Port, _ now: UInt64) {
        if key == sourceSlotKey, let slot = sourceSlot, macTable.values[slot].port == id {
            macTable.values[slot].seen = now
            return
        }
        let slot = macTable.index(forKey: key)
        if let slot, macTable.values[slot].port == id {
            macTable.values[slot].seen = now
            sourceSlotKey = key
            sourceSlot = slot
            return
        }
        if slot == nil && macTable.count >= macTableLimit {
            purgeAged(now: now)
            if macTable.count >= macTableLimit { return port.counters.drop(.macTableFull) }
        }
        macTable[key] = MACEntry(port: id, seen: now)
        forgetCachedSlots()
    }

    /// The entry for `key`, through the one-entry cache.
    @inline(__always)
    private func destinationEntry(_ key: UInt64) -> MACEntry? {
        if key == destinationSlotKey, let slot = destinationSlot { return macTable.values[slot] }
        guard let slot = macTable.index(forKey: key) else { return nil }
        destinationSlotKey = key
        destinationSlot = slot
        return macTable.values[slot]
    }

    /// Forgets addresses not seen within the ageing time.
    public func purgeAged(now: UInt64) {
        macTable = macTable.filter { now &- $0.value.seen <= macAgeingNs }
        forgetCachedSlots()
    }

    private func forgetCachedSlots() {
        sourceSlotKey = .max
        sourceSlot = nil
        destinationSlotKey = .max
        destinationSlot = nil
    }

    /// Re-tagged or untagged copies of a frame, each built at most once per forward (a flood may need both).
    /// Empty when every egress port takes the frame as it arrived, which is the common case.
    private struct Converted {
        var untagged: ArraySlice<UInt8>?
        var tagged: ArraySlice<UInt8>?
    }

    /// The frame as a port wants it: the received bytes when their tagging already fits.
    @inline(__always)
    private static func egressBytes(
        _ bytes: ArraySlice<UInt8>, vid: UInt16, tagged: Bool, wantTag: Bool, _ converted: inout Converted
    ) -> ArraySlice<UInt8> {
        if wantTag {
            // A priority-only or foreign tag is rewritten to carry the classified VLAN.
            if tagged && EthernetHeader.u16(bytes, at: 14) & 0x0FFF == vid { return bytes }
            if let built = converted.tagged { return built }
            let base = tagged ? VLANTagging.pop(bytes)[...] : bytes
            let built = VLANTagging.push(base, vid: vid)[...]
            converted.tagged = built
            return built
        }
        if !tagged { return bytes }
        if let built = converted.untagged { return built }
        let built = VLANTagging.pop(bytes)[...]
        converted.untagged = built
        return built
    }

    private func deliver(
        _ frameBytes: ArraySlice<UInt8>, vid: UInt16, tagged: Bool, _ converted: inout Converted, to id: PortID,
        port: Port, now: UInt64
    ) {
        let wantTag: Bool
        if port.accessVID >= 0 {
            guard port.accessVID == Int32(vid) else { return }
            wantTag = false
        } else if case .trunk(let allowed, let native) = port.settings.vlan {
            if native == vid {
                wantTag = false
            } else {
                guard allowed?.contains(vid) ?? true else { return }
                wantTag = true
            }
        } else {
            return
        }
        guard port.linkUp else { return port.counters.drop(.linkDown) }
        let bytes = Switch.egressBytes(frameBytes, vid: vid, tagged: tagged, wantTag: wantTag, &converted)
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
        guard port.queue.count < port.queueFrames,
            port.queuedBytes + bytes.count <= port.queueBytes
        else { return port.counters.drop(.queueFull) }
        port.queue.append(bytes)
        port.queuedBytes += bytes.count
        if !port.isReady {
            port.isReady = true
            ready.append(id)
        }
        if !port.isPressured && !port.isStalled
            && (port.queue.count * 2 >= port.queueFrames || port.queuedBytes * 2 >= port.queueBytes)
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
                if port.linkUp {
                    let frame = head.frame
                    forward(frame.bytes, vid: frame.vid, tagged: frame.tagged, from: id, port: port, now: now)
                }
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
    public func flushMACTable() {
        macTable.removeAll()
        forgetCachedSlots()
    }
}
