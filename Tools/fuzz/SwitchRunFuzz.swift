// libFuzzer entry for the switch's run path (`Switch.receiveRun`): a stream peer's bytes in the QEMU or VDE framing
// (Protocols/ethernet.md §3), switched as a stream port switches them — a run of frames repeating the remembered
// flow whole, any other frame through `receive`, a length over the transport's limit ending the stream — against a
// switch that decides every frame afresh. Built by run-switch-fuzz.sh with the Wire, EthernetWire and Ethernet
// sources as one module (so `repeatsFlows`, internal, is reachable and no `import` of them is needed here).
//
// The first input byte selects the framing, the run limit (a pass slice), the transport's frame limit and the
// destination's queue size; the rest is the stream. Properties checked beyond "does not crash" (under ASan, so
// every unsafe load and copy of the run path is bounds-checked):
// - a run takes whole records only, each within both limits, and never more frames than its limit;
// - after every step both switches agree on pressure hits, and at the end on every port's counters and drops,
//   queued frames, learned addresses in their order, pressure, and the record bytes each port is handed.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSwitchRuns(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let stream = Array(bytes.dropFirst())
    let width = selector & 1 == 0 ? 4 : 2
    let limit = [1, 3, 256][Int(selector >> 1 & 3) % 3]
    let frameLimit = [60, 64, 100, 1518][Int(selector >> 3 & 3)]
    let queueFrames = [2, 9, 1024, 1024][Int(selector >> 5 & 3)]
    let queueBytes = selector & 0x80 == 0 ? 1 << 20 : 300

    let pair = SwitchPair(width: width, queueFrames: queueFrames, queueBytes: queueBytes)
    stream.withUnsafeBytes { raw in pair.feed(raw, width: width, limit: limit, frameLimit: frameLimit) }
    pair.compareAll()
    return 0
}

/// The switch taking runs and the reference, with three ports: p0 (the sender, station A), p1 (station B, the
/// flow's destination, laid out in the stream's framing, its queue as selected) and p2 (no prefix, so a run to
/// it is never taken whole).
private final class SwitchPair {
    let fast = Switch(name: "lan0", mtu: 1500, seed: 7)
    let reference = Switch(name: "lan0", mtu: 1500, seed: 7)
    var ports: [PortID] = []
    var now: UInt64 = 1

    init(width: Int, queueFrames: Int, queueBytes: Int) {
        reference.repeatsFlows = false
        for index in 0..<3 {
            let settings = PortSettings(
                name: "p\(index)", queueFrames: index == 1 ? queueFrames : 1024,
                queueBytes: index == 1 ? queueBytes : 1 << 20)
            let id = fast.addPort(settings)
            guard reference.addPort(settings) == id else { fatalError("port ids differ") }
            for sw in [fast, reference] { sw.setEgressPrefix(id, width: index == 2 ? 0 : width) }
            ports.append(id)
        }
        // B announces itself on p1, then A's first frame to B is decided afresh and remembered as the flow.
        let a: [UInt8] = [2, 0, 0, 0, 0, 1]
        let b: [UInt8] = [2, 0, 0, 0, 0, 2]
        let payload = [UInt8](repeating: 0, count: 50)
        for sw in [fast, reference] {
            sw.receive((a + b + [8, 0] + payload)[...], from: ports[1], now: now)
            sw.receive((b + a + [8, 0] + payload)[...], from: ports[0], now: now)
        }
    }

    func length(_ raw: UnsafeRawBufferPointer, at offset: Int, width: Int) -> Int {
        // SAFETY: the callers check that `width` bytes are left at `offset`.
        width == 4
            ? Int(UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            : Int(UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// The stream from p0, read as `StreamAttachment.switchFrames` reads it; p1 is written out now and then.
    func feed(_ raw: UnsafeRawBufferPointer, width: Int, limit: Int, frameLimit: Int) {
        var cursor = 0
        var steps = 0
        while raw.count - cursor >= width {
            let first = length(raw, at: cursor, width: width)
            guard first <= frameLimit else { return }
            let rest = UnsafeRawBufferPointer(rebasing: raw[cursor...])
            let run = fast.receiveRun(
                rest, prefixWidth: width, limit: limit, maxLength: frameLimit, from: ports[0], now: now)
            if run.frames > 0 {
                guard run.frames <= limit else { fatalError("a run of \(run.frames) over its limit \(limit)") }
                // Whole records only, each within the limits; the reference takes the same frames one by one.
                var offset = 0
                for _ in 0..<run.frames {
                    guard rest.count - offset >= width else { fatalError("a run past the records") }
                    let frame = length(rest, at: offset, width: width)
                    guard frame >= 14, frame <= frameLimit, frame <= 1514, rest.count - offset - width >= frame else {
                        fatalError("a run took a frame of \(frame) bytes it should have left")
                    }
                    let start = cursor + offset + width
                    reference.receive(
                        UnsafeRawBufferPointer(rebasing: raw[start..<start + frame]), from: ports[0], now: now)
                    offset += width + frame
                }
                guard offset == run.bytes else { fatalError("a run's \(run.bytes) bytes are not its records") }
                cursor += run.bytes
            } else {
                guard raw.count - cursor - width >= first else { return }
                let frame = UnsafeRawBufferPointer(rebasing: raw[cursor + width..<cursor + width + first])
                fast.receive(frame, from: ports[0], now: now)
                reference.receive(frame, from: ports[0], now: now)
                cursor += width + first
            }
            guard fast.pressureHits == reference.pressureHits else { fatalError("pressure hits differ") }
            steps += 1
            // A read ends (the time moves on) and p1 is written out every few steps, as passes do.
            if steps % 3 == 0 { now += 1 }
            if steps % 4 == 0 { drain(ports[1]) }
        }
    }

    func drain(_ id: PortID) {
        let fastRecords = fast.takeEgress(id) { Array($0.bytes) }
        guard fastRecords == reference.takeEgress(id, { Array($0.bytes) }) else { fatalError("\(id): records differ") }
    }

    func compareAll() {
        for id in ports {
            guard fast.counters(of: id) == reference.counters(of: id) else { fatalError("\(id): counters differ") }
            guard fast.queuedFrames(of: id) == reference.queuedFrames(of: id) else { fatalError("\(id): queues") }
            guard fast.isPressured(id) == reference.isPressured(id) else { fatalError("\(id): pressure differs") }
            guard fast.learnedMACs(of: id) == reference.learnedMACs(of: id) else { fatalError("\(id): learned") }
        }
        guard fast.forwardedFrames == reference.forwardedFrames, fast.floodedFrames == reference.floodedFrames else {
            fatalError("forwarded or flooded totals differ")
        }
        guard fast.macEntriesBySeen(now: now) == reference.macEntriesBySeen(now: now) else {
            fatalError("learned addresses differ")
        }
        for id in ports { drain(id) }
    }
}
