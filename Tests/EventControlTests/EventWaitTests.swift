import ControlWire
import DeviceKit
import DeviceKitTesting
import EventControl
import EventLoop
import Events
import JSON
import PlatformConfig
import Testing

/// `events.wait` with `since` (`Protocols/control.md` §12.3, §2.7): answers with the first held match, ring
/// wrapped or not, and is charged `eventScanBytesPerEvent` for each event its scan examined, which stops at
/// the match (it was charged for the whole ring, and built the list of every match to take its first).
@Suite struct EventWaitTests {
    final class Host: EventControlHost {
        let limits = PlatformConfiguration.reference.hub.limits
        var eventLog = EventLog(capacity: 64)
        let eventWaits: DeferredWaits<EventFilter>

        init(loop: Loop) {
            eventWaits = DeferredWaits(loop: loop, limit: 4, limitName: "controlMaxWaiters", reason: "too_many_waits")
        }

        func setSubscription(_ subscription: EventSubscription?, of call: ControlCall) -> Bool { false }
        func flushEvents(of call: ControlCall) {}
        func filterRefused() {}
    }

    /// Calls `events.wait` and returns its immediate reply and what the call was charged.
    static func wait(_ methods: EventMethods, _ caller: FakeControlCaller, _ params: JSON) throws -> (
        reply: ControlReply, work: Int
    ) {
        let call = caller.makeCall("events.wait", params)
        let handler = try #require(methods.methods.first { $0.name == "events.wait" }).handler
        let reply: ControlReply
        do { reply = try handler(call) } catch { reply = .error(error) }
        return (reply, call.workBytes)
    }

    @Test func answersTheFirstMatchAndIsChargedForTheEventsExamined() throws {
        let loop = try Loop()
        let host = Host(loop: loop)
        let methods = EventMethods(host: host)
        let caller = FakeControlCaller()
        let time = EventTime(unixNs: 1_700_000_000_000_000_000, monoNs: 1)
        // 100 events in a ring of 64: 37...100 held; irq.raised at every seq divisible by 10.
        for n in 1...100 { host.eventLog.append(kind: n % 10 == 0 ? "irq.raised" : "msg.sent", time: time) }
        let per = EventMethods.eventScanBytesPerEvent
        let cases: [(since: Int, kinds: [String], seq: UInt64?, examined: Int)] = [
            (0, ["irq.raised"], 40, 4),  // since is older than the ring: from its oldest, 37
            (40, ["irq.raised"], 50, 10),
            (95, ["msg.*"], 96, 1),
            (0, ["msg.*"], 37, 1),
            (91, ["irq.raised"], 100, 9),
            (0, ["none"], nil, 64),  // no match: the whole ring, then it waits
            (100, ["irq.raised"], nil, 0),
        ]
        for entry in cases {
            let params: JSON = [
                "filter": ["kinds": .array(entry.kinds.map { .string($0) })], "since": .int(Int64(entry.since)),
                "timeoutMs": 1000,
            ]
            let (reply, work) = try Self.wait(methods, caller, params)
            let expected = host.eventLog.since(UInt64(entry.since), matching: EventFilter(kinds: entry.kinds))
            #expect(expected.events.first?.seq == entry.seq)
            if entry.seq != nil {
                guard case .result(let result) = reply else {
                    Issue.record("\(entry): \(reply)")
                    continue
                }
                #expect(result == ["event": expected.events[0].json], "\(entry)")
            } else {
                guard case .deferred = reply else {
                    Issue.record("\(entry): \(reply)")
                    continue
                }
            }
            #expect(work == entry.examined * per, "\(entry): charged \(work)")
        }
        host.eventWaits.close()
        #expect(loop.shutdown() == 0)
    }
}
