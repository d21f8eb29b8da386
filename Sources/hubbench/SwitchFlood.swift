import Ethernet
import Glibc

/// `switch-macflood`: the switch alone, in this process, with no socket or loop in the way: `frames` broadcasts
/// from one fixed source, then the same number each from a new random source into a full table (the per-port
/// limit raised so every frame evicts), alternating `rounds` times. Per frame, the thread's CPU time of each; the
/// socket benchmark's runs vary with how the kernel batches the sender's writes, which this one does not see.
func switchMACFlood(frames: Int, rounds: Int) {
    let table = Switch.defaultMACTableLimit
    // With no more frames than the table holds, the measured flood would look sources up instead of evicting them.
    guard frames > table else { fail("switch-macflood: --frames must exceed the table's \(table) entries") }
    let sw = Switch(name: "bench", macTableLimit: table, macLimitPerPort: table * 8)
    let port = sw.addPort(PortSettings(name: "p0"))
    sw.setLink(port, up: true)
    var generator = SplitMix64(seed: 7)
    func frameBytes(source: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xff, count: 6)
        for shift in stride(from: 40, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: source >> shift)) }
        bytes += [0x88, 0xb5] + [UInt8](repeating: 0, count: 46)
        return bytes
    }
    let fixed = frameBytes(source: 0x0200_0000_0001)
    // Built before timing, one after another in one buffer as a read leaves them (a separate allocation per frame
    // measured the allocator's scatter, a cache miss per frame that the hub's read buffer does not have).
    let frameLength = fixed.count
    let random = (0..<frames).flatMap { _ in frameBytes(source: 0x0200_0000_0000 | generator.next() & 0xff_ffff_ffff) }
    func threadNanos() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
    // The switch's clock runs on across runs (never back), so an evicted entry's age is never negative: every
    // measured eviction is of an entry seen within the ageing time, as under a real flood.
    var now: UInt64 = 1_000_000_000
    func run(_ bytes: [UInt8], stride: Int) -> Double {
        bytes.withUnsafeBytes { all in
            let started = threadNanos()
            for index in 0..<frames {
                let frame = UnsafeRawBufferPointer(rebasing: all[index * stride..<index * stride + frameLength])
                sw.receive(frame, from: port, now: now)
                now &+= 100
            }
            return Double(threadNanos() - started) / Double(frames)
        }
    }
    // The table filled once first, so every measured random frame evicts.
    _ = run(random, stride: frameLength)
    var fixedNs: [Double] = []
    var floodNs: [Double] = []
    for _ in 0..<rounds {
        fixedNs.append(run(fixed, stride: 0))
        floodNs.append(run(random, stride: frameLength))
    }
    func list(_ values: [Double]) -> String {
        "[" + values.map { String(Double(Int($0 * 10)) / 10) }.joined(separator: ",") + "]"
    }
    let learned = sw.learnedMACs(of: port)
    emit(#"{"fixedNs":\#(list(fixedNs)),"floodNs":\#(list(floodNs)),"table":\#(table),"learned":\#(learned)}"#)
}
