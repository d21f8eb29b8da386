import DeviceKit
import Ethernet
import EthernetWire
import EventLoop
import HubSystem
import JSON
import PlatformConfig
import Wire

/// What a port's frames travel on: a stream peer, a UDP socket, a tap, VXLAN, a guest channel, or nothing.
protocol PortAttachment: AnyObject {
    /// False while the transport is backed up; the switch keeps (and tail-drops) frames meanwhile.
    var isWritable: Bool { get }
    /// Sends the frames of one pass (valid during the call only). Returns how many could not be handed to the
    /// transport.
    func send(_ frames: EgressQueue) -> Int
    /// Where the port listens and who is connected, for `eth.ports`.
    var stateJSON: JSONObject { get }
    func close()
}

/// QEMU `-netdev stream` or VDE stream listener: one peer at a time, as QEMU's own server does.
final class StreamAttachment: PortAttachment, EthernetSlicedReader {
    let framing: StreamFraming
    private var listener: (any StreamListener)?
    private var connection: (any ByteStream)?
    /// The framing's length prefix (4 bytes for QEMU, 2 for VDE) and the longest length accepted in it.
    private let framePrefixWidth: Int
    private let frameLimit: Int
    /// unowned(unsafe): the port owns its attachment (a checked reference costs a retain per frame).
    private unowned(unsafe) let port: EthernetPortRuntime
    private var refusedPeers: UInt64 = 0
    private var peers: UInt64 = 0
    /// Busy periods of earlier peers (`Connection.busyReadBytes`); the current peer's are its connection's.
    private var busyPeriods: UInt64 = 0
    /// Bytes read and not yet switched, copied out of the lent read buffer: the start of a frame the next read
    /// completes, or (`heldToSwitch`) the rest of a read left when the sender was paused or the pass's slice was
    /// used. Reading stops while anything waits to be switched, so this is at most one read and one frame.
    private var held: [UInt8] = []
    /// Where the unswitched bytes of `held` begin: a large read is switched a slice per pass by moving this
    /// offset, not by moving the rest of the read each pass. 0 whenever `held` is only a frame's start.
    private var heldStart = 0
    /// `held` must be switched before the peer is read again.
    private var heldToSwitch = false
    /// The pressured ports this sender waits for while paused.
    private(set) var waitingOn: [PortID] = []
    private var outBuffer: [UInt8] = []
    static let keptBufferBytes = 512 * 1024
    /// A large read can carry more frames than a queue holds: its segment is written out after this many.
    static let framesPerWriteOut = 256
    /// Admission (`Admission.swift`): one peer; with `ethernetStreamHandshakeMs`, its first frame is due in time.
    private let gate: AdmissionGate
    private var admission: AdmissionSlot?
    /// The peer has not sent a whole frame yet (its admission is pending): kept here so a read does not ask the
    /// slot (a retain and a call per read).
    private var awaitingFirstFrame = false
    /// This pass's share of the peer's input (`EthernetReadSlice`).
    var slice: EthernetReadSlice
    /// Receive coalescing for the current peer (`hub.limits.ethernetStreamCoalesceMicros`, ethernet.md §4.8): a
    /// read shorter than `coalesceBelowBytes` that carried at least `coalesceFrames` frames holds the next read
    /// this long; 0: never.
    private var coalesceNanos: UInt64 = 0
    private var coalesceFrames = Int.max
    private var coalesceBelowBytes = 0
    /// Reads held for coalescing by earlier peers; the current peer's are its connection's.
    private var readHolds: UInt64 = 0

    init(framing: StreamFraming, endpoint: Endpoint, port: EthernetPortRuntime, loop: Loop, maxFrame: Int)
        throws(LoopError)
    {
        self.framing = framing
        self.port = port
        framePrefixWidth = framing.prefixWidth.rawValue
        frameLimit = framing.makeFramer(maxFrameLength: maxFrame).maxFrameLength
        let host = port.segment.device.host!
        gate = host.admissionGate(
            "ethernet:\(port.segment.name)/\(port.config.name)",
            AdmissionPolicy(
                maxPending: 1, maxAuthenticated: 1, handshakeMs: host.limits.ethernetStreamHandshakeMs,
                idleMs: 0, pendingLimit: "one peer per stream port", authenticatedLimit: "one peer per stream port"))
        slice = port.segment.device.makeReadSlice()
        listener = try host.listen(on: endpoint, gate: gate) { [unowned self] connection in
            self.accept(connection)
        }
    }

    /// The connection's read callback holds this attachment unowned(unsafe): a closed connection delivers no read.
    deinit { connection?.close() }

    var boundEndpoint: Endpoint? { listener?.boundEndpoint }

    private func accept(_ newConnection: any ByteStream) {
        // A peer that went away with everything it sent switched may not have had its end reported yet (the new
        // peer's connection can be seen first in the same poll): the new peer takes over instead of being refused.
        if let current = connection, current.peerHasHungUp, !heldToSwitch, waitingOn.isEmpty { dropPeer() }
        guard connection == nil, case .success(let slot) = gate.admit(newConnection.kind) else {
            if connection != nil { gate.refuse(.tooManyClients) }
            refusedPeers += 1
            newConnection.close()
            return
        }
        admission = slot
        awaitingFirstFrame = slot.isPending
        slot.onDeadline = { [unowned self] _ in self.dropPeer() }
        peers += 1
        connection = newConnection
        held.removeAll()
        heldStart = 0
        heldToSwitch = false
        // SAFETY: unowned(unsafe): the attachment closes its connection (in `dropPeer` or `close`) before it goes,
        // and a closed connection delivers no read; a checked capture cost a retain and release per read.
        newConnection.onBytes = { [unowned(unsafe) self] chunk in self.received(chunk) }
        newConnection.onEnd = { [unowned self] _ in self.dropPeer() }
        newConnection.onWriteError = { [unowned self] _ in self.dropPeer() }
        newConnection.onLowWatermark = { [unowned self] in self.port.becameWritable() }
        // Congested early: a slow peer's delay is bounded by this plus its queue in the switch (ethernet.md §4.5).
        let limits = port.segment.device.host.limits
        newConnection.highWatermark = limits.ethernetStreamHighWatermarkBytes
        newConnection.lowWatermark = limits.ethernetStreamHighWatermarkBytes / 4
        // No read larger than one slice, so what waits unswitched between passes stays bounded (ethernet.md §4.8).
        newConnection.maxReadBytes = slice.readSize
        // A peer that keeps the socket full is read each pass outside the poll (ethernet.md §4.8).
        newConnection.busyReadBytes = limits.ethernetStreamBusyReadBytes > 0 ? limits.ethernetStreamBusyReadBytes : .max
        // A peer writing frames faster than it is read is read in batches, not a few frames per wake-up (§4.8).
        coalesceNanos = UInt64(limits.ethernetStreamCoalesceMicros) * 1000
        coalesceFrames = coalesceNanos > 0 ? limits.ethernetStreamCoalesceFrames : .max
        coalesceBelowBytes = limits.ethernetStreamCoalesceBelowBytes
        try? newConnection.startReading()
        port.setCarrier(true)
    }

    // MARK: Reading, one slice per pass

    /// A read, lent (the connection's read buffer, valid during this call only): its whole frames are switched
    /// straight from it; only what cannot be switched now is copied into `held` — the start of a frame the next
    /// read completes, or the rest of the read when the sender is paused or this pass's slice is used.
    private func received(_ chunk: UnsafeRawBufferPointer) {
        slice.countBytes(chunk.count)
        port.segment.device.noteRead(self)
        guard !heldToSwitch else {
            // Not expected (reading stops while `held` waits), but if it happens the bytes queue behind, in order.
            append(chunk)
            return updateReading()
        }
        var start = 0
        if !held.isEmpty {
            // Finish the frame the previous read began with only the bytes it misses (`held` is part of one frame).
            if held.count < framePrefixWidth {
                start = min(framePrefixWidth - held.count, chunk.count)
                append(UnsafeRawBufferPointer(rebasing: chunk[0..<start]))
                if held.count < framePrefixWidth { return updateReading() }
            }
            var length = 0
            for offset in 0..<framePrefixWidth { length = length << 8 | Int(held[offset]) }
            guard length <= frameLimit else { return malformed(bytes: chunk.count) }
            let missing = framePrefixWidth + length - held.count
            let take = min(missing, chunk.count - start)
            append(UnsafeRawBufferPointer(rebasing: chunk[start..<start + take]))
            start += take
            guard take == missing else { return updateReading() }
            switchHeld()
            guard connection != nil else { return }
            if heldToSwitch {
                append(UnsafeRawBufferPointer(rebasing: chunk[start...]))
                return updateReading()
            }
        }
        let rest = UnsafeRawBufferPointer(rebasing: chunk[start...])
        guard let used = switchFrames(in: rest) else { return malformed(bytes: chunk.count) }
        // Switching can end this peer (a write error while writing the segment out): nothing more of it is kept.
        guard connection != nil else { return }
        if used < rest.count { append(UnsafeRawBufferPointer(rebasing: rest[used...])) }
        updateReading()
    }

    /// Copies lent bytes to the end of `held`.
    private func append(_ bytes: UnsafeRawBufferPointer) {
        // SAFETY: the bytes are read during this call only; UInt8 is a trivial type any bytes may be viewed as.
        held.append(
            contentsOf: UnsafeBufferPointer(
                start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }

    /// The stream cannot be resynchronised after a bad length: count it and hang up on this peer only.
    private func malformed(bytes: Int) {
        port.countDrop(.malformed, bytes: bytes)
        dropPeer()
    }

    /// Switches what `held` holds, as far as the slice and the destinations allow; the rest stays held.
    private func switchHeld() {
        // Taken out first: switching may drop the peer, which clears `held`, while these bytes are being read.
        var pending: [UInt8] = []
        swap(&pending, &held)
        let start = heldStart
        heldStart = 0
        heldToSwitch = false
        let used = pending.withUnsafeBytes { switchFrames(in: UnsafeRawBufferPointer(rebasing: $0[start...])) }
        guard connection != nil else { return }
        guard let used else { return malformed(bytes: pending.count - start) }
        if start + used == pending.count {
            pending.removeAll(keepingCapacity: pending.capacity <= StreamAttachment.keptBufferBytes)
        } else if heldToSwitch {
            heldStart = start + used
        } else {
            // Only the start of a frame is left: moved to the front, where the next read completes it.
            pending.removeSubrange(0..<start + used)
        }
        swap(&pending, &held)
    }

    /// Reads only while nothing holds the peer back: not paused for a pressured port, nothing of an earlier read
    /// left to switch, and this pass's slice not used up.
    private func updateReading() {
        guard let connection else { return }
        if waitingOn.isEmpty && !heldToSwitch && !slice.isUsed {
            try? connection.startReading()
        } else {
            connection.stopReading()
        }
    }

    func nextPass() {
        slice.endPass()
        guard let connection else { return }
        if connection.maxReadBytes != slice.readSize { connection.maxReadBytes = slice.readSize }
        guard waitingOn.isEmpty else { return }
        if heldToSwitch {
            port.segment.device.noteRead(self)
            switchHeld()
        }
        updateReading()
    }

    /// Hands the whole frames of `buffer` to the switch, in order, and returns how many bytes they took: it stops
    /// at a frame not yet whole, or early (`heldToSwitch`) when this pass's slice is used or a frame went to a
    /// pressured port: that port's segment is written out first, and if the port is still pressured (its
    /// transport is backed up) this sender stops being read until it drains, so a stream sender is slowed rather
    /// than dropped (`ethernet.md` §4.5). Nil at a length over the limit. The frames are read in place (the
    /// switch copies what it queues), so a read costs no allocation and no reference count per frame.
    private func switchFrames(in buffer: UnsafeRawBufferPointer) -> Int? {
        // SAFETY: the segment owns the port (and so this attachment) and the switch, and outlives this call: it is
        // held unowned(unsafe) and the switch unretained, where strong locals cost a retain and release per frame.
        unowned(unsafe) let segment = port.segment
        let sw = Unmanaged.passUnretained(segment.sw)
        let id = port.id
        let width = framePrefixWidth
        var cursor = 0
        var sinceFlush = 0
        var switched = 0
        // One clock read per read: the frames of one read arrived together.
        let now = MonotonicClock.nanoseconds()
        defer { segment.device.scheduleFlush(segment) }
        // Capture (file or live) and `eth.wait` see each frame; without them the frames go straight to the switch.
        let observed = segment.isObserved
        // The first whole frame ends the peer's handshake deadline (checked once per read, not per frame).
        defer {
            if awaitingFirstFrame && cursor > 0 {
                awaitingFirstFrame = false
                // No room among the authenticated (counted by the gate): refused, as `authenticate` asks.
                if admission?.authenticate() == false { dropPeer() }
            }
        }
        while buffer.count - cursor >= width {
            // A run of frames repeating the latest flow is switched whole; what does not start one goes frame by
            // frame.
            let run =
                observed
                ? (frames: 0, bytes: 0)
                : switchRun(sw, UnsafeRawBufferPointer(rebasing: buffer[cursor...]), sinceFlush, now)
            if run.frames > 0 {
                slice.countFrames(run.frames, recordBytes: run.bytes)
                cursor += run.bytes
                sinceFlush += run.frames
                switched += run.frames
            } else {
                // SAFETY: at least `width` bytes are left (the loop's condition).
                let length = StreamFraming.prefixedLength(in: buffer, at: cursor, width: width)
                guard length <= frameLimit else { return nil }
                guard buffer.count - cursor - width >= length else { break }
                // This pass's slice is used: the rest waits for the next pass (ethernet.md §4.8).
                guard slice.hasRoomForFrame else {
                    heldToSwitch = true
                    break
                }
                slice.countFrame(recordBytes: width + length)
                let frame = UnsafeRawBufferPointer(rebasing: buffer[cursor + width..<cursor + width + length])
                cursor += width + length
                if observed {
                    segment.receivedObserved(frame, from: port, now: now)
                } else {
                    // SAFETY: the segment holds the switch for longer than this call: no retain per frame.
                    sw._withUnsafeGuaranteedRef { $0.receive(frame, from: id, now: now) }
                }
                sinceFlush += 1
                switched += 1
            }
            if sw._withUnsafeGuaranteedRef({ $0.hasPressureHits }) {
                let hits = segment.sw.pressureHits
                segment.flush()
                sinceFlush = 0
                guard connection != nil else { return cursor }
                if hits.contains(where: segment.sw.isPressured) {
                    waitingOn = hits.filter(segment.sw.isPressured)
                    connection?.stopReading()
                    segment.pause(self)
                    heldToSwitch = true
                    return cursor
                }
            } else if sinceFlush >= Self.framesPerWriteOut {
                segment.flush()
                sinceFlush = 0
                // Writing out can end this peer (a write error): its remaining frames go with it.
                guard connection != nil else { return cursor }
            }
        }
        holdNextReadIfBatched(frames: switched, readBytes: buffer.count, now: now)
        return cursor
    }

    /// Several frames in one short read: the peer writes small frames faster than it is read. Its next read waits
    /// a moment so that it carries a batch (receive coalescing, ethernet.md §4.8). A peer sending one frame at a
    /// time is not held, nor one filling its socket (a long read), which is read each pass.
    @inline(__always)
    private func holdNextReadIfBatched(frames: Int, readBytes: Int, now: UInt64) {
        guard frames >= coalesceFrames, readBytes < coalesceBelowBytes, let connection else { return }
        connection.holdReads(until: now &+ coalesceNanos)
    }

    /// `Switch.receiveRun` on `records`, within this pass's slice and the frames left before the next write-out.
    @inline(__always)
    private func switchRun(
        _ sw: Unmanaged<Switch>, _ records: UnsafeRawBufferPointer, _ sinceFlush: Int, _ now: UInt64
    ) -> (frames: Int, bytes: Int) {
        // SAFETY: the caller's segment holds the switch for longer than this call.
        sw._withUnsafeGuaranteedRef {
            $0.receiveRun(
                records, prefixWidth: framePrefixWidth,
                limit: min(slice.framesLeft, Self.framesPerWriteOut - sinceFlush),
                maxLength: frameLimit, from: port.id, now: now)
        }
    }

    /// The ports this sender waited for were written out.
    func resume() {
        guard connection != nil else { return }
        waitingOn.removeAll()
        if heldToSwitch {
            port.segment.device.noteRead(self)
            switchHeld()
        }
        updateReading()
    }

    private func dropPeer() {
        guard let current = connection else { return }
        connection = nil
        busyPeriods += current.busyPeriods
        readHolds += current.readHolds
        admission?.release()
        admission = nil
        awaitingFirstFrame = false
        current.close()
        if !waitingOn.isEmpty {
            waitingOn.removeAll()
            port.segment.cancelPause(self)
        }
        held.removeAll()
        heldStart = 0
        heldToSwitch = false
        port.setCarrier(false)
    }

    var isWritable: Bool { connection.map { !$0.isAboveHighWatermark } ?? true }

    func send(_ frames: EgressQueue) -> Int {
        guard let connection else { return frames.count }
        // The switch queued the frames behind this framing's prefix (`setEgressPrefix`): the pass's frames are
        // one buffer, written straight to the socket when it has room, only the rest copied and queued (§4.5).
        if frames.prefixWidth == framing.prefixWidth.rawValue {
            return connection.writeNow(frames.bytes) ? 0 : frames.count
        }
        var total = 0
        for frame in frames { total += frame.count + framing.prefixWidth.rawValue }
        // One buffer reused across passes; the write copies it once into its own request.
        outBuffer.removeAll(keepingCapacity: outBuffer.capacity <= StreamAttachment.keptBufferBytes)
        outBuffer.reserveCapacity(total)
        for frame in frames {
            framing.appendPrefix(length: frame.count, to: &outBuffer)
            outBuffer.append(contentsOf: frame)
        }
        return connection.writeNow(outBuffer) ? 0 : frames.count
    }

    var stateJSON: JSONObject {
        [
            "listen": boundEndpoint.map { .string($0.description) } ?? .null, "connected": .bool(connection != nil),
            "peers": .uint(peers), "refusedPeers": .uint(refusedPeers), "readSlice": slice.streamJSON,
            "busyPeriods": .uint(busyPeriods + (connection?.busyPeriods ?? 0)),
            "readHolds": .uint(readHolds + (connection?.readHolds ?? 0)),
        ]
    }

    func close() {
        listener?.close()
        listener = nil
        connection?.close()
        connection = nil
        admission?.release()
        held.removeAll()
        heldStart = 0
        heldToSwitch = false
        waitingOn.removeAll()
    }
}

/// QEMU `-netdev dgram` / raw UDP: one frame per datagram.
final class DatagramAttachment: PortAttachment, EthernetSlicedReader {
    private let socket: UDPSocket
    private let remote: InetAddress?
    private var lastSender: InetAddress?
    private unowned let port: EthernetPortRuntime
    var slice: EthernetReadSlice

    init(local: UDPAddress, remote: UDPAddress?, port: EthernetPortRuntime, loop: Loop) throws(LoopError) {
        self.port = port
        self.remote = remote.map { InetAddress(host: $0.host, port: $0.port) }
        slice = port.segment.device.makeReadSlice()
        socket = try UDPSocket(loop: loop, host: local.host, port: local.port)
        socket.sendQueueLimitBytes = port.segment.device.host.limits.ethernetUDPSendQueueBytes
        // Off loopback only the configured remote is heard (the validator requires one there).
        let onlyFrom = Endpoint.tcp(host: local.host, port: 0).isLoopback ? nil : self.remote?.host
        socket.onDatagram = { [unowned self] datagram, sender in
            self.countDatagram(datagram.count)
            if let onlyFrom, sender.host != onlyFrom {
                return self.port.countDrop(.malformed, bytes: datagram.count)
            }
            self.lastSender = sender
            self.port.received(datagram)
        }
        try socket.startReceiving()
    }

    /// One datagram of this pass's slice; the socket is not read again this pass once the slice is used (§4.8).
    private func countDatagram(_ bytes: Int) {
        slice.countFrame()
        slice.countBytes(bytes)
        port.segment.device.noteRead(self)
        if slice.isUsed { socket.stopReceiving() }
    }

    func nextPass() {
        slice.endPass()
        try? socket.startReceiving()
    }

    var isWritable: Bool { true }

    func send(_ frames: EgressQueue) -> Int {
        guard let destination = remote ?? lastSender else { return frames.count }
        var notSent = 0
        for frame in frames {
            switch socket.send(frame, to: destination) {
            case .sent, .queued: continue
            case .refused: port.countSendQueueFull(bytes: frame.count)
            case .failed: break
            }
            notSent += 1
        }
        return notSent
    }

    var stateJSON: JSONObject {
        [
            "local": .string(socket.boundAddress.description),
            "remote": remote.map { .string($0.description) } ?? .null,
            "lastSender": lastSender.map { .string($0.description) } ?? .null, "readSlice": slice.json,
            "udp": socket.sendStateJSON,
        ]
    }

    func close() { socket.close() }
}

extension UDPSocket {
    /// What a `dgram` or `vxlan` port's socket sent, failed to send and holds queued, for `eth.ports`
    /// (`Protocols/control.md` §13.2).
    var sendStateJSON: JSON {
        [
            "datagramsSent": .uint(datagramsSent), "sendFailures": .uint(sendFailures),
            "sendQueueBytes": .int(Int64(sendQueueBytes)), "sendQueueDatagrams": .int(Int64(sendQueueDatagrams)),
            "sendQueueLimitBytes": .int(Int64(clamping: sendQueueLimitBytes)),
            "sendQueueRefusals": .uint(sendQueueRefusals),
        ]
    }
}

/// How VXLAN remotes named by host name become addresses (`Protocols/ethernet.md`, VXLAN): `now` at start
/// (blocking, before anything is served), `later` for re-resolution off the loop's thread. A seam: tests
/// inject their own resolver to change an address under a running port.
package struct VXLANResolver {
    package var now: (String, UInt16, HostResolver.Family) -> Result<[InetAddress], LoopError>
    package var later:
        (String, UInt16, HostResolver.Family, Loop, @escaping (Result<[InetAddress], LoopError>) -> Void) -> Void

    package init(
        now: @escaping (String, UInt16, HostResolver.Family) -> Result<[InetAddress], LoopError>,
        later:
            @escaping (
                String, UInt16, HostResolver.Family, Loop, @escaping (Result<[InetAddress], LoopError>) -> Void
            ) -> Void
    ) {
        self.now = now
        self.later = later
    }

    /// libuv's `getaddrinfo` (`HostResolver`).
    package static var system: VXLANResolver {
        VXLANResolver(
            now: { host, port, family in HostResolver.resolveNow(host, port: port, family: family) },
            later: { host, port, family, loop, completion in
                HostResolver.resolve(host, port: port, family: family, on: loop, completion: completion)
            })
    }
}

/// The device's VXLAN re-resolutions, at most `limit` at a time (`hub.limits.vxlanLookupsInFlight`), the others
/// waiting in order. `getaddrinfo` holds a thread of libuv's pool, which image file work shares, for as long as the
/// name server takes, so without a bound enough names on a name server that does not answer take the whole pool
/// at every interval. What waits here is bounded by the configured names: each remote has at most one lookup
/// outstanding (`VXLANAttachment.resolveAgain`).
final class VXLANLookups {
    typealias Completion = (Result<[InetAddress], LoopError>) -> Void
    private struct Lookup {
        let host: String
        let port: UInt16
        let family: HostResolver.Family
        let completion: Completion
    }
    private let resolver: VXLANResolver
    private let loop: Loop
    private let limit: Int
    private var waiting: [Lookup] = []
    private var inFlight = 0
    private var isClosed = false

    init(resolver: VXLANResolver, loop: Loop, limit: Int) {
        self.resolver = resolver
        self.loop = loop
        // The configuration's range starts at 1; a gate of 0 would never start a lookup.
        self.limit = max(1, limit)
    }

    /// Looks `host` up once a place is free; `completion` runs on the loop's thread, once, unless the device stops
    /// first (a waiting lookup is then dropped, a running one's answer is ignored).
    func lookUp(_ host: String, _ port: UInt16, _ family: HostResolver.Family, completion: @escaping Completion) {
        guard !isClosed else { return }
        waiting.append(Lookup(host: host, port: port, family: family, completion: completion))
        startWaiting()
    }

    private func startWaiting() {
        while !isClosed, inFlight < limit, !waiting.isEmpty {
            let lookup = waiting.removeFirst()
            inFlight += 1
            // A fake resolver may answer before `later` returns: the answer then starts the next lookup itself.
            resolver.later(lookup.host, lookup.port, lookup.family, loop) { [weak self] result in
                guard let self, !self.isClosed else { return }
                self.inFlight -= 1
                lookup.completion(result)
                self.startWaiting()
            }
        }
    }

    /// Drops the waiting lookups and ignores the answers still to come (the device stops).
    func close() {
        isClosed = true
        waiting.removeAll()
    }
}

/// One configured VXLAN remote: as written (`name`, a literal address or a host name) and the address it
/// stands for now.
struct VXLANRemote {
    let name: UDPAddress
    var address: InetAddress
    /// Whether `name` is a host name (re-resolved every `vxlanResolveIntervalMs`).
    let isHostName: Bool
    /// A re-resolution was asked for and has not answered yet.
    var isResolving = false
}

/// VXLAN (RFC 7348): every frame goes to each configured remote and each sender seen with our VNI.
final class VXLANAttachment: PortAttachment, EthernetSlicedReader {
    private let socket: UDPSocket
    let vni: UInt32
    private var remotes: [VXLANRemote]
    private var configured: [InetAddress]
    /// Hosts heard sending with our VNI that are not configured remotes (`vxlanLearnedHosts`, `vxlanLearnedIdleMs`).
    private var learned: LearnedHosts<InetAddress>
    private unowned let port: EthernetPortRuntime
    private let header: [UInt8]
    private(set) var wrongVNI: UInt64 = 0
    private(set) var resolveFailures: UInt64 = 0
    private(set) var addressChanges: UInt64 = 0
    /// Intervals at which a remote's previous re-resolution had not answered, so none was asked for.
    private(set) var resolvesSkipped: UInt64 = 0
    var slice: EthernetReadSlice
    private var resolveTimer: Timer?
    private let family: HostResolver.Family

    /// Whether senders that are not configured remotes are heard (only on loopback binds).
    private let acceptsStrangers: Bool

    init(local: UDPAddress, vni: UInt32, remotes: [VXLANRemote], port: EthernetPortRuntime, loop: Loop)
        throws(LoopError)
    {
        self.vni = vni
        self.port = port
        self.remotes = remotes
        configured = remotes.map(\.address)
        family = local.host.contains(":") ? .ipv6 : .ipv4
        acceptsStrangers = Endpoint.tcp(host: local.host, port: 0).isLoopback
        header = VXLANHeader.encode(vni: vni)
        let limits = port.segment.device.host.limits
        learned = LearnedHosts(
            limit: limits.vxlanLearnedHosts, idleNanoseconds: UInt64(limits.vxlanLearnedIdleMs) * 1_000_000)
        slice = port.segment.device.makeReadSlice()
        socket = try UDPSocket(loop: loop, host: local.host, port: local.port)
        socket.sendQueueLimitBytes = port.segment.device.host.limits.ethernetUDPSendQueueBytes
        socket.onDatagram = { [unowned self] datagram, sender in self.received(datagram, from: sender) }
        try socket.startReceiving()
        let interval = UInt64(port.segment.device.host.limits.vxlanResolveIntervalMs)
        if interval > 0 && remotes.contains(where: \.isHostName) {
            resolveTimer = try Timer(loop: loop)
            resolveTimer?.start(afterMilliseconds: interval, repeatMilliseconds: interval) { [unowned self] in
                self.resolveAgain()
            }
        }
    }

    /// The addresses of `remotes` at start, each a literal or the first address its name resolves to; a name
    /// that does not resolve is a start error naming its entry.
    static func resolve(_ remotes: [UDPAddress], local: UDPAddress, entry: String, resolver: VXLANResolver)
        throws(HubStartError) -> [VXLANRemote]
    {
        let family: HostResolver.Family = local.host.contains(":") ? .ipv6 : .ipv4
        var resolved: [VXLANRemote] = []
        for (index, remote) in remotes.enumerated() {
            if let literal = HostResolver.numeric(remote.host, port: remote.port, family: family) {
                resolved.append(VXLANRemote(name: remote, address: literal, isHostName: false))
                continue
            }
            switch resolver.now(remote.host, remote.port, family) {
            case .success(let addresses) where !addresses.isEmpty:
                resolved.append(VXLANRemote(name: remote, address: addresses[0], isHostName: true))
            case .success:
                throw .device("\(entry).remotes[\(index)]: '\(remote)' resolves to no address")
            case .failure(let error):
                throw .device("\(entry).remotes[\(index)]: cannot resolve '\(remote)': \(error)")
            }
        }
        return resolved
    }

    /// Asks again, through the device's `VXLANLookups`, for every remote named by host name whose last lookup has
    /// answered; answers arrive on the loop's thread. One lookup per remote at a time: against a name server that
    /// does not answer, asking again every interval would queue lookups without bound.
    private func resolveAgain() {
        guard let lookups = port.segment.device.lookups else { return }
        for index in remotes.indices where remotes[index].isHostName {
            guard !remotes[index].isResolving else {
                resolvesSkipped += 1
                continue
            }
            remotes[index].isResolving = true
            let name = remotes[index].name
            lookups.lookUp(name.host, name.port, family) { [weak self] result in
                self?.resolved(index, result)
            }
        }
    }

    private func resolved(_ index: Int, _ result: Result<[InetAddress], LoopError>) {
        guard index < remotes.count else { return }
        remotes[index].isResolving = false
        let remote = remotes[index]
        guard case .success(let addresses) = result, let first = addresses.first else {
            // The last good address stays: a resolver that is briefly away must not cut the LAN.
            resolveFailures += 1
            return
        }
        // The current address is kept while the name still lists it (round-robin answers do not flap).
        guard !addresses.contains(remote.address) else { return }
        remotes[index].address = first
        configured = remotes.map(\.address)
        addressChanges += 1
        let host = port.segment.device.host!
        host.logger.info("\(port.entry): VXLAN remote \(remote.name) moved from \(remote.address) to \(first)")
        host.publish(
            "eth.vxlan.remoteChanged", device: port.segment.name,
            data: [
                "port": .string(port.config.name), "remote": .string(remote.name.description),
                "from": .string(remote.address.description), "to": .string(first.description),
            ])
    }

    func nextPass() {
        slice.endPass()
        try? socket.startReceiving()
    }

    private func received(_ datagram: ArraySlice<UInt8>, from sender: InetAddress) {
        // One datagram of this pass's slice, whatever it turns out to be (ethernet.md §4.8).
        slice.countFrame()
        slice.countBytes(datagram.count)
        port.segment.device.noteRead(self)
        if slice.isUsed { socket.stopReceiving() }
        let decoded: (vni: UInt32, frame: ArraySlice<UInt8>)
        do {
            decoded = try VXLANHeader.decode(datagram)
        } catch {
            return port.countDrop(.malformed, bytes: datagram.count)
        }
        guard decoded.vni == vni else {
            wrongVNI += 1
            return port.countDrop(.vlan, bytes: datagram.count)
        }
        // Linux picks the UDP source port per flow; replies still go to the configured port of that host.
        let configuredHost = configured.contains { $0.host == sender.host }
        // Off loopback only the configured remotes are heard: VXLAN itself has no authentication.
        if !acceptsStrangers && !configuredHost { return port.countDrop(.malformed, bytes: datagram.count) }
        // A stranger is learned, or refreshed, as a MAC table learns a source; one the full table refuses is heard.
        if !configuredHost { learned.heard(sender, now: MonotonicClock.nanoseconds()) }
        port.received(decoded.frame)
    }

    var isWritable: Bool { true }

    func send(_ frames: EgressQueue) -> Int {
        learned.expire(now: MonotonicClock.nanoseconds())
        let targets = configured + learned.addresses
        guard !targets.isEmpty else { return frames.count }
        var notSent = 0
        for frame in frames {
            let datagram = header + frame
            var accepted = false
            var refused = false
            for target in targets {
                switch socket.send(datagram, to: target) {
                case .sent, .queued: accepted = true
                case .refused: refused = true
                case .failed: break
                }
            }
            // One drop per frame however many hosts refused it; still counted sent if another host took it.
            if refused { port.countSendQueueFull(bytes: frame.count, sentElsewhere: accepted) }
            if !accepted { notSent += 1 }
        }
        return notSent
    }

    var stateJSON: JSONObject {
        [
            "local": .string(socket.boundAddress.description), "vni": .uint(UInt64(vni)),
            "remotes": .array(configured.map { .string($0.description) }),
            "remoteNames": .array(remotes.map { .string($0.name.description) }),
            "resolveFailures": .uint(resolveFailures), "addressChanges": .uint(addressChanges),
            "resolvesSkipped": .uint(resolvesSkipped),
            "learned": .array(learned.live(at: MonotonicClock.nanoseconds()).map { .string($0.description) }),
            "learnedRefused": .uint(learned.refused), "learnedExpired": .uint(learned.expired),
            "wrongVNI": .uint(wrongVNI),
            "readSlice": slice.json, "udp": socket.sendStateJSON,
        ]
    }

    func close() {
        resolveTimer?.close()
        socket.close()
    }
}

/// A host TAP interface: frames are read whole (one per `read`) until the kernel has none, and written one
/// per `write`, which is how a tap wants them.
/// A Linux TAP interface (`Protocols/ethernet.md` §3, the tap row). The port has carrier while the interface is
/// there and up. A write the kernel refuses because the interface is down (EIO) or gone (EBADFD: deleted, or gone
/// with the network namespace it was moved to) takes carrier away, and the frame is counted `linkDown`, not sent;
/// from then on the interface is looked at every `recheckMilliseconds`: carrier comes back when it is up again, and
/// a deleted one is created again as at start (same MAC and persistence), counted in `reopened`.
final class TapAttachment: PortAttachment, EthernetSlicedReader {
    /// The hub's view of the interface, as `eth.ports` reports it (`interfaceState`).
    enum InterfaceCondition: String {
        case up
        /// Set down by someone else (writes fail with EIO): the hub waits for it to come up.
        case down
        /// The descriptor is no longer attached to an interface (EBADFD): the hub makes it again.
        case gone
    }

    let interface: String
    private var fd: Int32
    private var poll: FileDescriptorPoll
    private let loop: Loop
    private unowned let port: EthernetPortRuntime
    private var buffer: [UInt8]
    /// Opens the interface again as at start (`TapInterface.open` with the port's MAC and persistence).
    private let reopen: () throws(TapInterface.OpenError) -> Int32
    private var recheck: Timer?
    private(set) var writeFailures: UInt64 = 0
    private(set) var condition = InterfaceCondition.up
    private(set) var reopened: UInt64 = 0
    /// Why the interface was last lost, or why making it again failed.
    private(set) var lastError: String?
    var slice: EthernetReadSlice
    private var polling = false

    static let recheckMilliseconds: UInt64 = 1000

    init(
        interface: String, fd: Int32, port: EthernetPortRuntime, loop: Loop, maxFrame: Int,
        reopen: @escaping () throws(TapInterface.OpenError) -> Int32
    ) throws(LoopError) {
        self.interface = interface
        self.fd = fd
        self.port = port
        self.loop = loop
        self.reopen = reopen
        buffer = [UInt8](repeating: 0, count: max(maxFrame, 65536))
        slice = port.segment.device.makeReadSlice()
        poll = try FileDescriptorPoll(loop: loop, fileDescriptor: fd)
        try startPolling()
    }

    private func startPolling() throws(LoopError) {
        try poll.start(.readable) { [unowned self] _, error in
            // An error (POLLERR: the interface went away) stopped the watch; the read below says why.
            if error != nil { self.polling = false }
            self.readAvailable()
        }
        polling = true
    }

    /// Reads frames until the kernel has none or this pass's slice is used; then the tap is not watched again
    /// until the pass ends, so a busy tap cannot hold the loop (ethernet.md §4.8).
    private func readAvailable() {
        while !slice.isUsed {
            let count: Int
            do {
                count = try Descriptors.read(fd, into: &buffer)
            } catch {
                if TunTap.failure(error) == .interfaceGone { lose(.gone, error) }
                break  // EAGAIN: nothing more for now
            }
            guard count > 0 else { break }
            // A frame from the host proves its side is up again: no need to wait for the next check.
            if condition == .down { restored() }
            slice.countFrame()
            slice.countBytes(count)
            port.received(Array(buffer[0..<count])[...])
        }
        if !slice.isEmpty { port.segment.device.noteRead(self) }
        if slice.isUsed && polling {
            poll.stop()
            polling = false
        }
    }

    func nextPass() {
        slice.endPass()
        if !polling && condition != .gone { try? startPolling() }
    }

    var isWritable: Bool { true }

    func send(_ frames: EgressQueue) -> Int {
        var failed = 0
        var lost: (InterfaceCondition, SystemError)? = nil
        for frame in frames {
            guard lost == nil else {
                // The interface went away during this batch: the rest cannot go either.
                port.countRefusedEgress(.linkDown, bytes: frame.count)
                failed += 1
                continue
            }
            do {
                if try Descriptors.write(fd, frame) == frame.count { continue }
                // A tap takes a frame whole or not at all; a short count would be the kernel's to explain.
                port.countRefusedEgress(.sendQueueFull, bytes: frame.count)
            } catch {
                switch TunTap.failure(error) {
                case .interfaceDown: lost = (.down, error)
                case .interfaceGone: lost = (.gone, error)
                case .other: break  // the kernel had no room for it (ENOBUFS, ENOMEM)
                }
                port.countRefusedEgress(lost == nil ? .sendQueueFull : .linkDown, bytes: frame.count)
            }
            writeFailures += 1
            failed += 1
        }
        if let (condition, error) = lost { lose(condition, error) }
        return failed
    }

    /// The interface is down or gone: no carrier (frames for the port are counted `linkDown` by the switch) until
    /// `recheckInterface` finds it up, or has made it again.
    private func lose(_ new: InterfaceCondition, _ error: SystemError) {
        guard condition == .up || (new == .gone && condition == .down) else { return }
        condition = new
        lastError = "\(error.operation): \(error.reason)"
        if new == .gone && polling {
            poll.stop()
            polling = false
        }
        port.setCarrier(false)
        guard recheck == nil else { return }
        recheck = try? Timer(loop: loop)
        recheck?.start(afterMilliseconds: Self.recheckMilliseconds, repeatMilliseconds: Self.recheckMilliseconds) {
            [unowned self] in self.recheckInterface()
        }
    }

    private func recheckInterface() {
        let state: TunTap.InterfaceState
        do {
            state = try TunTap.state(name: interface)
        } catch {
            lastError = "\(error.operation): \(error.reason)"
            return
        }
        if condition == .down {
            switch state {
            case .up: return restored()
            case .down: return
            case .absent: condition = .gone
            }
        }
        // Gone: the old descriptor is attached to nothing. Make the interface again (or open the one somebody made
        // under its name), as at start; a failure (the name held by something else) is retried at the next check.
        let newFD: Int32
        do {
            newFD = try reopen()
        } catch {
            lastError = error.description
            return
        }
        let newPoll: FileDescriptorPoll
        do {
            newPoll = try FileDescriptorPoll(loop: loop, fileDescriptor: newFD)
        } catch {
            Descriptors.close(newFD)
            lastError = "cannot watch '\(interface)': \(error)"
            return
        }
        poll.close { [fd] in Descriptors.close(fd) }
        fd = newFD
        poll = newPoll
        reopened += 1
        try? startPolling()
        restored()
    }

    private func restored() {
        condition = .up
        recheck?.close()
        recheck = nil
        port.setCarrier(true)
    }

    var stateJSON: JSONObject {
        var state: JSONObject = [
            "interface": .string(interface), "interfaceState": .string(condition.rawValue),
            "reopened": .uint(reopened), "lastError": lastError.map(JSON.string) ?? .null,
            "writeFailures": .uint(writeFailures), "readSlice": slice.json,
        ]
        // Drops inside the kernel (the tap's queue) are not seen by the switch: read them as ports are listed.
        if let drops = TapInterface.kernelDrops(interface) {
            state["kernelDrops"] = ["txDropped": .uint(drops.txDropped), "rxDropped": .uint(drops.rxDropped)]
        } else {
            state["kernelDrops"] = .null
        }
        return state
    }

    func close() {
        recheck?.close()
        recheck = nil
        poll.close { [fd] in Descriptors.close(fd) }
    }
}

/// A partition's NIC: one frame per `CHANNEL_DATA` on the guest's channel to the segment.
final class GuestPortAttachment: PortAttachment {
    let partition: String
    var endpoint: GuestChannelEndpoint?

    init(partition: String) { self.partition = partition }

    var isWritable: Bool { !(endpoint?.isCongested ?? false) }

    func send(_ frames: EgressQueue) -> Int {
        guard let endpoint else { return frames.count }
        var failed = 0
        for frame in frames where !endpoint.send(frame) { failed += 1 }
        return failed
    }

    /// The open channel, for its read slice in `eth.ports`.
    weak var channel: EthernetGuestChannel?

    var stateJSON: JSONObject {
        var state: JSONObject = ["partition": .string(partition), "connected": .bool(endpoint?.isOpen ?? false)]
        if let channel { state["readSlice"] = channel.slice.json }
        return state
    }

    func close() { endpoint?.close(reason: "hub shutting down") }
}

/// A port with no transport: reached through `eth.inject`, observed through `eth.wait`.
final class TestPortAttachment: PortAttachment {
    var isWritable: Bool { true }
    func send(_ frames: EgressQueue) -> Int { 0 }
    var stateJSON: JSONObject { [:] }
    func close() {}
}

/// The device side of a guest's channel to a segment: each `CHANNEL_DATA` is one frame.
final class EthernetGuestChannel: GuestChannel, EthernetSlicedReader {
    private unowned let port: EthernetPortRuntime
    let maxData: UInt32
    var openedOptions: [UInt8] { [] }
    /// This pass's share of the guest's frames: once used, the guest's session reads nothing more this pass
    /// (the frames of the read in hand are still switched, so one pass takes at most one read; ethernet.md §4.8).
    var slice: EthernetReadSlice

    init(port: EthernetPortRuntime, maxFrame: Int) {
        self.port = port
        maxData = UInt32(maxFrame)
        slice = port.segment.device.makeReadSlice()
    }

    func received(_ data: ArraySlice<UInt8>) {
        let wasUsed = slice.isUsed
        slice.countFrame()
        slice.countBytes(data.count)
        port.segment.device.noteRead(self)
        if slice.isUsed && !wasUsed {
            (port.attachment as? GuestPortAttachment)?.endpoint?.holdInputUntilNextPass()
        }
        port.received(data)
    }

    func nextPass() { slice.endPass() }

    func closed(reason: String) {
        (port.attachment as? GuestPortAttachment)?.endpoint = nil
        port.setCarrier(false)
    }
}

/// How much of one Ethernet attachment's input the hub takes per loop pass (`Protocols/ethernet.md` §4.8,
/// `hub.limits.ethernetReadFramesPerPass` / `ethernetReadBytesPerPass`).
///
/// An attachment counts what it switched this pass; once either budget is used it stops reading (the rest stays
/// in the kernel, or in its bounded backlog of one read) until the end of the pass, when the device resets the
/// count and lets it read again. Every other connection is polled in between, so a flooding peer delays the
/// control API and real-time guests by at most one slice — the pattern fair-share guests follow
/// (`Deploy/config-reference.md`, partitions).
struct EthernetReadSlice {
    let framesPerPass: Int
    let bytesPerPass: Int
    private(set) var frames = 0
    private(set) var bytes = 0
    /// In the device's list of attachments to reset at the end of this pass.
    var isListed = false
    /// The most frames switched from this attachment in one pass since it started (at most `framesPerPass`).
    private(set) var mostFramesInOnePass = 0
    /// Passes that ended with the slice used up (the attachment had more to give).
    private(set) var passesAtBudget: UInt64 = 0
    /// Bytes of the whole records (frame and length prefix) counted this pass by `countFrame(recordBytes:)`.
    private var recordBytes = 0
    /// Records counted with their size this pass (a stream peer's frames).
    private var sizedRecords = 0
    /// How much one stream read asks for: about one slice, `framesPerPass` records of the mean size of the last
    /// pass's records, within `minimumReadBytes...bytesPerPass`; `bytesPerPass` until a pass has switched one. A
    /// read of one slice is switched whole in the pass it is made, straight from the read buffer: a larger read
    /// left most of itself to be copied aside and switched in later passes, and cost more in the kernel too (a
    /// reader that takes thousands of queued frames at once frees memory long out of cache). Measured in
    /// `Tools/bench` (one frame per write).
    private(set) var readSize: Int
    /// The smallest `readSize`: the configured floor of `ethernetReadBytesPerPass`.
    static let minimumReadBytes = 2048

    init(framesPerPass: Int, bytesPerPass: Int) {
        self.framesPerPass = max(1, framesPerPass)
        self.bytesPerPass = max(1, bytesPerPass)
        readSize = self.bytesPerPass
    }

    /// Whether this pass's slice is used up: the attachment must not read again before the pass ends.
    @inline(__always)
    var isUsed: Bool { frames >= framesPerPass || bytes >= bytesPerPass }

    /// Whether one more frame may be switched this pass.
    @inline(__always)
    var hasRoomForFrame: Bool { frames < framesPerPass }

    @inline(__always)
    var isEmpty: Bool { frames == 0 && bytes == 0 }

    @inline(__always)
    mutating func countFrame() { frames += 1 }

    /// A frame switched from a stream read, `recordBytes` long with its length prefix (it sizes the next reads).
    @inline(__always)
    mutating func countFrame(recordBytes: Int) {
        frames += 1
        sizedRecords += 1
        self.recordBytes += recordBytes
    }

    /// `frames` frames switched from a stream read as one run, `recordBytes` long together with their prefixes.
    @inline(__always)
    mutating func countFrames(_ frames: Int, recordBytes: Int) {
        self.frames += frames
        sizedRecords += frames
        self.recordBytes += recordBytes
    }

    /// Frames this pass may still switch.
    @inline(__always)
    var framesLeft: Int { max(0, framesPerPass - frames) }

    @inline(__always)
    mutating func countBytes(_ count: Int) { bytes += count }

    /// Closes this pass's accounting.
    mutating func endPass() {
        if isUsed { passesAtBudget += 1 }
        mostFramesInOnePass = max(mostFramesInOnePass, frames)
        if sizedRecords > 0 {
            // No overflow: at most 65536 frames a pass (the configured range), each shorter than 4 MiB.
            let slice = recordBytes / sizedRecords * framesPerPass
            readSize = min(bytesPerPass, max(EthernetReadSlice.minimumReadBytes, slice))
        }
        frames = 0
        bytes = 0
        recordBytes = 0
        sizedRecords = 0
    }

    /// For `eth.ports`: the budget and what the attachment took of it.
    var json: JSON {
        [
            "framesPerPass": .int(Int64(framesPerPass)), "bytesPerPass": .int(Int64(bytesPerPass)),
            "mostFramesInOnePass": .int(Int64(max(mostFramesInOnePass, frames))),
            "passesAtBudget": .uint(passesAtBudget),
        ]
    }

    /// For a stream attachment's `eth.ports`: `json` and the size of its next read.
    var streamJSON: JSON {
        guard case .object(var fields) = json else { return json }
        fields["readBytes"] = .int(Int64(readSize))
        return .object(fields)
    }
}

/// An attachment read in slices: the device calls `nextPass` at the end of every pass in which it read.
protocol EthernetSlicedReader: AnyObject {
    var slice: EthernetReadSlice { get set }
    /// The pass ended: close the slice's accounting and, if reading stopped because the slice was used, take the
    /// next slice (what is buffered first) and read again.
    func nextPass()
}

extension EthernetDevice {
    /// A fresh slice with the configured budgets.
    func makeReadSlice() -> EthernetReadSlice {
        let limits = host.limits
        return EthernetReadSlice(
            framesPerPass: limits.ethernetReadFramesPerPass, bytesPerPass: limits.ethernetReadBytesPerPass)
    }

    /// `reader` switched or read something this pass: its slice is reset at the end of the pass.
    func noteRead(_ reader: EthernetSlicedReader) {
        // Once the hub shuts down the pass is closed (`stop`), and a closed pass does not arm.
        guard !reader.slice.isListed, let passEnd else { return }
        reader.slice.isListed = true
        slicedReaders.append(reader)
        if !passEnd.isArmed { passEnd.arm() }
    }

    /// End of a pass (libuv's check phase, after every connection was polled): every reader that read takes its
    /// next slice. One re-listed here is reset at the end of the next pass (`EndOfPass` semantics).
    func endReadPass() {
        // Taken (not copied) so the array's storage is reused without a copy-on-write.
        var readers: [EthernetSlicedReader] = []
        swap(&readers, &slicedReaders)
        for reader in readers {
            reader.slice.isListed = false
            reader.nextPass()
        }
        readers.removeAllKeepingCapacity()
        if slicedReaders.isEmpty { swap(&readers, &slicedReaders) }
    }
}

/// Opens (creating if needed) a Linux TAP interface through `/dev/net/tun` (TUNSETIFF with
/// IFF_TAP | IFF_NO_PI) and brings it up. Frames are read and written whole, one per syscall.
enum TapInterface {
    struct OpenError: Error, CustomStringConvertible {
        let description: String
    }

    /// Returns a non-blocking descriptor for the interface; `entry` names the configuration entry in errors.
    /// `mac` (validated `aa:bb:cc:dd:ee:ff`) is set before the interface comes up; `persistent` keeps the interface
    /// after the hub closes it (TUNSETPERSIST), so a restarted hub finds the same interface with its plumbing.
    static func open(interface: String, entry: String, mac: String? = nil, persistent: Bool = false) throws(OpenError)
        -> Int32
    {
        let fd: Int32
        do {
            fd = try TunTap.open(name: interface, persistent: persistent)
        } catch {
            throw OpenError(description: describe(error, interface: interface, entry: entry))
        }
        if let mac {
            do {
                let octets = mac.split(separator: ":").compactMap { UInt8($0, radix: 16) }
                try TunTap.setHardwareAddress(name: interface, octets)
            } catch {
                Descriptors.close(fd)
                throw OpenError(description: "\(entry).mac: cannot set \(mac) on '\(interface)': \(error.reason)")
            }
        }
        // IFF_UP so frames flow at once; failure is harmless (the test or admin may do it later).
        try? TunTap.bringUp(name: interface)
        return fd
    }

    /// The configuration error for a tap that could not be opened, by the step that failed.
    static func describe(_ error: SystemError, interface: String, entry: String) -> String {
        let noPermission = error.code == SystemError.permissionDenied || error.code == SystemError.accessDenied
        switch error.operation {
        case "open /dev/net/tun":
            if noPermission {
                return
                    "\(entry): cannot create tap '\(interface)': no permission to open /dev/net/tun (run as root or with CAP_NET_ADMIN)"
            }
            if SystemError.noDevice.contains(error.code) {
                return
                    "\(entry): cannot create tap '\(interface)': /dev/net/tun does not exist (load the tun module, or give a container --device /dev/net/tun)"
            }
            return "\(entry): cannot open /dev/net/tun: \(error.reason)"
        case "TUNSETIFF":
            let reason =
                noPermission
                ? "no permission (the hub needs CAP_NET_ADMIN to create a tap interface)"
                : error.code == SystemError.busy
                    ? "the interface exists and is not a free tap (another process holds it?)" : error.reason
            return "\(entry): cannot create tap '\(interface)': TUNSETIFF: \(reason)"
        default:
            return "\(entry).persistent: \(error.operation) on '\(interface)': \(error.reason)"
        }
    }

    /// The kernel's drop counters for the interface (`/sys/class/net/IF/statistics`), read when ports are listed,
    /// never per frame. `txDropped`: frames the host sent towards the hub that the tap's queue dropped (the hub
    /// read too slowly); `rxDropped`: frames the hub wrote that the kernel dropped. `nil` when unreadable.
    static func kernelDrops(_ interface: String) -> (txDropped: UInt64, rxDropped: UInt64)? {
        guard let tx = readCounter(interface, "tx_dropped"), let rx = readCounter(interface, "rx_dropped") else {
            return nil
        }
        return (tx, rx)
    }

    private static func readCounter(_ interface: String, _ name: String) -> UInt64? {
        // The name was validated (no '/'): the path stays inside the interface's statistics directory.
        guard let bytes = try? Files.readSmall("/sys/class/net/\(interface)/statistics/\(name)", limit: 32),
            !bytes.isEmpty
        else { return nil }
        return UInt64(String(decoding: bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self))
    }
}
