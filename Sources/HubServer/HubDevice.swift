import ControlWire
import GuestWire
import HubSystem
import JSON

/// A device family plugged into the hub (Ethernet segments, the modem, the framebuffer…).
///
/// Each device module provides one type conforming to this; `Hub+Devices.swift` lists them. The hub
/// calls `start` once its own listeners are up, `stop` at shutdown, and routes a guest's
/// `CHANNEL_OPEN` naming one of `channelDeviceNames` to `openChannel`. Methods are registered on the
/// hub's router by the device itself in `start`, in the style of `Protocols/control.md`.
protocol HubDevice: AnyObject {
    /// For logs and `hub.limits`.
    var familyName: String { get }
    /// Opens listeners, registers control methods. Errors name the configuration entry responsible.
    func start(hub: Hub) throws(HubStartError)
    /// Closes every handle the device owns. Must not block.
    func stop()
    /// Device names a guest may open a channel to (`Protocols/guest.md` §10).
    var channelDeviceNames: [String] { get }
    /// Opens a device channel for an attached guest; the device checks the partition's grant.
    func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: GuestChannelEndpoint) -> Result<
        GuestChannel, GuestChannelRefusal
    >
    /// The device's limits, shown under its family name by `hub.limits`.
    var limitsJSON: JSON { get }
    /// A partition detached (crash, restart, take-over): release what it held.
    func partitionDetached(_ partition: String)
}

extension HubDevice {
    var channelDeviceNames: [String] { [] }
    func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: GuestChannelEndpoint) -> Result<
        GuestChannel, GuestChannelRefusal
    > { .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "\(device) has no guest channel")) }
    var limitsJSON: JSON { [:] }
    func partitionDetached(_ partition: String) {}
}

/// Why a channel could not be opened; becomes the `ERROR` frame on that channel.
struct GuestChannelRefusal: Error {
    var code: GuestErrorCode
    var reason: String
}

/// The device's side of an open channel: what the guest sends arrives here.
protocol GuestChannel: AnyObject {
    /// Largest `CHANNEL_DATA` payload the device accepts (announced in `CHANNEL_OPENED`).
    var maxData: UInt32 { get }
    /// Options returned in `CHANNEL_OPENED` (device-defined).
    var openedOptions: [UInt8] { get }
    /// One `CHANNEL_DATA` payload from the guest.
    func received(_ data: ArraySlice<UInt8>)
    /// The guest closed the channel, or its session ended. Called once.
    func closed(reason: String)
}

/// The hub's side of an open channel, handed to the device: how it talks back to the guest.
final class GuestChannelEndpoint {
    let partition: String
    let channel: UInt16
    private weak var session: GuestSession?

    init(partition: String, channel: UInt16, session: GuestSession) {
        self.partition = partition
        self.channel = channel
        self.session = session
    }

    /// Whether the guest's connection is still there.
    var isOpen: Bool { session?.hasChannel(channel) ?? false }

    /// Whether the guest reads too slowly (its write queue is over the high watermark): lossy devices drop.
    var isCongested: Bool { session?.isWriteQueueFull ?? true }

    /// The device took its share of the guest's input this pass: read nothing more from it until the next pass.
    func holdInputUntilNextPass() { session?.holdInputUntilNextPass() }

    /// Queues one `CHANNEL_DATA` frame to the guest (sent at the end of the loop pass).
    @discardableResult
    func send(_ data: some Collection<UInt8>) -> Bool {
        guard let session, session.hasChannel(channel) else { return false }
        session.queueChannelData(channel, data)
        return true
    }

    /// Whether this channel can pass descriptors (`SCM_RIGHTS`): the guest is on a Unix socket.
    var passesDescriptors: Bool { session?.passesDescriptors ?? false }

    /// Queues one `CHANNEL_DATA` frame with `descriptor` riding on its first byte (`SCM_RIGHTS`, sent the
    /// way `REGION_FD` is: by `sendmsg` once libuv has nothing unsent). The session takes `descriptor`
    /// and closes it once sent or dropped, so pass a duplicate of anything the device keeps.
    /// False (and `descriptor` closed) when the channel is gone or the transport cannot pass descriptors.
    @discardableResult
    func send(_ data: some Collection<UInt8>, passingOwned descriptor: Int32) -> Bool {
        guard let session, session.hasChannel(channel), session.passesDescriptors else {
            close(descriptor: descriptor)
            return false
        }
        session.queueChannelData(channel, data, passing: descriptor, ownsDescriptor: true)
        return true
    }

    private func close(descriptor: Int32) { Descriptors.close(descriptor) }

    /// Refuses a guest's command with a guest-protocol `ERROR` frame on this channel (`Protocols/guest.md`
    /// §5.5; request id 0). The channel stays open.
    func sendError(_ code: GuestErrorCode, reason: String) {
        session?.queueChannelError(channel, code: code, reason: reason)
    }

    /// Closes the channel from the device side with a code of `Protocols/guest.md` §5.5 (0 = normal).
    func close(code: UInt16 = 0, reason: String) {
        session?.closeChannelFromDevice(channel, code: code, reason: reason)
    }
}
