import GuestWire
import KeyServiceWire

/// Asks the `secure` partition's key service (`Protocols/keyservice.md`) over one of this guest's links.
///
/// Each call sends one request (as `MSG_SEND_AS` when `identity` is set: attach with
/// `GuestProtocol.identityFeature`) and waits for the service's answer with the same correlation; frames that
/// arrive meanwhile stay queued, in order, for `receive`/`nextEvent`. The answer is acknowledged unless an earlier
/// message on the link was put back for the caller (acknowledgements are cumulative).
public final class KeyServiceClient {
    public let guest: GuestClient
    public let link: UInt32
    public let identity: String?
    public var timeout: Double
    private var nextCorrelation: UInt64

    /// Why a call did not get an `ok` answer.
    public enum Failure: Error, Sendable, Equatable {
        /// The hub refused the request itself (for instance `rateLimited`): the service never saw it.
        case send(GuestSendStatus)
        /// The service answered with this status (`notPermitted`, `notFound`...).
        case refused(KeyServiceStatus, reason: String)
        /// The answer could not be decoded, or did not answer the request.
        case malformed(String)
        case client(GuestClientError)
    }

    public init(guest: GuestClient, link: UInt32, identity: String? = nil, timeout: Double = 5) {
        self.guest = guest
        self.link = link
        self.identity = identity
        self.timeout = timeout
        // Distinct from other clients' correlations on the same guest in practice (the high half is random).
        nextCorrelation = UInt64(UInt32.random(in: 1...UInt32.max)) << 32
    }

    /// Sends `request` and returns the service's response, whatever its status.
    public func call(_ request: KeyServiceRequest) throws(Failure) -> KeyServiceResponse {
        nextCorrelation &+= 1
        let correlation = nextCorrelation
        let payload = KeyServiceCodec.encode(request)
        let outcome: SendOutcome
        do {
            outcome =
                if let identity {
                    try guest.send(link: link, as: identity, payload: payload, correlation: correlation)
                } else {
                    try guest.send(link: link, payload: payload, correlation: correlation)
                }
        } catch { throw .client(error) }
        guard outcome.status == .queued else { throw .send(outcome.status) }
        let answer = try awaitAnswer(correlation)
        switch KeyServiceCodec.decodeResponse(answer) {
        case .success(let response):
            guard response.op == request.op.rawValue || response.status != .ok else {
                throw .malformed("answer for op \(response.op) to a \(request.op) request")
            }
            return response
        case .failure(let error): throw .malformed(error.reason)
        }
    }

    public func publicKey() throws(Failure) -> [UInt8] {
        guard case .publicKey(let key) = try ok(.publicKey) else { throw .malformed("no public key") }
        return key
    }

    public func sign(_ data: [UInt8]) throws(Failure) -> [UInt8] {
        guard case .signature(let signature) = try ok(.sign(data: data)) else { throw .malformed("no signature") }
        return signature
    }

    public func verify(signature: [UInt8], data: [UInt8]) throws(Failure) -> Bool {
        guard case .valid(let valid) = try ok(.verify(signature: signature, data: data)) else {
            throw .malformed("no verdict")
        }
        return valid
    }

    public func put(_ name: String, _ value: [UInt8]) throws(Failure) { _ = try ok(.put(name: name, value: value)) }

    public func get(_ name: String) throws(Failure) -> [UInt8] {
        guard case .value(let value) = try ok(.get(name: name)) else { throw .malformed("no value") }
        return value
    }

    private func ok(_ request: KeyServiceRequest) throws(Failure) -> KeyServiceResult? {
        let response = try call(request)
        guard response.status == .ok else { throw .refused(response.status, reason: response.reason) }
        return response.result
    }

    private static func isDelivery(_ frame: GuestFrame, on link: UInt32) -> Bool {
        switch frame.message {
        case .msgDeliver(let delivery), .msgDeliverAs(let delivery, _): delivery.link == link
        default: false
        }
    }

    /// The payload of the delivery on `link` carrying `correlation`; everything else read meanwhile is put back.
    private func awaitAnswer(_ correlation: UInt64) throws(Failure) -> [UInt8] {
        let deadline = GuestClient.now() + timeout
        var skipped: [GuestFrame] = []
        defer { guest.requeueFront(skipped) }
        while true {
            let remaining = deadline - GuestClient.now()
            let frame: GuestFrame?
            do { frame = try guest.receive(timeout: max(0, remaining)) } catch { throw .client(error) }
            guard let frame else { throw .client(.timeout) }
            let delivery: GuestDelivery? =
                switch frame.message {
                case .msgDeliver(let delivery), .msgDeliverAs(let delivery, _): delivery
                default: nil
                }
            if let delivery, delivery.link == link, delivery.correlation == correlation {
                // MSG_ACK is cumulative (`Protocols/guest.md` §7.4): acknowledge only when no earlier message on the
                // link waits for the caller among the frames put back; the caller's own acknowledgement covers it.
                if !skipped.contains(where: { Self.isDelivery($0, on: link) }) {
                    do { try guest.ack(link: link, upTo: delivery.messageId) } catch { throw .client(error) }
                }
                return Array(delivery.payload)
            }
            skipped.append(frame)
        }
    }
}
