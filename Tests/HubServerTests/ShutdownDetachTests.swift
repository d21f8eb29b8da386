import Glibc
import GuestWire
import HubGuest
import Testing

/// `Protocols/guest.md` §9.3: when the hub stops, every attached guest gets DETACH before its connection closes.
@Suite struct ShutdownDetachTests {
    @Test func everyAttachedGuestGetsDetachWhenTheHubShutsDown() throws {
        let hub = try HubHarness()
        var guests: [GuestClient] = []
        for (index, partition) in ["rtos", "linux", "secure", "mgmt"].enumerated() {
            let endpoint = index % 2 == 0 ? "unix:\(hub.guestUnix)" : "tcp:127.0.0.1:\(hub.guestTCPPort)"
            guests.append(
                try GuestClient.connect(endpoint: endpoint, partition: partition, secret: "\(partition)-dev-secret"))
        }
        #expect(hub.shutdown("SIGTERM"))
        for guest in guests {
            var detach: String?
            while detach == nil, let event = try? guest.nextEvent(timeout: 5) {
                if case .detach(let reason) = event { detach = reason }
            }
            #expect(detach == "shutdown")
        }
        #expect(hub.waitForExit() == 0)
    }

    /// A guest that never reads, with a megabyte of deliveries stuck in front of its DETACH, cannot hold the
    /// shutdown: the others still get DETACH and the loop ends (leak-free) after the grace period.
    @Test func aGuestThatNeverReadsDoesNotHoldTheShutdown() throws {
        let hub = try HubHarness()
        let stuck = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "linux", secret: "linux-dev-secret")
        let rtos = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret")
        let link = try #require(rtos.welcome.links.first { $0.name == "rtos-linux" })
        let payload = [UInt8](repeating: 0x42, count: Int(link.maxMessage))
        try rtos.sendMessages(link: link.id, payloads: Array(repeating: payload[...], count: Int(link.initialCredit)))
        try rtos.heartbeat()  // every send handled, deliveries queued towards the guest that does not read
        #expect(hub.shutdown("SIGTERM"))
        var detach: String?
        while detach == nil, let event = try? rtos.nextEvent(timeout: 5) {
            if case .detach(let reason) = event { detach = reason }
        }
        #expect(detach == "shutdown")
        #expect(hub.waitForExit() == 0)
        _ = stuck
    }
}
