import GuestWire
import ManagementWire

/// The hub's answer to one relayed management command (`Protocols/management.md` §2.3).
public struct ManagementRelayAnswer: Sendable, Equatable {
    /// `accepted`, or the refusal code (`Protocols/management.md` §4).
    public var code: String
    /// Why, for people; empty when accepted.
    public var detail: String
    /// The operation's output as JSON text; empty when refused.
    public var output: String
}

extension GuestClient {
    /// The device a partition with `mayManage` opens to relay management commands.
    public static let managementRelayDevice = "management"

    /// Opens the management relay on `channel` (`Protocols/management.md` §2.3); a partition without
    /// `mayManage` is refused (`rejected`, `not_permitted`).
    public func openManagementRelay(channel: UInt16) throws(GuestClientError) {
        _ = try openChannel(channel, device: Self.managementRelayDevice)
    }

    /// Relays one signed envelope (as `hubctl mgmt sign` makes, decoded from base64) on the relay `channel` and
    /// waits up to `timeout` seconds for the hub's verdict. The relay carries commands, never authority: the
    /// hub verifies the envelope exactly as one from its control API. Frames that arrive meanwhile and are not
    /// the answer stay queued, in order, for `receive` and `nextEvent`.
    public func relayManagementCommand(_ envelope: [UInt8], channel: UInt16, timeout: Double = 5)
        throws(GuestClientError) -> ManagementRelayAnswer
    {
        try sendChannelData(channel, envelope)
        let deadline = Self.now() + timeout
        while true {
            if let frame = takeQueued(where: { $0.channel == channel && $0.type == .channelData }),
                case .channelData(let data) = frame.message
            {
                do {
                    let result = try ManagementRelayResult.decode(data)
                    return ManagementRelayAnswer(code: result.code, detail: result.detail, output: result.output)
                } catch {
                    throw .malformed("management relay answer: \(error.kind)")
                }
            }
            let remaining = deadline - Self.now()
            guard remaining > 0, try fill(timeout: remaining) else { throw .timeout }
        }
    }
}

extension GuestClient {
    /// A local request on the management channel (`Protocols/management.md` §2.6): `json` is one JSON object
    /// (`{"operation":"errors.read","partition":"linux"}`); the answer's `output` is the method's result as
    /// JSON text when `code` is `accepted`. Open the channel first (`openManagementRelay`).
    public func requestManagementLocal(_ json: String, channel: UInt16, timeout: Double = 5)
        throws(GuestClientError) -> ManagementRelayAnswer
    {
        try relayManagementCommand(
            ManagementLocalRequest.encode(json: Array(json.utf8)), channel: channel, timeout: timeout)
    }
}
