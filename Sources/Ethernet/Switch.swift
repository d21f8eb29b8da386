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
    /// At most this many learned addresses; a new source beyond it evicts the least recently seen address
    /// (counted `macTableFull` on the port that learned).
    /// Fixed when the switch is made: the table's storage is allocated once at this size.
    public let macTableLimit: Int
    /// At most this many learned addresses per port; a port's further new sources are not learned (the frame is
    /// still forwarded) and are counted `macLimit`, so one port flooding random sources cannot push every other
    /// port's stations out of the table.
    public var macLimitPerPort: Int
    /// At most this many bytes of frames held by one port's impairment in one direction (delay, jitter, shaper
    /// backlog); further frames are dropped as `impairmentFull` until held ones leave.
    public var impairmentHeldBytes: Int

    final class Port {
        var settings: PortSettings { didSet { cacheSettings() } }
        /// Plain copies of the settings the forwarding path reads for every frame (reading the settings struct
        /// itself copies its name and VLAN set, a retain and release each). -1: a trunk port.
        private(set) var accessVID: Int32 = 1
        private(set) var isolated = false
        private(set) var queueFrames = 0
        private(set) var queueBytes = 0
        var counters = PortCounters()
        /// Addresses learned on this port now in the table.
        var learnedMACs = 0
        var linkUp = true
        var ingress: ImpairmentStage?
        var egress: ImpairmentStage?
        var queue = EgressQueue()
        var queuedBytes = 0
        var isReady = false
        var isDelayed = false
        /// The queue is at least half full: lossless senders should pause until it is written out.
        var isPressured = false
        /// The port stopped reading for longer than senders wait: it exerts no pressure and tail-drops.
        var isStalled = false
        /// The longest frame its transport can carry (`setEgressFrameLimit`); longer ones are counted `oversize`.
        var maxEgressFrame = Int.max

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

    private var ports: [Port?] = [] {
        didSet { borrowed = ports.map { $0.map(Unmanaged.passUnretained) } }
    }
    /// The same ports, unretained, for the forwarding path: a port is owned by `ports` for as long as it is in
    /// the switch, and a strong reference taken per frame costs a retain and a release.
    private var borrowed: [Unmanaged<Port>?] = []
    private var freeIDs: [Int] = []
    private var activeIDs: [PortID] = []
    private let macTable: MACTable
    /// One-entry caches of table slots for the latest source and destination keys: a stream of frames between
    /// the same two hosts then costs no hashing. A cached slot is used only while it still holds its key.
    private var sourceSlot = MACTable.none
    private var destinationSlot = MACTable.none
    /// The latest known-unicast decision of an untagged frame between access ports (`Flow`).
    private var flow = Flow()
    /// Whether a frame with the latest flow's header reuses its decision; off only in tests, which compare both.
    var repeatsFlows = true
    private var random: SplitMix64
    private var ready: [PortID] = []
    private var delayed: Set<PortID> = []
    private var pressured: [PortID] = []
    /// Pressured ports the frames of the latest `receive` were queued to.
    public private(set) var pressureHits: [PortID] = []
    /// Whether the latest `receive` queued a frame to a pressured port (`pressureHits` is not empty).
    /// Inlinable: the stream ports ask after every frame.
    @inlinable
    public var hasPressureHits: Bool { !pressureHits.isEmpty }
    /// Frames forwarded (each copy a port received counts once).
    public private(set) var forwardedFrames: UInt64 = 0
    public private(set) var floodedFrames: UInt64 = 0

    public static let defaultMACAgeingNs: UInt64 = 300_000_000_000
    public static let defaultMACTableLimit = 8192
    public static let defaultMACLimitPerPort = 4096
    public static let defaultImpairmentHeldBytes = 16 << 20

    public init(
        name: String, mtu: Int = 1500, macAgeingNs: UInt64 = Switch.defaultMACAgeingNs,
        macTableLimit: Int = Switch.defaultMACTableLimit, macLimitPerPort: Int = Switch.defaultMACLimitPerPort,
        impairmentHeldBytes: Int = Switch.defaultImpairmentHeldBytes, seed: UInt64 = 0x5EED
    ) {
        self.name = name
        self.mtu = mtu
        self.macAgeingNs = macAgeingNs
        self.macTableLimit = macTableLimit
        self.macLimitPerPort = macLimitPerPort
        self.impairmentHeldBytes = impairmentHeldBytes
        random = SplitMix64(seed: seed)
        macTable = MACTable(seed: random.next(), capacity: macTableLimit)
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
        macTable.removeAll { $0.port == id }
        delayed.remove(id)
        ready.removeAll { $0 == id }
        pressured.removeAll { $0 == id }
    }

    public var portIDs: [PortID] { activeIDs }

    public func settings(of id: PortID) -> PortSettings? { port(id)?.settings }
    public func counters(of id: PortID) -> PortCounters? { port(id)?.counters }
    public func isLinkUp(_ id: PortID) -> Bool { port(id)?.linkUp ?? false }
    public func queuedFrames(of id: PortID) -> Int { port(id)?.queue.count ?? 0 }

    /// Frames queued to port `id` are laid out behind a `width`-byte length (0, 2 or 4), as its transport writes
    /// them (`EgressQueue`). Set when the port's transport is attached; frames already queued are kept.
    public func setEgressPrefix(_ id: PortID, width: Int) {
        guard let port = port(id), port.queue.prefixWidth != width else { return }
        var queue = EgressQueue(prefixWidth: width)
        for frame in port.queue { queue.append(frame) }
        port.queue = queue
    }
    /// Frames longer than `limit` cannot leave through port `id` (a 2-byte VDE length, one UDP datagram): they are
    /// not queued and are counted `oversize` on that port, not sent and lost. Set when its transport is attached.
    public func setEgressFrameLimit(_ id: PortID, _ limit: Int) { port(id)?.maxEgressFrame = limit }

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
            forgetMACs(of: id, port)
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

    /// Counts a frame taken from port `id`'s queue (and counted sent) that its transport then refused, as a drop
    /// for `reason`; it stays counted sent when the transport still sent it to another destination (`sentElsewhere`:
    /// a VXLAN port sends each frame to several hosts).
    public func countRefusedEgress(_ reason: DropReason, on id: PortID, bytes: Int, sentElsewhere: Bool = false) {
        guard let port = port(id) else { return }
        if !sentElsewhere {
            port.counters.txFrames &-= 1
            port.counters.txBytes &-= UInt64(bytes)
        }
        port.counters.drop(reason)
    }

    @inline(__always)
    private func port(_ id: PortID) -> Port? {
        id.rawValue >= 0 && id.rawValue < ports.count ? ports[id.rawValue] : nil
    }

    // MARK: Ingress

    /// A frame arrived from port `id`.
    public func receive(_ bytes: ArraySlice<UInt8>, from id: PortID, now: UInt64) {
        bytes.withUnsafeBytes { receive($0, from: id, now: now) }
    }

    /// A frame arrived from port `id`, in memory the caller owns (a stream port's read buffer): read during the
    /// call only. Whatever the switch keeps — queued frames, frames held by an impairment — is copied, so the
    /// caller may reuse the memory at once; nothing is reference counted per frame.
    public func receive(_ bytes: UnsafeRawBufferPointer, from id: PortID, now: UInt64) {
        if !pressureHits.isEmpty { pressureHits.removeAll(keepingCapacity: true) }
        guard id.rawValue >= 0 && id.rawValue < borrowed.count, let port = borrowed[id.rawValue] else { return }
        // SAFETY: `ports` owns every port in `borrowed` and nothing below removes one.
        port._withUnsafeGuaranteedRef { port in
            // Checked here, before the full path's call: most frames of a run end in `repeatFlow`.
            if flow.source == id && bytes.count >= EthernetHeader.length && repeatsFlows
                && repeatFlow(bytes, from: id, port: port, now: now)
            {
                return
            }
            receive(bytes, from: id, port: port, now: now)
        }
    }

    private func receive(_ bytes: UnsafeRawBufferPointer, from id: PortID, port: Port, now: UInt64) {
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
            // A second tag behind the priority tag (or an 802.1ad tag in place of one) would be exposed to
            // VLAN-aware devices once the outer tag is removed: VLAN hopping (ethernet.md §4.7).
            guard !EthernetHeader.isTagType(EthernetHeader.u16(bytes, at: tagged ? 16 : 12)) else {
                return port.counters.drop(.nestedTag)
            }
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
            switch port.ingress!.admit(length: bytes.count, now: now, heldLimit: impairmentHeldBytes, random: &random) {
            case .lost: return port.counters.drop(.impairmentLoss)
            case .overBacklog: return port.counters.drop(.rateLimit)
            case .full: return port.counters.drop(.impairmentFull)
            case .pass(let copies, let release):
                if release <= now && port.ingress!.held.isEmpty {
                    for _ in 0..<copies { forward(bytes, vid: vid, tagged: tagged, from: id, port: port, now: now) }
                } else {
                    // Held past this call: a copy of its own (the caller's memory is lent for the call only).
                    let frame = SwitchFrame(bytes: Array(bytes)[...], vid: vid, tagged: tagged)
                    for _ in 0..<copies { port.ingress!.hold(frame, until: release) }
                    markDelayed(id, port)
                }
            }
            return
        }
        let sourceMAC = MACAddress(bytes, at: 6)
        if !sourceMAC.isGroup { learn(sourceMAC.rawValue | UInt64(vid) << 48, id, port, now) }
        dispatch(bytes, vid: vid, tagged: tagged, from: id, port: port, now: now, remember: !tagged)
    }

    /// What a stream sender such as QEMU writes most: runs of frames between the same two stations. A frame whose
    /// addresses and type equal those of the latest frame `dispatch` sent to one known port (`flow`) skips
    /// parsing, VLAN classification and the destination's VLAN and tag checks, which depend only on those bytes
    /// and on the ports' settings, re-read here. Everything else is done per frame as for any frame: counting,
    /// learning, the destination's table entry (it may have moved, aged or been flushed), link, isolation,
    /// impairments and the queue. False, with nothing done, when the frame must take the full path.
    @inline(__always)
    private func repeatFlow(_ bytes: UnsafeRawBufferPointer, from id: PortID, port: Port, now: UInt64) -> Bool {
        // SAFETY: the caller checked that the frame has its 14 header bytes; bytes 0..<14 (destination, source,
        // type) are read in two overlapping loads.
        guard bytes.loadUnaligned(as: UInt64.self) == flow.head,
            bytes.loadUnaligned(fromByteOffset: 6, as: UInt64.self) == flow.tail,
            port.accessVID == flow.vid, port.linkUp, port.ingress == nil,
            bytes.count <= mtu + EthernetHeader.length
        else { return false }
        port.counters.rxFrames += 1
        port.counters.rxBytes += UInt64(bytes.count)
        learn(flow.sourceKey, id, port, now)
        let vid = UInt16(truncatingIfNeeded: flow.vid)
        guard let entry = destinationEntry(flow.destinationKey), entry.port == flow.target,
            now &- entry.seen <= macAgeingNs, entry.port.rawValue < borrowed.count,
            let target = borrowed[entry.port.rawValue]
        else {
            dispatch(bytes, vid: vid, tagged: false, from: id, port: port, now: now, remember: true)
            return true
        }
        // SAFETY: `ports` owns every port in `borrowed` and nothing below removes one.
        target._withUnsafeGuaranteedRef { target in
            guard target.accessVID == flow.vid, target.linkUp, target.egress == nil, !(port.isolated && target.isolated)
            else { return dispatch(bytes, vid: vid, tagged: false, from: id, port: port, now: now, remember: true) }
            forwardedFrames += 1
            enqueue(bytes, entry.port, target)
        }
        return true
    }

    /// A stream read's records, each frame behind a `prefixWidth`-byte big-endian length (2 or 4), from port `id`:
    /// switches the longest leading run of whole frames, at most `limit` and each at most `maxLength` long, that
    /// repeat the latest flow (`repeatFlow`) to a port whose queue lays frames out behind the same prefix, and
    /// queues the run with one copy of its records. Each frame of the run is counted and switched as `receive`
    /// switches it: one call has one time, so the source's refresh, the destination's table entry, both ports'
    /// links, settings and impairments and their isolation are the same for every frame, and the run ends before
    /// a frame that would find the destination's queue full or leave it pressured, which `receive` then takes.
    /// Returns the frames and the bytes of records switched: (0, 0) when the first record does not start such a
    /// run (the caller hands it to `receive`). What QEMU writes during a transfer is such runs: each frame's
    /// decision, counting and copy then cost one load per frame where `repeatFlow` costs a call and a copy.
    public func receiveRun(
        _ records: UnsafeRawBufferPointer, prefixWidth: Int, limit: Int, maxLength: Int, from id: PortID, now: UInt64
    ) -> (frames: Int, bytes: Int) {
        guard repeatsFlows, flow.source == id, prefixWidth == 2 || prefixWidth == 4, limit > 0,
            records.count >= prefixWidth + EthernetHeader.length,
            id.rawValue >= 0, id.rawValue < borrowed.count, let source = borrowed[id.rawValue],
            flow.target.rawValue >= 0, flow.target.rawValue < borrowed.count,
            let destination = borrowed[flow.target.rawValue]
        else { return (0, 0) }
        // SAFETY: `ports` owns every port in `borrowed` and nothing below removes one.
        return source._withUnsafeGuaranteedRef { port in
            destination._withUnsafeGuaranteedRef { target in
                // What `repeatFlow` checks per frame that does not depend on a frame's bytes past its header, and
                // the source's refresh being the cached slot's (`learn`'s first case, which repeats as a no-op).
                guard port.accessVID == flow.vid, port.linkUp, port.ingress == nil,
                    target.accessVID == flow.vid, target.linkUp, target.egress == nil,
                    !(port.isolated && target.isolated), target.queue.prefixWidth == prefixWidth, !target.isPressured,
                    sourceSlot != MACTable.none, macTable[sourceSlot].key == flow.sourceKey,
                    macTable[sourceSlot].port == id,
                    let entry = destinationEntry(flow.destinationKey), entry.port == flow.target,
                    now &- entry.seen <= macAgeingNs
                else { return (0, 0) }
                let longest = min(maxLength, mtu + EthernetHeader.length, target.maxEgressFrame)
                let (head, tail) = (flow.head, flow.tail)
                var queuedFrames = target.queue.count
                var queuedBytes = target.queuedBytes
                var offset = 0
                var frames = 0
                var frameBytes = 0
                while frames < limit && records.count - offset >= prefixWidth {
                    // SAFETY: `prefixWidth` bytes are left at `offset` (the loop's condition); the header's two
                    // loads are inside the frame, which is whole and at least a header long (checked before them).
                    let length = StreamFraming.prefixedLength(in: records, at: offset, width: prefixWidth)
                    let start = offset + prefixWidth
                    guard length >= EthernetHeader.length, length <= longest, records.count - start >= length,
                        records.loadUnaligned(fromByteOffset: start, as: UInt64.self) == head,
                        records.loadUnaligned(fromByteOffset: start + 6, as: UInt64.self) == tail
                    else { break }
                    // `enqueue`'s room, and no pressure after this frame (a stalled port exerts none).
                    queuedFrames += 1
                    queuedBytes += length
                    guard queuedFrames <= target.queueFrames, queuedBytes <= target.queueBytes,
                        target.isStalled
                            || (queuedFrames * 2 < target.queueFrames && queuedBytes * 2 < target.queueBytes)
                    else { break }
                    offset = start + length
                    frames += 1
                    frameBytes += length
                }
                guard frames > 0 else { return (0, 0) }
                if !pressureHits.isEmpty { pressureHits.removeAll(keepingCapacity: true) }
                port.counters.rxFrames += UInt64(frames)
                port.counters.rxBytes += UInt64(frameBytes)
                macTable.touch(sourceSlot, port: id, now: now)
                forwardedFrames += UInt64(frames)
                target.queue.appendRecords(UnsafeRawBufferPointer(rebasing: records[..<offset]), count: frames)
                target.queuedBytes += frameBytes
                if !target.isReady {
                    target.isReady = true
                    ready.append(flow.target)
                }
                return (frames, offset)
            }
        }
    }

    private func forward(
        _ bytes: UnsafeRawBufferPointer, vid: UInt16, tagged: Bool, from id: PortID, port source: Port, now: UInt64
    ) {
        let sourceMAC = MACAddress(bytes, at: 6)
        if !sourceMAC.isGroup { learn(sourceMAC.rawValue | UInt64(vid) << 48, id, source, now) }
        dispatch(bytes, vid: vid, tagged: tagged, from: id, port: source, now: now, remember: false)
    }

    /// Sends a learned-from frame on: to its destination's port when known, else to every other port. With
    /// `remember` (an untagged frame from an access port, straight from `receive`), a decision for one access port
    /// of the same VLAN becomes `flow`.
    private func dispatch(
        _ bytes: UnsafeRawBufferPointer, vid: UInt16, tagged: Bool, from id: PortID, port source: Port, now: UInt64,
        remember: Bool
    ) {
        let destination = MACAddress(bytes, at: 0)
        let sourceMAC = MACAddress(bytes, at: 6)
        let vidKey = UInt64(vid) << 48
        var converted = Converted()
        defer { if converted.refusedNestedTag { source.counters.drop(.nestedTag) } }
        if !destination.isGroup, let entry = destinationEntry(destination.rawValue | vidKey),
            now &- entry.seen <= macAgeingNs, entry.port.rawValue < borrowed.count,
            let target = borrowed[entry.port.rawValue]
        {
            // Known unicast: never back out of the port it came from.
            guard entry.port != id else { return }
            // SAFETY: `ports` owns every port in `borrowed` and nothing below removes one.
            target._withUnsafeGuaranteedRef { target in
                if remember && !sourceMAC.isGroup && source.accessVID >= 0 && target.accessVID == source.accessVID {
                    // SAFETY: a frame reaching here has its 14 header bytes (`receive` drops runts).
                    flow = Flow(
                        head: bytes.loadUnaligned(as: UInt64.self),
                        tail: bytes.loadUnaligned(fromByteOffset: 6, as: UInt64.self), source: id,
                        vid: source.accessVID, sourceKey: sourceMAC.rawValue | vidKey,
                        destinationKey: destination.rawValue | vidKey, target: entry.port)
                }
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
        if sourceSlot != MACTable.none && macTable[sourceSlot].key == key && macTable[sourceSlot].port == id {
            return macTable.touch(sourceSlot, port: id, now: now)
        }
        // A full table: what a new source would evict is read before the lookup, so the two overlap.
        let victim = macTable.count >= macTable.capacity ? macTable.nextVictim() : nil
        if let slot = macTable.slot(for: key) {
            let previous = macTable[slot].port
            if previous != id {
                // The station moved: it now counts against its new port's limit.
                guard port.learnedMACs < macLimitPerPort else { return port.counters.drop(.macLimit) }
                if let old = self.port(previous) { old.learnedMACs -= 1 }
                port.learnedMACs += 1
            }
            macTable.touch(slot, port: id, now: now)
            sourceSlot = slot
            return
        }
        guard port.learnedMACs < macLimitPerPort else { return port.counters.drop(.macLimit) }
        port.learnedMACs += 1
        guard macTable.count >= macTable.capacity else {
            sourceSlot = macTable.insert(key, port: id, now: now)
            return
        }
        // Full: the least recently seen address makes room, its slot taken over by the new one (O(1)); counted
        // when it had not aged out.
        guard let victim else {
            port.learnedMACs -= 1
            return port.counters.drop(.macTableFull)
        }
        // A port already holding its share of the table (its size over the segment's ports) makes room only from its
        // own addresses or aged ones: each port's limit bounds one flooder, but two flooding together filled the
        // table and pushed every other port's stations out, their unicast then flooded to every port.
        let oldest = macTable[victim.slot]
        if oldest.port != id && now &- oldest.seen <= macAgeingNs
            && port.learnedMACs - 1 >= macTable.capacity / max(1, activeIDs.count)
        {
            port.learnedMACs -= 1
            return port.counters.drop(.macTableFull)
        }
        let evicted = macTable.replace(victim, with: key, port: id, now: now)
        sourceSlot = victim.slot
        if evicted.port == id {
            port.learnedMACs -= 1
        } else if evicted.port.rawValue < borrowed.count, let owner = borrowed[evicted.port.rawValue] {
            // SAFETY: `ports` owns every port in `borrowed`; removing a port forgets its addresses first.
            owner._withUnsafeGuaranteedRef { $0.learnedMACs -= 1 }
        }
        if now &- evicted.seen <= macAgeingNs { port.counters.drop(.macTableFull) }
    }

    /// The entry for `key`, through the one-entry cache.
    @inline(__always)
    private func destinationEntry(_ key: UInt64) -> MACTable.Slot? {
        if destinationSlot != MACTable.none && macTable[destinationSlot].key == key {
            return macTable[destinationSlot]
        }
        guard let slot = macTable.slot(for: key) else { return nil }
        destinationSlot = slot
        return macTable[slot]
    }

    /// Forgets addresses not seen within the ageing time.
    public func purgeAged(now: UInt64) {
        macTable.removeAll { entry in
            guard now &- entry.seen > macAgeingNs else { return false }
            port(entry.port)?.learnedMACs -= 1
            return true
        }
    }

    private func forgetMACs(of id: PortID, _ port: Port) {
        macTable.removeAll { $0.port == id }
        port.learnedMACs = 0
    }

    /// Addresses learned on port `id` now in the table (at most `macLimitPerPort`).
    public func learnedMACs(of id: PortID) -> Int { port(id)?.learnedMACs ?? 0 }

    /// A remembered forwarding decision (`repeatFlow`): a frame from access port `source` whose first 14 bytes are
    /// `head` (bytes 0..<8) and `tail` (bytes 6..<14) was untagged, of VLAN `vid`, and went to `target` alone.
    /// Only what follows from those bytes and `vid` is kept; the rest is checked again per frame.
    private struct Flow {
        var head: UInt64 = 0
        var tail: UInt64 = 0
        var source = PortID(rawValue: -1)
        var vid: Int32 = -1
        var sourceKey: UInt64 = 0
        var destinationKey: UInt64 = 0
        var target = PortID(rawValue: -1)
    }

    /// Re-tagged or untagged copies of a frame, each built at most once per forward (a flood may need both).
    /// Empty when every egress port takes the frame as it arrived, which is the common case.
    private struct Converted {
        var untagged: ArraySlice<UInt8>?
        var tagged: ArraySlice<UInt8>?
        /// A copy was not sent untagged because its payload starts with a tag (ethernet.md §4.7).
        var refusedNestedTag = false
    }

    /// The frame as a port wants it when that differs from the received bytes (nil when their tagging already
    /// fits, the common case): a re-tagged or untagged copy, built at most once per forward.
    @inline(__always)
    private static func convertedBytes(
        _ bytes: UnsafeRawBufferPointer, vid: UInt16, tagged: Bool, wantTag: Bool, _ converted: inout Converted
    ) -> ArraySlice<UInt8>? {
        if wantTag {
            // A priority-only or foreign tag is rewritten to carry the classified VLAN.
            if tagged && EthernetHeader.u16(bytes, at: 14) & 0x0FFF == vid { return nil }
            if let built = converted.tagged { return built }
            let received = Array(bytes)[...]
            let base = tagged ? VLANTagging.pop(received)[...] : received
            let built = VLANTagging.push(base, vid: vid)[...]
            converted.tagged = built
            return built
        }
        if !tagged { return nil }
        if let built = converted.untagged { return built }
        let built = VLANTagging.pop(Array(bytes)[...])[...]
        converted.untagged = built
        return built
    }

    private func deliver(
        _ frameBytes: UnsafeRawBufferPointer, vid: UInt16, tagged: Bool, _ converted: inout Converted, to id: PortID,
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
        // Never untagged with a tag at the start of the payload: a device behind the port would take that inner
        // tag as the frame's VLAN (ethernet.md §4.7).
        if !wantTag && EthernetHeader.isTagType(EthernetHeader.u16(frameBytes, at: tagged ? 16 : 12)) {
            converted.refusedNestedTag = true
            return
        }
        if let built = Switch.convertedBytes(frameBytes, vid: vid, tagged: tagged, wantTag: wantTag, &converted) {
            built.withUnsafeBytes { egress($0, vid: vid, wantTag: wantTag, to: id, port: port, now: now) }
        } else {
            egress(frameBytes, vid: vid, wantTag: wantTag, to: id, port: port, now: now)
        }
    }

    /// One copy of a frame leaves through port `id` (after its egress impairment, if any).
    @inline(__always)
    private func egress(
        _ bytes: UnsafeRawBufferPointer, vid: UInt16, wantTag: Bool, to id: PortID, port: Port, now: UInt64
    ) {
        forwardedFrames += 1
        if port.egress != nil {
            switch port.egress!.admit(length: bytes.count, now: now, heldLimit: impairmentHeldBytes, random: &random) {
            case .lost: return port.counters.drop(.impairmentLoss)
            case .overBacklog: return port.counters.drop(.rateLimit)
            case .full: return port.counters.drop(.impairmentFull)
            case .pass(let copies, let release):
                if release <= now && port.egress!.held.isEmpty {
                    for _ in 0..<copies { enqueue(bytes, id, port) }
                } else {
                    let frame = SwitchFrame(bytes: Array(bytes)[...], vid: vid, tagged: wantTag)
                    for _ in 0..<copies { port.egress!.hold(frame, until: release) }
                    markDelayed(id, port)
                }
            }
            return
        }
        enqueue(bytes, id, port)
    }

    /// `receiveRun` applies the same room and pressure rules to a run: a rule added here goes there too.
    @inline(__always)
    private func enqueue(_ bytes: UnsafeRawBufferPointer, _ id: PortID, _ port: Port) {
        // A 2-byte length (VDE) cannot say more than 65535: such a frame would garble the stream (jumbo MTU).
        guard port.queue.prefixWidth != 2 || bytes.count <= 0xFFFF else { return port.counters.drop(.oversize) }
        guard bytes.count <= port.maxEgressFrame else { return port.counters.drop(.oversize) }
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
        var out: [PortID] = []
        takeReadyPorts(into: &out)
        return out
    }

    /// As `takeReadyPorts()`, into `ports`, whose storage is reused (nothing allocated per pass).
    public func takeReadyPorts(into ports: inout [PortID]) {
        ports.removeAll(keepingCapacity: true)
        swap(&ports, &ready)
        for id in ports { port(id)?.isReady = false }
    }

    /// Every frame queued for port `id`, in order, counted as sent: `body` hands them to the transport while the
    /// switch keeps their storage for the next pass (nothing is allocated per pass). Frames queued to the port
    /// meanwhile (from within `body`) wait for the next call. Nil when nothing was queued.
    @discardableResult
    public func takeEgress<R>(_ id: PortID, _ body: (EgressQueue) -> R) -> R? {
        guard let port = port(id), !port.queue.isEmpty else { return nil }
        var taken = EgressQueue(prefixWidth: port.queue.prefixWidth)
        swap(&taken, &port.queue)
        port.counters.txFrames += UInt64(taken.count)
        port.counters.txBytes += UInt64(port.queuedBytes)
        port.queuedBytes = 0
        relieve(id, port)
        let result = body(taken)
        if port.queue.isEmpty && taken.isWorthKeeping {
            taken.removeAll(keepingCapacity: true)
            swap(&taken, &port.queue)
        }
        return result
    }

    /// Every frame queued for port `id`, in order, counted as sent (copies, for inspection and tests).
    public func takeEgress(_ id: PortID) -> [ArraySlice<UInt8>] {
        takeEgress(id) { Array($0) } ?? []
    }

    // MARK: Time

    /// Whether any port holds frames back (delay, jitter or rate impairments): without, `nextDeadline` is nil.
    @inline(__always)
    public var holdsFrames: Bool { !delayed.isEmpty }

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
                _ = port.ingress!.releaseFirst()
                if port.linkUp {
                    let frame = head.frame
                    frame.bytes.withUnsafeBytes { bytes in
                        forward(bytes, vid: frame.vid, tagged: frame.tagged, from: id, port: port, now: now)
                    }
                }
            }
            while let head = port.egress?.held.first, head.release <= now {
                _ = port.egress!.releaseFirst()
                if port.linkUp {
                    head.frame.bytes.withUnsafeBytes { enqueue($0, id, port) }
                } else {
                    port.counters.drop(.linkDown)
                }
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
        macEntriesBySeen(now: now).sorted { ($0.vid, $0.mac) < ($1.vid, $1.mac) }
    }

    /// Learned addresses still valid at `now`, least recently seen first (the order evictions take them).
    public func macEntriesBySeen(now: UInt64) -> [MACTableEntry] {
        macTable.entries.compactMap { entry in
            let age = now &- entry.seen
            guard age <= macAgeingNs else { return nil }
            return MACTableEntry(
                mac: MACAddress(rawValue: entry.key & 0xFFFF_FFFF_FFFF), vid: UInt16(entry.key >> 48),
                port: entry.port, ageNs: age)
        }
    }

    /// Forgets every learned address.
    public func flushMACTable() {
        macTable.removeAll()
        for case let port? in ports { port.learnedMACs = 0 }
        sourceSlot = MACTable.none
        destinationSlot = MACTable.none
    }
}
