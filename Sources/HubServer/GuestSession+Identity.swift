import GuestWire
import Hypervisor

/// Identity-stamped sends and per-link rate budgets (`Protocols/guest.md` §7.12). The identity is checked by the
/// codec and stored with the message by the model; the budgets live in the model's link directions.
extension GuestSession {
    /// `MSG_SEND_AS` from a session that did not negotiate `identity` is an unknown type (§11).
    func refuseIdentitySend(request: UInt32) {
        sendError(
            .unknownFrameType, "MSG_SEND_AS needs the '\(GuestProtocol.identityFeature)' feature in HELLO",
            requestId: request)
    }
}
