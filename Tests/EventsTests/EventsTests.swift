import Events
import JSON
import TestSupport
import Testing

private func time(_ n: UInt64) -> EventTime { EventTime(unixNs: 1_700_000_000_000_000_000 + Int64(n), monoNs: n) }

private func event(_ seq: UInt64, _ kind: String, partition: String? = nil, device: String? = nil) -> HubEvent {
    HubEvent(seq: seq, time: time(seq), kind: kind, partition: partition, device: device, data: [:])
}

@Suite struct EventFilterTests {
    @Test func kindPatterns() {
        #expect(EventFilter.kind("partition.attached", matches: "partition.*"))
        #expect(EventFilter.kind("partition.state.changed", matches: "partition.*"))
        #expect(!EventFilter.kind("partition", matches: "partition.*"))
        #expect(!EventFilter.kind("partitions.x", matches: "partition.*"))
        #expect(EventFilter.kind("irq.raised", matches: "irq.raised"))
        #expect(!EventFilter.kind("irq.raised.x", matches: "irq.raised"))
        #expect(EventFilter.kind("anything", matches: "*"))
    }

    /// A filter's prefix patterns agree with `kind(_:matches:)` for every kind, whatever their lengths (patterns
    /// are looked up only at the lengths some pattern has, and lengths from 63 bytes on share one bit).
    @Test func prefixPatternsOfEveryLengthMatchAsWritten() {
        let long = String(repeating: "a", count: 70)
        let longer = String(repeating: "a", count: 80)
        let patterns = ["irq.*", "partition.state.*", "\(long).*", "\(longer).b.*", "x.*"]
        let filter = EventFilter(kinds: patterns)
        let kinds = [
            "irq.raised", "irq", "irqs.raised", "partition.state.changed", "partition.attached", "\(long).z",
            "\(long)", "\(longer).b.c", "\(longer).c.b", "\(long)a.b", "x.y", "y.x", "a.x.y",
        ]
        for kind in kinds {
            let expected = patterns.contains { EventFilter.kind(kind, matches: $0) }
            #expect(filter.matches(event(1, kind)) == expected, "\(kind)")
        }
    }

    @Test func dimensionsCombine() {
        let filter = EventFilter(partitions: ["rtos", "linux"], kinds: ["irq.*", "msg.delivered"])
        #expect(filter.matches(event(1, "irq.raised", partition: "rtos")))
        #expect(filter.matches(event(2, "msg.delivered", partition: "linux")))
        #expect(!filter.matches(event(3, "msg.sent", partition: "linux")))
        #expect(!filter.matches(event(4, "irq.raised", partition: "secure")))
        #expect(!filter.matches(event(5, "irq.raised")))  // no partition
        #expect(EventFilter.all.matches(event(6, "x")))
        let devices = EventFilter(devices: ["lan0"])
        #expect(devices.matches(event(7, "eth.frame", device: "lan0")))
        #expect(!devices.matches(event(8, "eth.frame", partition: "rtos")))
    }

    @Test func fromJSON() throws {
        let filter = try EventFilter(json: ["partition": "rtos", "kinds": ["irq.*", "*"], "devices": nil])
        #expect(filter == EventFilter(partitions: ["rtos"], devices: nil, kinds: ["irq.*", "*"]))
        #expect(try EventFilter(json: filter.json) == filter)
        #expect(try EventFilter(json: nil) == .all)
        #expect(try EventFilter(json: [:]) == .all)
    }

    @Test(
        arguments: [
            (JSON.int(1), "filter"),
            (["kinds": [1]], "filter.kinds"),
            (["kind": "irq*"], "filter.kinds"),
            (["kind": "*.raised"], "filter.kinds"),
            (["kind": ""], "filter.kinds"),
            (["kind": ".*"], "filter.kinds"),
            (["partitions": "a", "partition": "b"], "filter.partition"),
            (["colour": "red"], "filter.colour"),
        ] as [(JSON, String)])
    func refusesBadFilters(json: JSON, field: String) {
        do {
            _ = try EventFilter(json: json)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.field == field)
        }
    }
}

@Suite struct EventLogTests {
    @Test func appendAssignsIncreasingSequenceNumbers() {
        var log = EventLog(capacity: 4)
        #expect(log.lastSeq == 0 && log.oldestSeq == nil)
        let first = log.append(kind: "a", partition: "rtos", data: ["x": 1], time: time(10))
        let second = log.append(kind: "b", time: time(11))
        #expect(first.seq == 1 && second.seq == 2)
        #expect(first.time.monoNs == 10 && first.partition == "rtos" && first.data == ["x": 1])
        #expect(log.events.map(\.seq) == [1, 2])
    }

    @Test func ringKeepsTheNewestAndReportsTheGap() {
        var log = EventLog(capacity: 3)
        for n in 1...7 { log.append(kind: n % 2 == 0 ? "even" : "odd", time: time(UInt64(n))) }
        #expect(log.events.map(\.seq) == [5, 6, 7])
        #expect(log.oldestSeq == 5 && log.count == 3)

        let recentEnough = log.since(4)
        #expect(recentEnough.events.map(\.seq) == [5, 6, 7])
        #expect(recentEnough.missed == nil)

        let tooOld = log.since(1)
        #expect(tooOld.events.map(\.seq) == [5, 6, 7])
        #expect(tooOld.missed == MissedEvents(count: 3, firstSeq: 2, lastSeq: 4, reason: .replayExpired))

        #expect(log.since(6).events.map(\.seq) == [7])
        #expect(log.since(7).events.isEmpty && log.since(7).missed == nil)
        #expect(log.since(99).events.isEmpty)
        #expect(log.since(0, matching: EventFilter(kinds: ["odd"])).events.map(\.seq) == [5, 7])
        #expect(log.since(0).missed?.count == 4)
    }

    @Test func recentReturnsTheNewestMatchesOldestFirst() {
        var log = EventLog(capacity: 10)
        for n in 1...6 { log.append(kind: n % 2 == 0 ? "even" : "odd", time: time(UInt64(n))) }
        #expect(log.recent(2).map(\.seq) == [5, 6])
        #expect(log.recent(2, matching: EventFilter(kinds: ["odd"])).map(\.seq) == [3, 5])
        #expect(log.recent(100).count == 6)
        #expect(EventLog(capacity: 2).recent(5).isEmpty)
    }

    @Test func eventJSONRoundTrip() throws {
        let original = HubEvent(
            seq: 42, time: EventTime(unixNs: 1_700_000_000_000_000_000, monoNs: 5_000_000), kind: "irq.raised",
            partition: "linux", device: nil, data: ["line": 3, "from": "tester"])
        #expect(
            original.json.serialized()
                == #"{"seq":42,"time":{"unixNs":1700000000000000000,"monoNs":5000000},"kind":"irq.raised","partition":"linux","device":null,"data":{"line":3,"from":"tester"}}"#
        )
        #expect(HubEvent(json: try JSON.parse(original.json.serialized())) == original)
        #expect(HubEvent(json: ["seq": 1]) == nil)
    }
}

@Suite struct SubscriberOutboxTests {
    @Test func slowReaderGetsOneMarkerThenResumes() {
        var outbox = SubscriberOutbox(capacity: 3)
        for seq: UInt64 in 1...8 { outbox.push(event(seq, "k")) }
        #expect(outbox.count == 3)
        #expect(outbox.totalMissed == 5)
        // The reader wakes up: the queued events first, then the gap, then what comes next.
        #expect(outbox.pop() == .event(event(1, "k")))
        outbox.push(event(9, "k"))
        let rest = outbox.pop(upTo: 10)
        #expect(
            rest == [
                .event(event(2, "k")), .event(event(3, "k")),
                .missed(MissedEvents(count: 5, firstSeq: 4, lastSeq: 8, reason: .outboxFull)), .event(event(9, "k")),
            ])
        #expect(outbox.isEmpty)
        #expect(outbox.pop() == nil)
    }

    @Test func markerArrivesEvenWhenNothingFollows() {
        var outbox = SubscriberOutbox(capacity: 1)
        outbox.push(event(1, "k"))
        #expect(outbox.push(event(2, "k")) == false)
        #expect(outbox.pop() == .event(event(1, "k")))
        #expect(!outbox.isEmpty)
        #expect(outbox.pop() == .missed(MissedEvents(count: 1, firstSeq: 2, lastSeq: 2, reason: .outboxFull)))
        #expect(outbox.pop() == nil)
    }

    @Test func neverHoldsMoreThanCapacityPlusTheMarker() {
        var outbox = SubscriberOutbox(capacity: 5)
        var delivered: [UInt64] = []
        var missed: UInt64 = 0
        for seq in 1...1000 as ClosedRange<UInt64> {
            outbox.push(event(seq, "k"))
            #expect(outbox.count <= 6)
            if seq % 7 == 0, let item = outbox.pop() {
                if case .event(let e) = item { delivered.append(e.seq) }
                if case .missed(let m) = item { missed += m.count }
            }
        }
        for item in outbox.pop(upTo: .max) {
            if case .event(let e) = item { delivered.append(e.seq) }
            if case .missed(let m) = item { missed += m.count }
        }
        #expect(delivered == delivered.sorted())
        #expect(UInt64(delivered.count) + missed == 1000)
        #expect(missed == outbox.totalMissed)
    }

    @Test func replayGapComesFirst() {
        var log = EventLog(capacity: 2)
        for n in 1...5 { log.append(kind: "k", time: time(UInt64(n))) }
        var outbox = SubscriberOutbox(capacity: 10)
        outbox.push(log.since(1))
        #expect(outbox.pop() == .missed(MissedEvents(count: 2, firstSeq: 2, lastSeq: 3, reason: .replayExpired)))
        #expect(outbox.pop(upTo: 5).count == 2)
        #expect(
            OutboxItem.missed(MissedEvents(count: 1, firstSeq: 1, lastSeq: 1, reason: .outboxFull)).method
                == "events.missed")
    }
}

/// Event subscriptions (`Protocols/control.md` §5, §12) at the model level: two subscribers with different filters,
/// a late subscriber replaying since N, and a slow one told how many it missed.
@Suite struct EventsAcceptanceTests {
    @Test func subscribersGetExactlyTheirEventsInOrder() {
        var log = EventLog(capacity: 64)
        let irqFilter = EventFilter(kinds: ["irq.*"])
        let rtosFilter = EventFilter(partitions: ["rtos"])
        var irqOutbox = SubscriberOutbox(capacity: 100)
        var rtosOutbox = SubscriberOutbox(capacity: 100)
        var slowOutbox = SubscriberOutbox(capacity: 4)
        let script: [(String, String?)] = [
            ("partition.attached", "rtos"), ("irq.raised", "linux"), ("irq.raised", "rtos"), ("msg.sent", "rtos"),
            ("partition.attached", "linux"), ("irq.delivered", "rtos"), ("msg.delivered", "linux"),
            ("irq.raised", "secure"), ("hub.tick", nil), ("irq.raised", "rtos"),
        ]
        for (n, step) in script.enumerated() {
            let e = log.append(kind: step.0, partition: step.1, time: time(UInt64(n)))
            if irqFilter.matches(e) { irqOutbox.push(e) }
            if rtosFilter.matches(e) { rtosOutbox.push(e) }
            slowOutbox.push(e)
        }
        func seqs(_ outbox: inout SubscriberOutbox) -> [UInt64] {
            outbox.pop(upTo: .max).compactMap { if case .event(let e) = $0 { e.seq } else { nil } }
        }
        #expect(seqs(&irqOutbox) == [2, 3, 6, 8, 10])
        #expect(seqs(&rtosOutbox) == [1, 3, 4, 6, 10])

        // A late subscriber asks for everything since 5 that concerns rtos.
        var late = SubscriberOutbox(capacity: 100)
        late.push(log.since(5, matching: rtosFilter))
        #expect(seqs(&late) == [6, 10])

        // The slow one never read: it holds the first 4 and learns it missed 6 (seq 5…10).
        let slow = slowOutbox.pop(upTo: .max)
        #expect(slow.count == 5)
        #expect(slow.last == .missed(MissedEvents(count: 6, firstSeq: 5, lastSeq: 10, reason: .outboxFull)))
    }
}

/// Filters match by lookups, not by trying every pattern, with the same results as the pattern rule.
@Suite struct EventFilterLookupTests {
    @Test func lookupMatchingAgreesWithThePatternRule() {
        let kinds = ["irq.raised", "irq.latched", "irqx.raised", "a.b.c.d", "a.bc", "hub.started", "x", "a."]
        let patternSets: [[String]] = [
            ["irq.*"], ["a.b.*"], ["a.*", "x"], ["irq.raised", "hub.*"], ["*"], ["nothing"], ["a.b.c.*"], [],
        ]
        for patterns in patternSets {
            let filter = EventFilter(kinds: patterns)
            for (index, kind) in kinds.enumerated() {
                let expected = patterns.contains { EventFilter.kind(kind, matches: $0) }
                #expect(filter.matches(event(UInt64(index + 1), kind)) == expected, "\(patterns) \(kind)")
            }
        }
        var filter = EventFilter(kinds: ["irq.*"])
        filter.kinds = ["hub.*"]
        #expect(!filter.matches(event(1, "irq.raised")) && filter.matches(event(2, "hub.stopping")))
        filter.partitions = ["rtos"]
        #expect(!filter.matches(event(3, "hub.stopping")) && filter.matches(event(4, "hub.x", partition: "rtos")))
    }

    @Test func requestFiltersAreBounded() throws {
        let bounds = EventFilter.Bounds(maxEntries: 4, maxEntryBytes: 8)
        #expect(throws: EventFilter.Invalid.self) {
            _ = try EventFilter(json: ["kinds": ["a", "b", "c", "d", "e"]], bounds: bounds)
        }
        do {
            _ = try EventFilter(json: ["partition": "ninechars"], bounds: bounds)
            Issue.record("accepted")
        } catch {
            #expect(error.field == "filter.partition" && error.limit?.name == "maxEntryBytes")
        }
        #expect(try EventFilter(json: ["kinds": ["a", "b", "c", "d"]], bounds: bounds).kinds?.count == 4)
    }

    @Test func boundedReplayContinuesWhereItStopped() {
        var log = EventLog(capacity: 8)
        for n in 1...12 { log.append(kind: n % 2 == 0 ? "even" : "odd", time: time(UInt64(n))) }
        var cursor: UInt64 = 0
        var got: [UInt64] = []
        var gaps: [MissedEvents] = []
        while cursor < log.lastSeq {
            let (replay, through) = log.since(cursor, matching: EventFilter(kinds: ["even"]), limit: 1)
            got += replay.events.map(\.seq)
            if let missed = replay.missed { gaps.append(missed) }
            #expect(through > cursor)
            cursor = through
        }
        #expect(got == [6, 8, 10, 12])
        #expect(gaps == [MissedEvents(count: 4, firstSeq: 1, lastSeq: 4, reason: .replayExpired)])
        #expect(log.count(since: 0, matching: EventFilter(kinds: ["even"])) == 4)
        #expect(log.count(since: 9, matching: .all) == 3)
    }
}

@Suite struct HubEventWritingTests {
    /// An event's text written directly is the text of its JSON form, for absent and present partition and
    /// device, names that need escaping, nested data, and numbers at the ends of their ranges (clamped alike).
    @Test func writtenTextIsTheTextOfItsJSON() {
        let times = [
            EventTime(unixNs: 0, monoNs: 0), EventTime(unixNs: -1, monoNs: 1),
            EventTime(unixNs: Int64.max, monoNs: UInt64.max), EventTime(unixNs: Int64.min, monoNs: 31_509_881_533_568),
        ]
        let data: [JSON] = [[:], ["line": 11, "from": "bench"], ["nested": [1, "x", nil, true, 2.5, ["k": []]]]]
        Self.forEachOddEvent(seqs: [0, 1, 9, 10, UInt64(Int64.max), UInt64.max], times: times, data: data) { event in
            var written: [UInt8] = []
            event.writeJSON(into: &written)
            #expect(written == event.json.serializedBytes(), "\(event)")
        }
    }

    /// Calls `body` with an event for every sequence number, time, partition and device name (absent, plain, ones
    /// that need escaping, non-ASCII, empty), the data taken from `data` in turn.
    static func forEachOddEvent(seqs: [UInt64], times: [EventTime], data: [JSON], _ body: (HubEvent) -> Void) {
        let names: [String?] = [nil, "rtos", "a\"b\\c\n\u{1}", "é😀", ""]
        var count = 0
        for seq in seqs {
            for time in times {
                for partition in names {
                    for device in names.reversed() {
                        body(
                            HubEvent(
                                seq: seq, time: time, kind: partition ?? "irq.raised", partition: partition,
                                device: device, data: data[count % data.count]))
                        count += 1
                    }
                }
            }
        }
    }
}

extension HubEventWritingTests {
    /// The notification line (written through a bounded buffer, or the ordinary way when it does not fit or needs
    /// escapes or fractions) is the line the event's JSON form makes, for the same odd events, for data that brings
    /// the line to every length around the buffer's size, and for data far larger.
    @Test func notificationLineIsTheLineOfItsJSON() {
        func expected(_ event: HubEvent) -> [UInt8] {
            Array(#"{"jsonrpc":"2.0","method":"event","params":"#.utf8) + event.json.serializedBytes()
                + Array("}\n".utf8)
        }
        let times = [EventTime(unixNs: Int64.min, monoNs: UInt64.max), EventTime(unixNs: 1, monoNs: 2)]
        let data: [JSON] = [
            [:], ["line": 11, "from": "injector:bench"], ["nested": [1, "x", nil, true, 2.5, ["k": []]]],
            ["big": .string(String(repeating: "z", count: 5000))], ["esc\u{7f}": 1], .null,
        ]
        Self.forEachOddEvent(seqs: [0, 1, UInt64(Int64.max), UInt64.max], times: times, data: data) { event in
            #expect(event.notificationLine() == expected(event), "\(event)")
        }
        for length in 300...700 {
            let event = HubEvent(
                seq: 7, time: times[1], kind: "k", partition: "p", device: nil,
                data: ["pad": .string(String(repeating: "y", count: length)), "n": .int(Int64.min)])
            #expect(event.notificationLine() == expected(event), "data of \(length)")
        }
    }
}

/// An outbox holding serialised lines (what the hub queues) keeps the bound, the gap markers and the order it
/// keeps for events; `drain` takes the same items `pop` would, stopping exactly when there is no more room.
@Suite struct SubscriberOutboxLineTests {
    private func line(_ seq: UInt64) -> [UInt8] { Array("line \(seq)\n".utf8) }

    @Test func linesAreBoundedAndCountedAsEventsAre() {
        var lines = SubscriberOutbox(capacity: 3)
        var events = SubscriberOutbox(capacity: 3)
        for seq: UInt64 in 1...8 {
            #expect(lines.push(line: line(seq), seq: seq) == events.push(event(seq, "k")))
        }
        #expect(lines.count == 3 && lines.totalMissed == 5)
        let taken = lines.pop(upTo: .max)
        #expect(
            taken == [
                .line(seq: 1, line(1)), .line(seq: 2, line(2)), .line(seq: 3, line(3)),
                .missed(MissedEvents(count: 5, firstSeq: 4, lastSeq: 8, reason: .outboxFull)),
            ])
        #expect(taken.map(\.method) == events.pop(upTo: .max).map(\.method))
        #expect(lines.isEmpty)
    }

    @Test func drainStopsWhenThereIsNoRoomAndTheRestFollowsInOrder() {
        var outbox = SubscriberOutbox(capacity: 100)
        for seq: UInt64 in 1...150 { outbox.push(line: line(seq), seq: seq) }  // 50 missed
        var taken: [OutboxItem] = []
        var room = 0
        for budget in [0, 1, 7, 0, 30, 1000] {
            room = budget
            outbox.drain(while: { room > 0 }) { item in
                taken.append(item)
                room -= 1
            }
            #expect(room == 0 || outbox.isEmpty)
        }
        #expect(taken.count == 101)
        #expect(taken.prefix(100) == ArraySlice((1...100).map { OutboxItem.line(seq: $0, line($0)) }))
        #expect(taken.last == .missed(MissedEvents(count: 50, firstSeq: 101, lastSeq: 150, reason: .outboxFull)))
        // What comes after the drain continues in order, once the queue had room again.
        outbox.push(line: line(151), seq: 151)
        #expect(outbox.pop() == .line(seq: 151, line(151)))
        #expect(outbox.pop() == nil)
    }

    @Test func drainAndPopTakeTheSameItemsInTheSameOrder() {
        var drained = SubscriberOutbox(capacity: 5)
        var popped = SubscriberOutbox(capacity: 5)
        var fromDrain: [OutboxItem] = []
        var fromPop: [OutboxItem] = []
        for seq: UInt64 in 1...2000 {
            drained.push(line: line(seq), seq: seq)
            popped.push(line: line(seq), seq: seq)
            #expect(drained.count <= 6)
            if seq % 7 == 0 {
                var room = Int(seq % 5)
                drained.drain(while: { room > 0 }) { item in
                    fromDrain.append(item)
                    room -= 1
                }
                for _ in 0..<Int(seq % 5) { if let item = popped.pop() { fromPop.append(item) } }
            }
        }
        drained.drain(while: { true }) { fromDrain.append($0) }
        fromPop += popped.pop(upTo: .max)
        #expect(fromDrain == fromPop)
        #expect(drained.totalMissed == popped.totalMissed)
        let seen = fromDrain.reduce(UInt64(0)) { total, item in
            if case .missed(let missed) = item { return total + missed.count }
            return total + 1
        }
        #expect(seen == 2000)
    }

    /// The byte drain (the hub's pass write) takes what the item drain takes under the same byte budget: the same
    /// items in the same order, lines appended as they are and the others through its writer, each item started
    /// only while the budget is not negative, the gap markers where `pop` puts them.
    @Test func byteDrainWritesWhatTheItemDrainTakes() {
        func text(_ item: OutboxItem) -> [UInt8] {
            switch item {
            case .line(_, let bytes): return bytes
            case .event(let event): return Array("event \(event.seq)\n".utf8)
            case .missed(let missed): return Array("missed \(missed.count) \(missed.firstSeq)\n".utf8)
            }
        }
        var bytes = SubscriberOutbox(capacity: 6)
        var items = SubscriberOutbox(capacity: 6)
        var written: [UInt8] = []
        var expected: [UInt8] = []
        var generator = SystemRandomNumberGenerator()
        for seq: UInt64 in 1...3000 {
            if seq % 3 == 0 {
                bytes.push(event(seq, "k"))
                items.push(event(seq, "k"))
            } else {
                bytes.push(line: line(seq), seq: seq)
                items.push(line: line(seq), seq: seq)
            }
            if seq % 5 == 0 {
                let budget = Int.random(in: -1...40, using: &generator)
                var room = budget
                bytes.drain(into: &written, room: &room) { item, out in
                    if case .line = item { Issue.record("a line went through the writer") }
                    out += text(item)
                }
                var itemRoom = budget
                items.drain(while: { itemRoom >= 0 }) { item in
                    expected += text(item)
                    itemRoom -= text(item).count
                }
                #expect(room == itemRoom)
                #expect(written == expected)
                #expect(bytes.count == items.count && bytes.isEmpty == items.isEmpty)
            }
        }
        var room = Int.max / 2
        bytes.drain(into: &written, room: &room) { item, out in out += text(item) }
        items.drain(while: { true }) { expected += text($0) }
        #expect(written == expected)
        #expect(bytes.isEmpty && bytes.totalMissed == items.totalMissed && bytes.totalMissed > 0)
    }

    @Test func aLinesParamsAreTheEventsParams() throws {
        let event = HubEvent(
            seq: 4, time: time(4), kind: "irq.raised", partition: "rtos", device: nil, data: ["line": 3, "from": "x"])
        var text = Array(#"{"jsonrpc":"2.0","method":"event","params":"#.utf8)
        event.writeJSON(into: &text)
        text += Array("}\n".utf8)
        #expect(OutboxItem.line(seq: 4, text).params == event.json)
        #expect(OutboxItem.line(seq: 4, text).method == "event")
    }
}

/// An event appended with a monotonic time older than the newest event's (read before an event published in
/// between) takes the newest event's time: times never decrease with the sequence.
@Suite struct EventLogTimeOrderTests {
    @Test func anEarlierTimeTakesTheNewestEventsTime() {
        var log = EventLog(capacity: 4)
        let first = log.append(kind: "a", time: EventTime(unixNs: 10, monoNs: 100))
        let late = log.append(kind: "b", time: EventTime(unixNs: 9, monoNs: 99))
        let same = log.append(kind: "c", time: EventTime(unixNs: 11, monoNs: 100))
        let later = log.append(kind: "d", time: EventTime(unixNs: 5, monoNs: 101))
        #expect(first.time == EventTime(unixNs: 10, monoNs: 100))
        #expect(late.time == first.time)
        #expect(same.time == EventTime(unixNs: 11, monoNs: 100))
        #expect(later.time == EventTime(unixNs: 5, monoNs: 101))
    }
}

/// `firstSeq(after:matching:)` says what the first event of `since` would be, including across a wrapped ring.
@Suite struct EventLogFirstSeqTests {
    @Test func agreesWithSince() {
        var log = EventLog(capacity: 16)
        let kinds = ["irq.raised", "irq.latched", "msg.sent"]
        let filters = [EventFilter(kinds: ["irq.raised"]), EventFilter(kinds: ["msg.*"]), EventFilter(kinds: ["none"])]
        for n in 1...40 {
            log.append(kind: kinds[(n + n / 4) % 3], time: time(UInt64(n)))
            for after in 0...UInt64(n + 1) {
                for filter in filters {
                    #expect(
                        log.firstSeq(after: after, matching: filter)
                            == log.since(after, matching: filter).events.first?.seq)
                }
                // The kind-only lookup `irq.raise` answers with says what a filter on that one kind says.
                for kind in ["irq.raised", "msg.sent", "none"] {
                    #expect(
                        log.firstSeq(after: after, kind: kind)
                            == log.since(after, matching: EventFilter(kinds: [kind])).events.first?.seq)
                }
            }
        }
    }
}

/// `first(after:matching:)` (`events.wait` with `since`) answers what `since(...).events.first` answers, wrapped
/// ring included, and stops at the first match: the events it examines are counted one by one here.
@Suite struct EventLogFirstMatchTests {
    @Test func agreesWithSinceAndExaminesOnlyUpToTheFirstMatch() {
        var log = EventLog(capacity: 16)
        let kinds = ["irq.raised", "irq.latched", "msg.sent"]
        let filters = [
            EventFilter(kinds: ["irq.raised"]), EventFilter(kinds: ["msg.*"]), EventFilter(kinds: ["none"]), .all,
        ]
        for n in 1...40 {  // past 16 the ring has wrapped: its oldest events are gone
            log.append(kind: kinds[(n + n / 4) % 3], time: time(UInt64(n)))
            for after in 0...UInt64(n + 1) {
                for filter in filters {
                    var examined: [UInt64] = []
                    let found = log.first(after: after) { event in
                        examined.append(event.seq)
                        return filter.matches(event)
                    }
                    let expected = log.since(after, matching: filter).events.first
                    #expect(found.event == expected)
                    #expect(log.first(after: after, matching: filter).event == expected)
                    #expect(found.examined == examined.count)
                    // Exactly the held events after `after`, in order, through the match (all of them without one).
                    let firstHeld = max(after + 1, log.oldestSeq ?? 1)
                    let last = expected?.seq ?? log.lastSeq
                    let through = firstHeld <= last ? Array(firstHeld...last) : []
                    #expect(examined == through, "after \(after), \(n) events")
                }
            }
        }
    }

    @Test func aMatchAtTheStartOfAFullRingExaminesOneEvent() {
        var log = EventLog(capacity: 4096)
        for n in 1...5000 { log.append(kind: n == 905 ? "irq.raised" : "msg.sent", time: time(UInt64(n))) }
        let found = log.first(after: 904, matching: EventFilter(kinds: ["irq.raised"]))
        #expect(found.event?.seq == 905 && found.examined == 1)
        let none = log.first(after: 0, matching: EventFilter(kinds: ["none"]))
        #expect(none.event == nil && none.examined == 4096)
    }
}

/// The replay ring's byte bound (`hub.limits.eventReplayBytes`, `Protocols/control.md` §5.5): events are dropped,
/// oldest first, when either the count or the bytes would go past their bound, and a replay from before them learns
/// of the gap as `replay_expired`.
@Suite struct EventLogByteBoundTests {
    /// An `eth.frame` event of a live capture with the largest snap (9216 bytes, 18432 hex digits).
    static func appendFrame(to log: inout EventLog, _ n: Int) {
        let frame = String(repeating: "ab", count: 9216)
        log.append(
            kind: "eth.frame", device: "lan0",
            data: ["port": "rtos", "direction": "received", "length": 9216, "frame": .string(frame)],
            time: time(UInt64(n)))
    }

    @Test func liveCaptureFramesAreBoundedInBytesNotOnlyInCount() {
        var log = EventLog(capacity: 4096, byteLimit: 8 << 20)
        for n in 1...4096 { Self.appendFrame(to: &log, n) }
        // Count alone would hold all 4096 (about 76 MB); the byte bound holds what fits in 8 MiB.
        let perEvent = log.events.last!.heldBytes
        #expect(perEvent > 18432 && perEvent < 18432 + 512)
        #expect(log.heldBytes <= 8 << 20)
        #expect(log.count == (8 << 20) / perEvent)
        #expect(log.lastSeq == 4096 && log.oldestSeq == 4096 - UInt64(log.count) + 1)
        let replay = log.since(0)
        #expect(replay.events.map(\.seq) == Array(log.oldestSeq!...4096))
        #expect(
            replay.missed
                == MissedEvents(
                    count: 4096 - UInt64(log.count), firstSeq: 1, lastSeq: log.oldestSeq! - 1, reason: .replayExpired))
    }

    @Test func heldBytesIsAboutTheEventsJSONText() {
        var log = EventLog(capacity: 4)
        Self.appendFrame(to: &log, 1)
        log.append(kind: "irq.raised", partition: "linux", data: ["line": 3, "from": "tester"], time: time(2))
        for event in log.events {
            var text: [UInt8] = []
            event.writeJSON(into: &text)
            #expect(event.heldBytes >= text.count && event.heldBytes <= text.count + 128, "\(event.kind)")
        }
    }

    @Test func theNewestEventIsHeldHoweverLarge() {
        var log = EventLog(capacity: 16, byteLimit: 64 << 10)
        log.append(kind: "small", time: time(1))
        log.append(kind: "large", data: ["blob": .string(String(repeating: "x", count: 100_000))], time: time(2))
        #expect(log.events.map(\.seq) == [2] && log.heldBytes > 64 << 10)
        log.append(kind: "small", time: time(3))
        #expect(log.events.map(\.seq) == [3] && log.heldBytes < 1024)
    }

    /// Against a plain list dropping from the front, through growth, wrapping and events of every size: the ring
    /// holds the same events and answers the same.
    @Test func matchesAReferenceModel() {
        for (capacity, byteLimit) in [(8, 4000), (64, 20_000), (100, 1_000_000), (1, 500)] {
            var log = EventLog(capacity: capacity, byteLimit: byteLimit)
            var model: [(seq: UInt64, bytes: Int)] = []
            let generator = SeededRandomSource(seed: UInt64(capacity))
            for n in 1...600 {
                let length = Int(generator.next() % 3 == 0 ? generator.next() % 3000 : generator.next() % 40)
                let event = log.append(
                    kind: n % 2 == 0 ? "even" : "odd", data: ["p": .string(String(repeating: "z", count: length))],
                    time: time(UInt64(n)))
                model.append((event.seq, event.heldBytes))
                if model.count > capacity { model.removeFirst() }
                while model.count > 1 && model.reduce(0, { $0 + $1.bytes }) > byteLimit { model.removeFirst() }
                #expect(log.events.map(\.seq) == model.map(\.seq), "capacity \(capacity), event \(n)")
                #expect(log.heldBytes == model.reduce(0) { $0 + $1.bytes })
                #expect(log.count == model.count && log.oldestSeq == model.first?.seq)
                let after = UInt64(n) - min(UInt64(n), generator.next() % 20)
                #expect(log.since(after).events.map(\.seq) == model.map(\.seq).filter { $0 > after })
                #expect(
                    log.count(since: after, matching: EventFilter(kinds: ["odd"]))
                        == log.since(after, matching: EventFilter(kinds: ["odd"])).events.count)
                #expect(log.recent(3).map(\.seq) == model.suffix(3).map(\.seq))
                #expect(
                    log.firstSeq(after: after, kind: "even") == model.first { $0.seq > after && $0.seq % 2 == 0 }?.seq)
            }
        }
    }
}
