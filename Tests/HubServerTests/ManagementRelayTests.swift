import Crypto
import Foundation
import HubControlClient
import HubGuest
import JSON
import ManagementWire
import PlatformConfig
import Testing

/// The management plane in a whole hub (`Protocols/management.md`): the `mgmt` partition relays through the
/// Swift guest client's helper, the control API submits, both share one counter; the counter outlives a
/// restart of the hub over the same state directory.
@Suite struct ManagementRelayTests {
    static var key: Curve25519.Signing.PrivateKey {
        try! Curve25519.Signing.PrivateKey(rawRepresentation: Array(0..<32) as [UInt8])
    }

    static func envelope(counter: UInt64) -> [UInt8] {
        let command = ManagementCommand(
            operation: "upgrade", target: "linux", authority: "designer", counter: counter,
            expiresAtMs: UInt64(Date().timeIntervalSince1970 * 1000) + 60_000)
        let input = ManagementCodec.signingInput(ManagementCodec.encodeBody(command))
        let keyID = Array(SHA256.hash(data: Array(key.publicKey.rawRepresentation)).prefix(8))
        let signature = ManagementSignature(keyID: keyID, signature: Array(try! key.signature(for: input)))
        return ManagementCodec.encodeEnvelope(ManagementEnvelope(body: command, signatures: [signature]))
    }

    static func configure(_ state: String) -> (inout PlatformConfiguration) -> Void {
        { configuration in
            configuration.hub.stateDirectory = state
            for index in configuration.partitions.indices where configuration.partitions[index].name == "mgmt" {
                configuration.partitions[index].mayManage = true
            }
            configuration.management = ManagementConfig(authorities: [
                ManagementAuthorityConfig(
                    name: "designer",
                    keys: [Self.key.publicKey.rawRepresentation.map { String(format: "%02x", $0) }.joined()],
                    grants: [ManagementGrant(operations: ["upgrade"], partitions: ["linux"])])
            ])
        }
    }

    static func submit(_ hub: HubHarness, _ envelope: [UInt8]) throws -> String {
        let client = try HubControlClient(address: "unix:\(hub.controlUnix)")
        do {
            _ = try client.call("mgmt.submit", ["envelope": .string(Data(envelope).base64EncodedString())])
            return "accepted"
        } catch {
            guard case .server(let serverError) = error else { throw error }
            return serverError.reason ?? "?"
        }
    }

    @Test func relayAndControlShareOneVerifierAcrossRestarts() throws {
        let state = "/tmp/hubtest-mgmt-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        let hub = try HubHarness(configure: Self.configure(state))
        let mgmt = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "mgmt", secret: "mgmt-dev-secret")
        try mgmt.openManagementRelay(channel: 3)
        // Verified, so its counter is spent; the slot executor then refuses an upgrade naming no bundle.
        #expect(try mgmt.relayManagementCommand(Self.envelope(counter: 1), channel: 3).code == "bad_parameters")
        #expect(try Self.submit(hub, Self.envelope(counter: 1)) == "replayed")
        #expect(try mgmt.relayManagementCommand([0x48, 0x48], channel: 3).code == "bad_envelope")
        let linux = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "linux", secret: "linux-dev-secret")
        #expect(throws: GuestClientError.self) { try linux.openManagementRelay(channel: 3) }
        mgmt.close()
        linux.close()
        #expect(hub.stop() == 0)

        let again = try HubHarness(configure: Self.configure(state))
        let relay = try GuestClient.connect(
            endpoint: "unix:\(again.guestUnix)", partition: "mgmt", secret: "mgmt-dev-secret")
        try relay.openManagementRelay(channel: 3)
        #expect(try relay.relayManagementCommand(Self.envelope(counter: 1), channel: 3).code == "replayed")
        #expect(try Self.submit(again, Self.envelope(counter: 2)) == "bad_parameters")
        relay.close()
        #expect(again.stop() == 0)
    }
}
