import DeviceKit
import GuestWire
import JSON
import Management
import ManagementWire

/// How the `mgmt` partition relays commands (`Protocols/management.md` §2.3): a guest whose partition has
/// `mayManage` opens the `management` device channel; each `CHANNEL_DATA` it sends is one envelope, submitted
/// exactly as `mgmt.submit` submits one (source `guest:PARTITION`), and answered by one `CHANNEL_DATA` with
/// the result. One envelope per loop pass per channel: each may write the trusted state and the audit log.
extension ManagementDevice {
    /// The device name guests open.
    static let channelName = "management"

    package var channelDeviceNames: [String] { [Self.channelName] }

    package func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: any GuestChannelEndpoint)
        -> Result<any GuestChannel, GuestChannelRefusal>
    {
        guard device == Self.channelName else {
            return .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "no device \(device)"))
        }
        guard host?.configuration.partition(named: endpoint.partition)?.mayManage == true else {
            counters.count("relay_not_permitted")
            return .failure(
                GuestChannelRefusal(code: .notPermitted, reason: "\(endpoint.partition) may not relay (mayManage)"))
        }
        return .success(ManagementRelayChannel(device: self, endpoint: endpoint))
    }
}

/// One open relay channel.
final class ManagementRelayChannel: GuestChannel {
    private unowned let device: ManagementDevice
    private let endpoint: any GuestChannelEndpoint

    init(device: ManagementDevice, endpoint: any GuestChannelEndpoint) {
        self.device = device
        self.endpoint = endpoint
    }

    var maxData: UInt32 { UInt32(ManagementCodec.maxEnvelopeBytes) }
    var openedOptions: [UInt8] { [] }

    func received(_ data: ArraySlice<UInt8>) {
        let answer: ManagementRelayResult
        switch device.submit(data, source: "guest:\(endpoint.partition)") {
        case .success(let output): answer = ManagementRelayResult(code: "accepted", output: output.serialized())
        case .failure(let refusal): answer = ManagementRelayResult(code: refusal.code, detail: refusal.detail)
        }
        endpoint.send(answer.encoded())
        endpoint.holdInputUntilNextPass()
    }

    func closed(reason: String) {}
}
