import GuestWire
import JSON

/// A device family plugged into the hub (Ethernet segments, the modem, the framebuffer…).
///
/// Each device module provides one type conforming to this; the hub's `makeDevices()` lists them. The hub
/// calls `start` once its own listeners are up, `stop` at shutdown, and routes a guest's `CHANNEL_OPEN` naming
/// one of `channelDeviceNames` to `openChannel`. Everything the device may ask of the hub comes through the
/// `DeviceHost` handed to `start` (`Sources/ARCHITECTURE.md`, "Where a new device goes").
package protocol HubDevice: AnyObject {
    /// For logs and `hub.limits`.
    var familyName: String { get }
    /// Opens listeners, registers control methods (`host.register`). Errors name the configuration entry
    /// responsible.
    func start(host: any DeviceHost) throws(HubStartError)
    /// Closes every handle the device owns. Must not block.
    func stop()
    /// Device names a guest may open a channel to (`Protocols/guest.md` §10).
    var channelDeviceNames: [String] { get }
    /// Opens a device channel for an attached guest; the device checks the partition's grant.
    func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: any GuestChannelEndpoint) -> Result<
        any GuestChannel, GuestChannelRefusal
    >
    /// The device's limits, shown under its family name by `hub.limits`.
    var limitsJSON: JSON { get }
    /// A partition detached (crash, restart, take-over): release what it held.
    func partitionDetached(_ partition: String)
}

extension HubDevice {
    package var channelDeviceNames: [String] { [] }
    package func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: any GuestChannelEndpoint)
        -> Result<any GuestChannel, GuestChannelRefusal>
    { .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "\(device) has no guest channel")) }
    package var limitsJSON: JSON { [:] }
    package func partitionDetached(_ partition: String) {}
}

/// Why a channel could not be opened; becomes the `ERROR` frame on that channel.
package struct GuestChannelRefusal: Error {
    package var code: GuestErrorCode
    package var reason: String

    package init(code: GuestErrorCode, reason: String) {
        self.code = code
        self.reason = reason
    }
}

/// The device's side of an open channel: what the guest sends arrives here.
package protocol GuestChannel: AnyObject {
    /// Largest `CHANNEL_DATA` payload the device accepts (announced in `CHANNEL_OPENED`).
    var maxData: UInt32 { get }
    /// Options returned in `CHANNEL_OPENED` (device-defined).
    var openedOptions: [UInt8] { get }
    /// One `CHANNEL_DATA` payload from the guest.
    func received(_ data: ArraySlice<UInt8>)
    /// The guest closed the channel, or its session ended. Called once.
    func closed(reason: String)
}

/// The hub's side of an open channel, handed to the device: how it talks back to the guest
/// (`Protocols/guest.md` §10). The hub's implementation is backed by the guest's session; tests use
/// `DeviceKitTesting.FakeChannelEndpoint`.
package protocol GuestChannelEndpoint: AnyObject {
    /// The partition whose guest opened the channel.
    var partition: String { get }
    /// The channel number on the guest's connection.
    var channel: UInt16 { get }
    /// Whether the guest's connection is still there.
    var isOpen: Bool { get }
    /// Whether the guest reads too slowly (its write queue is over the high watermark): lossy devices drop.
    var isCongested: Bool { get }
    /// The device took its share of the guest's input this pass: read nothing more from it until the next pass.
    func holdInputUntilNextPass()
    /// Queues one `CHANNEL_DATA` frame to the guest (sent at the end of the loop pass). False when the channel
    /// is gone.
    @discardableResult
    func send(_ data: ArraySlice<UInt8>) -> Bool
    /// Whether this channel can pass descriptors (`SCM_RIGHTS`): the guest is on a Unix socket.
    var passesDescriptors: Bool { get }
    /// Queues one `CHANNEL_DATA` frame with `descriptor` riding on its first byte (`SCM_RIGHTS`, sent the
    /// way `REGION_FD` is). The endpoint takes `descriptor` and closes it once sent or dropped, so pass a
    /// duplicate of anything the device keeps. False (and `descriptor` closed) when the channel is gone or the
    /// transport cannot pass descriptors.
    @discardableResult
    func send(_ data: [UInt8], passingOwned descriptor: Int32) -> Bool
    /// Refuses a guest's command with a guest-protocol `ERROR` frame on this channel (`Protocols/guest.md`
    /// §5.5; request id 0). The channel stays open.
    func sendError(_ code: GuestErrorCode, reason: String)
    /// Closes the channel from the device side with a code of `Protocols/guest.md` §5.5 (0 = normal).
    func close(code: UInt16, reason: String)
}

extension GuestChannelEndpoint {
    /// Queues one `CHANNEL_DATA` frame to the guest.
    @discardableResult
    package func send(_ data: [UInt8]) -> Bool { send(data[...]) }

    /// Closes the channel from the device side normally (code 0).
    package func close(reason: String) { close(code: 0, reason: reason) }
}
