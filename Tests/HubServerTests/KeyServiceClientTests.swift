import Crypto
import Glibc
import GuestWire
import HubGuest
import KeyServiceWire
import TestSupport
import Testing

/// `HubGuest`'s `KeyServiceClient` (`Protocols/keyservice.md`) through a real hub, against a minimal service played
/// by a guest on another thread: answers are matched by correlation, frames that arrive meanwhile stay queued for
/// the caller, the identity reaches the service, and a hub refusal is told apart from the service's.
@Suite struct KeyServiceClientTests {
    final class Handoff: @unchecked Sendable {  // SAFETY: handed to the service thread only.
        let client: GuestClient
        init(_ client: GuestClient) { self.client = client }
    }

    /// Answers `count` requests: signs with `key`, refuses anything else naming the requester it saw.
    private func serve(_ service: GuestClient, key: Curve25519.Signing.PrivateKey, count: Int) {
        let handoff = Handoff(service)
        let seed = key.rawRepresentation
        spawnThread {
            let service = handoff.client
            let key = try! Curve25519.Signing.PrivateKey(rawRepresentation: seed)
            var answered = 0
            while answered < count, let event = try? service.nextEvent(timeout: 5) {
                let (delivery, identity): (GuestDelivery, String?)
                switch event {
                case .message(let plain): (delivery, identity) = (plain, nil)
                case .identifiedMessage(let stamped, let who): (delivery, identity) = (stamped, who)
                default: continue
                }
                let response: KeyServiceResponse
                switch KeyServiceCodec.decodeRequest(delivery.payload) {
                case .success(.sign(let data)) where identity != "app.untrusted":
                    response = KeyServiceResponse(
                        op: KeyServiceOp.sign.rawValue, status: .ok,
                        result: .signature(Array(try! key.signature(for: data))))
                case .success(let request):
                    response = KeyServiceResponse(
                        op: request.op.rawValue, status: .notPermitted,
                        reason: "\(delivery.sender)/\(identity ?? "-") may not")
                case .failure(let error):
                    response = KeyServiceResponse(op: error.op, status: error.status, reason: error.reason)
                }
                _ = try? service.send(
                    link: delivery.link, payload: KeyServiceCodec.encode(response), correlation: delivery.correlation)
                try? service.ack(link: delivery.link, upTo: delivery.messageId)
                answered += 1
            }
        }
    }

    @Test func signaturesComeBackByCorrelationAndOtherFramesStayQueued() throws {
        let hub = try HubHarness()
        let service = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "secure", secret: "secure-dev-secret",
            features: [GuestProtocol.identityFeature])
        let key = Curve25519.Signing.PrivateKey()
        serve(service, key: key, count: 3)
        let linux = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "linux", secret: "linux-dev-secret",
            features: [GuestProtocol.identityFeature])
        let rtos = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret")
        let secureLink = try #require(linux.welcome.links.first { $0.name == "linux-secure" }).id
        let rtosLink = try #require(rtos.welcome.links.first { $0.name == "rtos-linux" }).id
        // A message from rtos arrives while linux waits for the key service: it must still be there afterwards.
        #expect(try rtos.send(link: rtosLink, payload: Array("hello".utf8)).status == .queued)
        usleep(50_000)

        let mail = KeyServiceClient(guest: linux, link: secureLink, identity: "app.mail")
        let data = Array("draft 7".utf8)
        let signature = try mail.sign(data)
        #expect(key.publicKey.isValidSignature(signature, for: data))
        let untrusted = KeyServiceClient(guest: linux, link: secureLink, identity: "app.untrusted")
        #expect(throws: KeyServiceClient.Failure.refused(.notPermitted, reason: "linux/app.untrusted may not")) {
            _ = try untrusted.sign(data)
        }
        let plain = KeyServiceClient(guest: linux, link: secureLink)
        #expect(throws: KeyServiceClient.Failure.refused(.notPermitted, reason: "linux/- may not")) {
            _ = try plain.get("pin")
        }
        var kept: GuestDelivery?
        while kept == nil, let event = try linux.nextEvent(timeout: 1) {
            if case .message(let delivery) = event { kept = delivery }
        }
        guard let kept else {
            Issue.record("rtos's message was lost while the helper waited")
            return
        }
        #expect(kept.sender == "rtos" && Array(kept.payload) == Array("hello".utf8))
        #expect(hub.stop() == 0)
    }

    @Test func aHubRefusalIsNotTheServices() throws {
        let hub = try HubHarness { configuration in
            let index = configuration.links.firstIndex { $0.name == "rtos-secure" }!
            configuration.links[index].rateLimit = .init(messagesPerSecond: 1)
        }
        let rtos = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret",
            features: [GuestProtocol.rateLimitFeature])
        let link = try #require(rtos.welcome.links.first { $0.name == "rtos-secure" }).id
        let client = KeyServiceClient(guest: rtos, link: link, timeout: 0.2)
        // The first request is queued (nobody answers it here); the second is over the budget.
        #expect(throws: KeyServiceClient.Failure.client(.timeout)) { _ = try client.publicKey() }
        #expect(throws: KeyServiceClient.Failure.send(.rateLimited)) { _ = try client.publicKey() }
        #expect(hub.stop() == 0)
    }
}
