import JSON
import Testing

@Suite struct EventTests {
    /// Ten clients; two subscribe with different filters; each gets exactly its events, in sequence order.
    @Test func subscribersGetExactlyTheirEventsInOrder() throws {
        let hub = try HubHarness()
        let connects = try LineClient(unixPath: hub.controlUnix)
        _ = try connects.readJSON()
        let disconnects = try LineClient(unixPath: hub.controlUnix)
        _ = try disconnects.readJSON()
        #expect(try connects.call("events.subscribe", ["filter": ["kinds": ["client.connected"]]])["result"] != nil)
        #expect(try disconnects.call("events.subscribe", ["filter": ["kind": "client.disconnected"]])["result"] != nil)
        var others: [LineClient] = []
        for _ in 0..<8 {
            let client = try LineClient(unixPath: hub.controlUnix)
            _ = try client.readJSON()
            others.append(client)
        }
        others.removeAll()  // closing them produces eight disconnect events

        var connectSeqs: [Int64] = []
        for _ in 0..<8 {
            let event = try connects.readJSON()
            #expect(event["method"] == "event")
            #expect(event["params"]?["kind"] == "client.connected")
            connectSeqs.append(try #require(event["params"]?["seq"]?.int64Value))
        }
        var disconnectSeqs: [Int64] = []
        for _ in 0..<8 {
            let event = try disconnects.readJSON()
            #expect(event["params"]?["kind"] == "client.disconnected")
            disconnectSeqs.append(try #require(event["params"]?["seq"]?.int64Value))
        }
        #expect(connectSeqs == connectSeqs.sorted() && Set(connectSeqs).count == 8)
        #expect(disconnectSeqs == disconnectSeqs.sorted() && Set(disconnectSeqs).count == 8)
        #expect(connectSeqs.max()! < disconnectSeqs.min()!)
        // Nothing else arrived: the next line on each is the answer to a fresh request.
        #expect(try connects.call("hub.info", id: 50)["id"] == 50)
        #expect(hub.stop() == 0)
    }

    /// A latched raise is one occurrence: its irq.raised and irq.latched events are consecutive and carry the same
    /// time (`Protocols/control.md` §5.1), and monotonic times never decrease from one raise to the next.
    @Test func aLatchedRaisesEventsShareOneTime() throws {
        let hub = try HubHarness()
        let watcher = try LineClient(unixPath: hub.controlUnix)
        _ = try watcher.readJSON()
        let filter: JSON = ["kinds": ["irq.raised", "irq.latched"], "partition": "rtos"]
        #expect(try watcher.call("events.subscribe", ["filter": filter], id: 1)["result"] != nil)
        let raiser = try LineClient(unixPath: hub.controlUnix)
        _ = try raiser.readJSON()
        var lastMono: Int64 = 0
        for line in Int64(0)..<3 {
            let answer = try raiser.call(
                "irq.raise", ["partition": "rtos", "line": .int(line), "as": "tester"], id: line + 2)
            #expect(answer["result"]?["pending"] == true, "\(answer)")
            let raised = try watcher.readJSON()["params"]
            let latched = try watcher.readJSON()["params"]
            #expect(raised?["kind"] == "irq.raised" && latched?["kind"] == "irq.latched")
            #expect(raised?["seq"]?.int64Value.map { $0 + 1 } == latched?["seq"]?.int64Value)
            #expect(raised?["time"] != nil && raised?["time"] == latched?["time"])
            let mono = raised?["time"]?["monoNs"]?.int64Value ?? -1
            #expect(mono >= lastMono)
            lastMono = mono
        }
    }

    @Test func lateSubscriberReplaysSinceASequenceNumber() throws {
        let hub = try HubHarness()
        let observer = try LineClient(unixPath: hub.controlUnix)
        _ = try observer.readJSON()
        for _ in 0..<3 { _ = try LineClient(unixPath: hub.controlUnix).readJSON() }
        let recent = try observer.call("events.recent", ["filter": ["kinds": ["client.*"]]])
        let seqs = try #require(recent["result"]?["events"]?.arrayValue).compactMap { $0["seq"]?.int64Value }
        #expect(seqs.count >= 4)
        let answer = try observer.call(
            "events.subscribe", ["since": .int(seqs[0]), "filter": ["kinds": ["client.*"]]], id: 2)
        let replayed = try #require(answer["result"]?["replayed"]?.int64Value)
        #expect(replayed >= 3)
        var got: [Int64] = []
        for _ in 0..<replayed { got.append(try #require(try observer.readJSON()["params"]?["seq"]?.int64Value)) }
        #expect(got.first! > seqs[0])
        #expect(got == got.sorted())
        #expect(hub.stop() == 0)
    }

    @Test func waitAnswersWithTheFirstMatchOrTimesOut() throws {
        let hub = try HubHarness()
        let waiter = try LineClient(unixPath: hub.controlUnix)
        _ = try waiter.readJSON()
        // The race-free pattern of the spec: note lastSeq, act, wait with since.
        let lastSeq = try #require(try waiter.call("hub.info", id: 8)["result"]?["lastSeq"]?.int64Value)
        waiter.sendLine(
            #"{"jsonrpc":"2.0","id":9,"method":"events.wait","params":{"filter":{"kinds":["client.connected"]},"timeoutMs":5000,"since":"#
                + "\(lastSeq)}}")
        let trigger = try LineClient(unixPath: hub.controlUnix)
        _ = try trigger.readJSON()
        let answer = try waiter.readJSON()
        #expect(answer["id"] == 9)
        #expect(answer["result"]?["event"]?["kind"] == "client.connected", "\(answer)")

        let timedOut = try waiter.call(
            "events.wait", ["filter": ["kinds": ["never.happens"]], "timeoutMs": 50], id: 10)
        #expect(timedOut["error"]?["code"] == -32005)
        let badFilter = try waiter.call("events.wait", ["filter": ["colour": "red"]], id: 11)
        #expect(badFilter["error"]?["code"] == -32602)
        #expect(hub.stop() == 0)
    }

    /// Ten subscribers whose filter matches and one whose filter does not: each event is serialised once for all
    /// ten, and the other subscriber receives nothing (`Protocols/control.md` §9.8, `eventLinesEncoded`).
    @Test func anEventIsSerialisedOnceHoweverManySubscribersReceiveIt() throws {
        let hub = try HubHarness()
        var subscribers: [LineClient] = []
        for id in 0..<10 {
            let client = try LineClient(unixPath: hub.controlUnix)
            _ = try client.readJSON()
            let answer = try client.call("events.subscribe", ["filter": ["kinds": ["irq.*"]]], id: Int64(id))
            #expect(answer["result"]?["subscribed"] == true)
            subscribers.append(client)
        }
        let bystander = try LineClient(unixPath: hub.controlUnix)
        _ = try bystander.readJSON()
        #expect(try bystander.call("events.subscribe", ["filter": ["kinds": ["modem.*"]]])["result"] != nil)
        let raiser = try LineClient(unixPath: hub.controlUnix)
        _ = try raiser.readJSON()
        func counter(_ name: String) throws -> Int64 {
            let answer = try raiser.call("hub.controlClients", id: 7)
            return try #require(answer["result"]?["counters"]?[name]?.int64Value, "\(answer)")
        }
        let encodedBefore = try counter("eventLinesEncoded")
        let publishedBefore = try counter("eventsPublished")
        _ = try raiser.call("irq.raise", ["partition": "rtos", "line": 3, "as": "tester"], id: 8)
        var seqs: Set<Int64> = []
        for subscriber in subscribers {
            for _ in 0..<2 {
                let event = try subscriber.readJSON()
                #expect(event["method"] == "event")
                #expect(event["params"]?["kind"]?.stringValue?.hasPrefix("irq.") == true, "\(event)")
                seqs.insert(try #require(event["params"]?["seq"]?.int64Value))
            }
        }
        // The raise made two events (raised, latched); all ten subscribers got the same two.
        #expect(seqs.count == 2)
        #expect(try counter("eventsPublished") - publishedBefore == 2)
        #expect(try counter("eventLinesEncoded") - encodedBefore == 2)
        // The bystander's next line is the answer to its own request, not an event.
        #expect(try bystander.call("hub.info", id: 9)["id"] == 9)
        #expect(hub.stop() == 0)
    }
    /// Which subscribers an event reaches is remembered per kind, partition and device until a subscription
    /// changes: a client that subscribes anew, with another filter, gets the next events by its new filter, and
    /// one that unsubscribes gets none, although those kinds were published to it before.
    @Test func aChangedSubscriptionTakesEffectForTheNextEvent() throws {
        let hub = try HubHarness()
        let watcher = try LineClient(unixPath: hub.controlUnix)
        _ = try watcher.readJSON()
        let leaver = try LineClient(unixPath: hub.controlUnix)
        _ = try leaver.readJSON()
        let raiser = try LineClient(unixPath: hub.controlUnix)
        _ = try raiser.readJSON()
        for client in [watcher, leaver] {
            #expect(try client.call("events.subscribe", ["filter": ["kinds": ["irq.raised"]]], id: 1)["result"] != nil)
        }
        // Each raise on a line not yet pending latches: irq.raised, then irq.latched.
        func raise(_ id: Int64, line: Int64) throws {
            let answer = try raiser.call(
                "irq.raise", ["partition": "rtos", "line": .int(line), "as": "tester"], id: id)
            #expect(answer["result"] != nil, "\(answer)")
        }
        try raise(2, line: 4)
        for client in [watcher, leaver] {
            #expect(try client.readJSON()["params"]?["kind"] == "irq.raised")
        }
        // The same kinds again, after the watcher moved to irq.latched and the leaver unsubscribed.
        #expect(try watcher.call("events.subscribe", ["filter": ["kinds": ["irq.latched"]]], id: 3)["result"] != nil)
        #expect(try leaver.call("events.unsubscribe", id: 4)["result"] != nil)
        try raise(5, line: 5)
        #expect(try watcher.readJSON()["params"]?["kind"] == "irq.latched")
        // Nothing else is on either line: the next one is the answer to a fresh request.
        #expect(try watcher.call("hub.info", id: 6)["id"] == 6)
        #expect(try leaver.call("hub.info", id: 7)["id"] == 7)
        #expect(hub.stop() == 0)
    }
}
