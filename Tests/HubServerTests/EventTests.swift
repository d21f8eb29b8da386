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
}
