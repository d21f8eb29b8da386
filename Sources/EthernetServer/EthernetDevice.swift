import ControlWire
import DeviceKit
import Ethernet
import EthernetWire
import EventLoop
import JSON
import PlatformConfig

/// The virtual Ethernet family (`Protocols/ethernet.md`): one `Switch` per configured segment, each port
/// bound to its transport. Frames from one read are all handed to the switch, then every port with
/// queued frames is written once at the next loop pass.
///
/// Files of this module (`Sources/ARCHITECTURE.md`, "Where a new device goes"): this one (the device, its
/// start and stop, guest channels' opening, `hub.limits`), `EthernetSegment.swift` (segments and ports at run
/// time), `EthernetAttachments.swift` (the transports and the guest channel), `EthernetMethods.swift` (the
/// `eth.*` methods), `EthernetWaits.swift` (`eth.wait`), `EthernetCounters.swift` (counters as JSON),
/// `EthernetReadSlice.swift`, `EthernetCapture.swift`, `TapInterface.swift`.
package final class EthernetDevice: HubDevice {
    package let familyName = "ethernet"
    private(set) var segments: [EthernetSegment] = []
    /// The hub, from `start` on (it outlives its devices).
    private(set) unowned var host: (any DeviceHost)!
    private var flushTimer: Timer?
    private var flushScheduled = false
    private var dirty: [EthernetSegment] = []
    /// Pending `eth.wait` calls, across segments (`EthernetWaits.swift`).
    private(set) var waits: DeferredWaits<FrameWatch>!
    /// Attachments that read this pass, reset at its end (`EthernetReadSlice`).
    var slicedReaders: [EthernetSlicedReader] = []
    var readPass: EndOfPass?

    package init() {}

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        do {
            flushTimer = try Timer(loop: host.loop)
            readPass = try EndOfPass(loop: host.loop)
        } catch {
            throw .loop(error)
        }
        // The name and reason `eth.wait` has always refused with (`Protocols/control.md` §13.9).
        waits = host.makeWaits(limitName: "eth.maxWatches", reason: "limit_exceeded")
        for (index, config) in host.configuration.devices.ethernet.enumerated() {
            let segment = EthernetSegment(config: config, index: index, device: self)
            segments.append(segment)
            try segment.start(loop: host.loop)
        }
        host.register(methods)
    }

    package func stop() {
        waits?.finishAll(.error(.unavailable("the hub is shutting down")))
        waits?.close()
        for segment in segments { segment.stop() }
        flushTimer?.close()
        readPass?.close()
        slicedReaders.removeAll()
    }

    package var channelDeviceNames: [String] { segments.map(\.name) }

    package func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: any GuestChannelEndpoint)
        -> Result<any GuestChannel, GuestChannelRefusal>
    {
        guard let segment = segment(named: device) else {
            return .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "no segment \(device)"))
        }
        guard host.configuration.partition(named: endpoint.partition)?.grant(for: device) != nil else {
            return .failure(
                GuestChannelRefusal(code: .notPermitted, reason: "\(endpoint.partition) has no grant for \(device)"))
        }
        guard let port = segment.ports.first(where: { $0.config.partition == endpoint.partition }),
            let guest = port.attachment as? GuestPortAttachment
        else {
            return .failure(
                GuestChannelRefusal(
                    code: .noSuchDevice, reason: "\(device) has no port for partition \(endpoint.partition)"))
        }
        if let previous = guest.endpoint, previous.isOpen {
            return .failure(
                GuestChannelRefusal(code: .channelInUse, reason: "\(device) is already open on this partition"))
        }
        guest.endpoint = endpoint
        port.setCarrier(true)
        let channel = EthernetGuestChannel(port: port, maxFrame: segment.maxFrame)
        guest.channel = channel
        return .success(channel)
    }

    package var limitsJSON: JSON {
        let limits = host.limits
        return [
            "segments": .int(Int64(segments.count)), "maxWatches": .int(Int64(waits?.limit ?? 0)),
            "macTableLimit": .int(Int64(Switch.defaultMACTableLimit)),
            "streamMaxFrameBytes": .int(Int64(StreamFraming.qemuMaxFrame)),
            "macLimitPerPort": .int(Int64(limits.ethernetMACLimitPerPort)),
            "readFramesPerPass": .int(Int64(limits.ethernetReadFramesPerPass)),
            "readBytesPerPass": .int(Int64(limits.ethernetReadBytesPerPass)),
        ]
    }

    package func partitionDetached(_ partition: String) {
        for segment in segments {
            for port in segment.ports {
                guard let guest = port.attachment as? GuestPortAttachment, guest.partition == partition else {
                    continue
                }
                guest.endpoint = nil
                port.setCarrier(false)
            }
        }
    }

    /// Where a stream port listens now (the bound port when the configuration said port 0), for
    /// launching QEMU guests on it.
    package func streamEndpoint(segment: String, port: String) -> Endpoint? {
        let runtime = self.segment(named: segment)?.port(named: port)
        return (runtime?.attachment as? StreamAttachment)?.boundEndpoint
    }

    func segment(named name: String) -> EthernetSegment? { segments.first { $0.name == name } }

    /// Writes every segment's ready ports at the next loop pass.
    func scheduleFlush(_ segment: EthernetSegment) {
        if !segment.isDirty {
            segment.isDirty = true
            dirty.append(segment)
        }
        guard !flushScheduled, let flushTimer, !host.isShuttingDown else { return }
        flushScheduled = true
        flushTimer.start(afterMilliseconds: 0) { [unowned self] in
            self.flushScheduled = false
            let segments = self.dirty
            self.dirty.removeAll(keepingCapacity: true)
            for segment in segments {
                segment.isDirty = false
                segment.flush()
            }
        }
    }
}
