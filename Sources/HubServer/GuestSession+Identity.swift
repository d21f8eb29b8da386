import GuestWire
import Hypervisor
import JSON

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

extension Hub {
    /// A link direction's rate budget for `link.get` / `link.list`: null when unlimited.
    static func rateLimitJSON(_ snapshot: LinkDirectionSnapshot) -> JSON {
        guard let limit = snapshot.rateLimit else { return .null }
        return [
            "messagesPerSecond": .int(Int64(limit.messagesPerSecond)),
            "bytesPerSecond": .int(Int64(limit.bytesPerSecond)),
            "burstMessages": snapshot.burstMessages.map { .uint($0) } ?? .null,
            "burstBytes": snapshot.burstBytes.map { .uint($0) } ?? .null,
            "availableMessages": snapshot.availableMessages.map { .uint($0) } ?? .null,
            "availableBytes": snapshot.availableBytes.map { .uint($0) } ?? .null,
        ]
    }
}
