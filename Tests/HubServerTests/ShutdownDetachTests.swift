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
        #expect(hub.waitForExit(timeoutMilliseconds: 5000) == 0)
    }
}
