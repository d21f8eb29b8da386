import DeviceKit
import GuestWire
import HubSystem

/// The hub's side of a guest's open device channel: a `GuestChannelEndpoint` backed by the guest's session
/// (`Protocols/guest.md` §10). Holds the session weakly: a channel outliving its session answers "closed".
final class SessionChannelEndpoint: GuestChannelEndpoint {
    let partition: String
    let channel: UInt16
    private weak var session: GuestSession?

    init(partition: String, channel: UInt16, session: GuestSession) {
        self.partition = partition
        self.channel = channel
        self.session = session
    }

    var isOpen: Bool { session?.hasChannel(channel) ?? false }

    var isCongested: Bool { session?.isWriteQueueFull ?? true }

    func holdInputUntilNextPass() { session?.holdInputUntilNextPass() }

    @discardableResult
    func send(_ data: ArraySlice<UInt8>) -> Bool {
        guard let session, session.hasChannel(channel) else { return false }
        session.queueChannelData(channel, data)
        return true
    }

    var passesDescriptors: Bool { session?.passesDescriptors ?? false }

    @discardableResult
    func send(_ data: [UInt8], passingOwned descriptor: Int32) -> Bool {
        guard let session, session.hasChannel(channel), session.passesDescriptors else {
            close(descriptor: descriptor)
            return false
        }
        session.queueChannelData(channel, data, passing: descriptor, ownsDescriptor: true)
        return true
    }

    private func close(descriptor: Int32) { Descriptors.close(descriptor) }

    func sendError(_ code: GuestErrorCode, reason: String) {
        session?.queueChannelError(channel, code: code, reason: reason)
    }

    func close(code: UInt16, reason: String) {
        session?.closeChannelFromDevice(channel, code: code, reason: reason)
    }
}
