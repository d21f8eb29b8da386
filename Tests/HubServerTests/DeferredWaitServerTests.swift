import Glibc
import JSON
import Testing

/// The one wait rule through the real control sessions (`Protocols/control.md` §8, `controlMaxWaiters`): each
/// family holds at most that many waits, and the waits of a client that disconnects are cancelled at once, so
/// they stop counting against the limit.
@Suite struct DeferredWaitServerTests {
    @Test func aDisconnectedClientsEthWaitNoLongerHoldsTheFamilysOnlyPlace() throws {
        let hub = try HubHarness { $0.hub.limits.controlMaxWaiters = 1 }
        var leaving: LineClient? = try LineClient(unixPath: hub.controlUnix)
        _ = try leaving?.readJSON()
        let wait: JSON = ["segment": "lan0", "port": "linux", "pattern": "01", "timeoutMs": 600_000]
        leaving?.sendLine(
            JSON.object(["jsonrpc": "2.0", "id": 1, "method": "eth.wait", "params": wait]).serialized())
        let staying = try LineClient(unixPath: hub.controlUnix)
        _ = try staying.readJSON()
        // The limits are shown by hub.limits (maxWatches follows controlMaxWaiters) and enforced.
        let limits = try staying.call("hub.limits", id: 1)
        #expect(limits["result"]?["ethernet"]?["maxWatches"] == 1)
        var refused = try staying.call("eth.wait", wait, id: 2)
        for attempt in 0..<100 where refused["error"] == nil {
            // The first client's wait may not be registered yet: its answer (a refusal) tells.
            refused = try staying.call("eth.wait", wait, id: Int64(3 + attempt))
        }
        #expect(refused["error"]?["code"] == -32004)
        #expect(refused["error"]?["data"]?["limit"] == "eth.maxWatches")
        #expect(refused["error"]?["data"]?["reason"] == "limit_exceeded")
        // The waiting client goes away; its wait must not keep the place until its 10-minute timeout.
        leaving = nil
        let short: JSON = ["segment": "lan0", "port": "linux", "pattern": "01", "timeoutMs": 10]
        var answer: JSON = [:]
        for attempt in 0..<200 {
            answer = try staying.call("eth.wait", short, id: Int64(200 + attempt))
            if answer["error"]?["code"] == -32005 { break }
            usleep(10_000)
        }
        #expect(answer["error"]?["code"] == -32005, "the wait was accepted and timed out: \(answer)")
        #expect(hub.stop() == 0)
    }
}
