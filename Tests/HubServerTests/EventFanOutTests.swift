import Glibc
import JSON
import Testing

/// Event fan-out to hostile subscribers (`Protocols/control.md` §5.4): events are queued for each subscriber as
/// one shared serialised line, and whatever a subscriber does — never read, read a byte at a time, vanish in the
/// middle of a burst, or filter everything out — the others get every event whole and in order, and a subscriber
/// that fell behind is told exactly how many it missed.
@Suite(.serialized) struct EventFanOutTests {
    private func subscriber(_ hub: HubHarness, kinds: [String], id: Int64 = 1) throws -> LineClient {
        let client = try LineClient(unixPath: hub.controlUnix)
        _ = try client.readJSON()
        let answer = try client.call(
            "events.subscribe", ["filter": ["kinds": .array(kinds.map { .string($0) })]], id: id)
        try #require(answer["result"]?["subscribed"] == true, "\(answer)")
        return client
    }

    /// Raises `count` interrupts on the detached `rtos` partition (each makes irq.raised then irq.latched),
    /// pipelined, and reads their answers.
    private func raise(_ producer: LineClient, count: Int, firstID: Int) throws {
        var batch: [UInt8] = []
        for id in firstID..<firstID + count {
            batch +=
                Array(
                    #"{"jsonrpc":"2.0","id":\#(id),"method":"irq.raise","params":{"partition":"rtos","line":\#(id % 32),"as":"t"}}"#
                        .utf8) + [0x0a]
        }
        producer.sendRaw(batch)
        for _ in 0..<count { try #require(try producer.readJSON()["result"] != nil) }
    }

    private func counter(_ client: LineClient, _ name: String, id: Int64) throws -> Int64 {
        let answer = try client.call("hub.controlClients", id: id)
        return try #require(answer["result"]?["counters"]?[name]?.int64Value, "\(answer)")
    }

    /// A subscriber that never reads: its kernel buffer, its write budget and its outbox fill, and the rest of
    /// the burst is counted as missed, while a subscriber that reads gets all of it. When the stalled one reads
    /// at last it finds its events in order, one `events.missed` marker, and events plus missed equal the burst.
    @Test func aSubscriberThatNeverReadsMissesEventsCountedWhileAReaderGetsThemAll() throws {
        let hub = try HubHarness {
            $0.hub.limits.controlOutboxEvents = 16
            $0.hub.limits.writeHighWatermarkBytes = 16384
            $0.hub.limits.writeLowWatermarkBytes = 4096
        }
        let stalled = try subscriber(hub, kinds: ["irq.raised"])
        let reader = try subscriber(hub, kinds: ["irq.raised"])
        let producer = try LineClient(unixPath: hub.controlUnix)
        _ = try producer.readJSON()
        // Batches smaller than the outbox: a reader that reads between them never falls behind.
        let total = 2000
        var readerSeqs: [Int64] = []
        for batch in 0..<total / 10 {
            try raise(producer, count: 10, firstID: batch * 10)
            for _ in 0..<10 {
                let message = try reader.readJSON()
                #expect(message["method"] == "event" && message["params"]?["kind"] == "irq.raised", "\(message)")
                readerSeqs.append(message["params"]?["seq"]?.int64Value ?? -1)
            }
        }
        #expect(readerSeqs.count == total)
        #expect(zip(readerSeqs, readerSeqs.dropFirst()).allSatisfy { $0 < $1 })

        var got: [Int64] = []
        var missed: Int64 = 0
        var markers = 0
        var lastSeen: Int64 = 0
        while got.count + Int(missed) < total {
            let message = try stalled.readJSON()
            if message["method"] == "event" {
                let seq = try #require(message["params"]?["seq"]?.int64Value)
                #expect(seq > lastSeen)
                lastSeen = seq
                got.append(seq)
            } else {
                #expect(message["method"] == "events.missed", "\(message)")
                #expect(message["params"]?["reason"] == "outbox_full")
                let first = try #require(message["params"]?["firstSeq"]?.int64Value)
                #expect(first > lastSeen)
                lastSeen = try #require(message["params"]?["lastSeq"]?.int64Value)
                missed += try #require(message["params"]?["count"]?.int64Value)
                markers += 1
            }
        }
        #expect(missed > 0 && markers >= 1)
        #expect(got.count + Int(missed) == total)
        #expect(Set(got).isSubset(of: Set(readerSeqs)))
        // The stalled subscriber's connection still works: its next line is the answer to its request.
        #expect(try stalled.call("hub.info", id: 77)["result"]?["lastSeq"] != nil)
        #expect(hub.stop() == 0)
    }

    /// A subscriber reading one byte per read gets every event line whole, parseable and in sequence order, and
    /// then the answer to its own request.
    @Test func aSubscriberReadingAByteAtATimeGetsEveryLineWholeAndInOrder() throws {
        let hub = try HubHarness()
        let slow = try subscriber(hub, kinds: ["irq.*"])
        let producer = try LineClient(unixPath: hub.controlUnix)
        _ = try producer.readJSON()
        try raise(producer, count: 300, firstID: 0)
        var seqs: [Int64] = []
        var line: [UInt8] = []
        while seqs.count < 600 {
            var byte: UInt8 = 0
            let count = recv(slow.fd, &byte, 1, 0)
            try #require(count == 1, "read ended after \(seqs.count) events")
            if byte != 0x0a {
                line.append(byte)
                continue
            }
            let message = try JSON.parse(line)
            line.removeAll()
            #expect(message["method"] == "event", "\(message)")
            seqs.append(message["params"]?["seq"]?.int64Value ?? -1)
        }
        // Each raise made irq.raised and irq.latched, consecutive in the hub's sequence.
        #expect(seqs == Array(seqs[0]..<seqs[0] + 600))
        #expect(try slow.call("hub.info", id: 9)["id"] == 9)
        #expect(hub.stop() == 0)
    }

    /// A subscriber that goes away in the middle of a burst, with events unread in its socket, leaves the hub
    /// serving the others: the survivor gets the whole burst in order.
    @Test func aSubscriberKilledMidBurstLeavesTheOthersWhole() throws {
        let hub = try HubHarness()
        var victim: LineClient? = try subscriber(hub, kinds: ["irq.raised"])
        let survivor = try subscriber(hub, kinds: ["irq.raised"])
        let producer = try LineClient(unixPath: hub.controlUnix)
        _ = try producer.readJSON()
        var seqs: [Int64] = []
        for batch in 0..<6 {
            try raise(producer, count: 200, firstID: batch * 200)
            if batch == 1, let client = victim {
                _ = client.readLine()  // part of what it was sent, then it vanishes
                victim = nil
            }
            for _ in 0..<200 { seqs.append(try survivor.readJSON()["params"]?["seq"]?.int64Value ?? -1) }
        }
        #expect(victim == nil)
        #expect(seqs.count == 1200)
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 })
        #expect(try survivor.call("hub.info", id: 5)["id"] == 5)
        #expect(hub.stop() == 0)
    }

    /// `irq.raise` answers with the text its spec gives, members in order (`{"seq":S,"pending":true}` for a
    /// detached target), and S is the sequence number of the irq.raised event subscribers receive.
    @Test func anIrqRaiseAnswerIsExactlyItsSpecifiedLine() throws {
        let hub = try HubHarness()
        let watcher = try subscriber(hub, kinds: ["irq.raised"])
        let producer = try LineClient(unixPath: hub.controlUnix)
        _ = try producer.readJSON()
        producer.sendLine(
            #"{"jsonrpc":"2.0","id":41,"method":"irq.raise","params":{"partition":"rtos","line":2,"as":"t"}}"#)
        let answer = try #require(producer.readLine())
        let seq = try #require(try watcher.readJSON()["params"]?["seq"]?.int64Value)
        #expect(answer == #"{"jsonrpc":"2.0","id":41,"result":{"seq":\#(seq),"pending":true}}"#)
        #expect(hub.stop() == 0)
    }

    /// `irq.raise` takes a partition's line count from the configuration in force: a partition configured with 4
    /// lines takes lines 0...3, refuses 4 naming the parameter and the range, and an unknown partition is not found.
    @Test func irqRaiseChecksTheLineAgainstTheConfiguredPartition() throws {
        let hub = try HubHarness { config in
            for index in config.partitions.indices where config.partitions[index].name == "secure" {
                config.partitions[index].interruptLines = 4
            }
        }
        let client = try LineClient(unixPath: hub.controlUnix)
        _ = try client.readJSON()
        func raise(_ partition: String, _ line: Int64, id: Int64) throws -> JSON {
            try client.call("irq.raise", ["partition": .string(partition), "line": .int(line), "as": "t"], id: id)
        }
        #expect(try raise("secure", 3, id: 1)["result"]?["pending"] == true)
        let past = try raise("secure", 4, id: 2)
        #expect(past["error"]?["code"] == -32602, "\(past)")
        #expect(past["error"]?["data"]?["param"] == "line")
        #expect(past["error"]?["data"]?["expected"] == "integer in 0...3", "\(past)")
        #expect(try raise("rtos", 31, id: 3)["result"] != nil)
        let unknown = try raise("nosuch", 0, id: 4)
        #expect(unknown["error"]?["code"] == -32002, "\(unknown)")
        #expect(hub.stop() == 0)
    }

    /// A thousand subscribers whose filters match nothing that is published: no event is serialised for them
    /// and none receives anything; one matching subscriber added later makes exactly one line per event it gets.
    @Test func aThousandSubscribersWhoseFiltersDoNotMatchCostNoSerialisation() throws {
        let hub = try HubHarness { $0.hub.limits.controlMaxClients = 1100 }
        var bystanders: [LineClient] = []
        for id in 0..<1000 { bystanders.append(try subscriber(hub, kinds: ["modem.*"], id: Int64(id))) }
        let producer = try LineClient(unixPath: hub.controlUnix)
        _ = try producer.readJSON()
        let encoded = try counter(producer, "eventLinesEncoded", id: 100_000)
        let published = try counter(producer, "eventsPublished", id: 100_001)
        try raise(producer, count: 100, firstID: 0)
        #expect(try counter(producer, "eventsPublished", id: 100_002) - published == 200)
        #expect(try counter(producer, "eventLinesEncoded", id: 100_003) == encoded)

        let matching = try subscriber(hub, kinds: ["irq.raised"])
        try raise(producer, count: 100, firstID: 1000)
        for _ in 0..<100 { #expect(try matching.readJSON()["params"]?["kind"] == "irq.raised") }
        #expect(try counter(producer, "eventLinesEncoded", id: 100_004) - encoded == 100)
        // Nothing was queued for the bystanders: the next line each reads is the answer to its own request.
        for (index, bystander) in bystanders.enumerated() where index % 50 == 0 {
            let answer = try bystander.readLineAfter(request: "hub.info", id: Int64(50_000 + index))
            #expect(answer["id"] == .int(Int64(50_000 + index)), "\(answer)")
        }
        #expect(hub.stop() == 0)
    }
}

extension LineClient {
    /// Sends a request and returns the very next line (not skipping notifications, unlike `call`).
    fileprivate func readLineAfter(request method: String, id: Int64) throws -> JSON {
        sendLine(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)"}"#)
        return try readJSON()
    }
}
