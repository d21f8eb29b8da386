import GuestWire

extension GuestSession {
    /// The power frames (`Protocols/power.md`, feature `power`), answered by the power device.
    func power(_ message: GuestMessage, requestId request: UInt32) {
        guard powerFrames, let partition, let device = hub.power else {
            return sendError(
                .unknownFrameType, "\(message.type) needs the '\(GuestProtocol.powerFeature)' feature in HELLO",
                requestId: request)
        }
        switch device.guestFrame(message, from: partition) {
        case .ok: if request != 0 { queue(GuestFrame(.ok, requestId: request)) }
        case .frame(let answer, let always): if request != 0 || always { queue(GuestFrame(answer, requestId: request)) }
        case .error(let code, let reason): sendError(code, reason, requestId: request)
        }
    }
}
