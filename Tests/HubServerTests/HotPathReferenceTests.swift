import Glibc
import JSON
import Synchronization
import TestSupport
import Testing

@testable import HubServer

/// The hub and its control sessions are retained and released several times per control request; a weak reference
/// to either, formed once, would send every one of those counts down the runtime's slow path for the rest of the
/// object's life (`Sources/ARCHITECTURE.md`, "A handle's lifetime").
@Suite struct HotPathReferenceTests {
    /// The probe itself: without this the hub test below could pass on a runtime whose layout it misreads.
    @Test func aWeakReferenceGivesAnObjectASideTableForGood() {
        final class Counted {}
        let object = Counted()
        #expect(!usesSideTable(object))
        var probe: Counted? = object
        #expect(!usesSideTable(object), "a strong reference keeps the counts inline")
        weak var weakly = object
        #expect(usesSideTable(object))
        weakly = nil
        probe = nil
        #expect(usesSideTable(object), "the side table stays once made")
        _ = (probe, weakly)
    }

    /// Every kind of control work that touches a session or the hub on the way: requests answered at once, a pass's
    /// worth of pipelined answers followed by a yielded pass, a subscription with replay, a deferred wait answered
    /// by an event, an interrupt raised (which reaches the hub through the platform's host) and a client leaving.
    @Test func neitherTheHubNorAControlSessionIsEverWeaklyReferenced() throws {
        let hub = try HubHarness { $0.hub.limits.controlAnswerBytesPerPass = 1024 }
        defer { #expect(hub.stop() == 0) }
        let subscriber = try LineClient(unixPath: hub.controlUnix)
        _ = try subscriber.readJSON()
        let answer = try subscriber.call("events.subscribe", ["filter": ["kinds": ["irq.raised"]], "since": 0])
        #expect(answer["result"]?["subscribed"] == true)

        let waiter = try LineClient(unixPath: hub.controlUnix)
        _ = try waiter.readJSON()
        waiter.sendLine(
            #"{"jsonrpc":"2.0","id":7,"method":"events.wait","params":{"filter":{"kinds":["irq.raised"]},"timeoutMs":5000}}"#
        )

        let caller = try LineClient(unixPath: hub.controlUnix)
        _ = try caller.readJSON()
        // Far more answers than one pass may write: the session yields passes to finish them.
        var burst: [UInt8] = []
        for id in 0..<200 { burst += Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"hub.info"}"#.utf8) + [0x0a] }
        caller.sendRaw(burst)
        var answered = 0
        while answered < 200, let line = caller.readLine(), line.contains("\"result\"") { answered += 1 }
        #expect(answered == 200)
        let raised = try caller.call(
            "irq.raise", ["partition": "rtos", "line": 1, "as": "bench"], id: 1000)
        #expect(raised["result"]?["seq"] != nil)
        #expect(try waiter.readJSON()["id"] == 7)
        let event = try subscriber.readJSON()
        #expect(event["method"] == "event")
        let leaving = try LineClient(unixPath: hub.controlUnix)
        _ = try leaving.readJSON()
        _ = try leaving.call("hub.info")
        _ = consume leaving

        let seen = Locked<(hub: Bool, sessions: Int, weaklyReferenced: Int)?>(nil)
        #expect(
            hub.withHub { hub in
                let sessions = Array(hub.controlSessions.values)
                let result = (usesSideTable(hub), sessions.count, sessions.filter { usesSideTable($0) }.count)
                seen.withLock { $0 = result }
            })
        var result: (hub: Bool, sessions: Int, weaklyReferenced: Int)?
        for _ in 0..<2000 where result == nil {
            usleep(1000)
            result = seen.withLock { $0 }
        }
        let found = try #require(result)
        #expect(!found.hub, "the hub has a side table: something references it weakly")
        #expect(found.sessions >= 3)
        #expect(found.weaklyReferenced == 0, "a control session has a side table: something references it weakly")
    }
}
