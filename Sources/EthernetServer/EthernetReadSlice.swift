import EventLoop
import JSON

/// How much of one Ethernet attachment's input the hub takes per loop pass (`Protocols/ethernet.md` §4.8,
/// `hub.limits.ethernetReadFramesPerPass` / `ethernetReadBytesPerPass`).
///
/// An attachment counts what it switched this pass; once either budget is used it stops reading (the rest stays
/// in the kernel, or in its bounded backlog of one read) until the end of the pass, when the device resets the
/// count and lets it read again. Every other connection is polled in between, so a flooding peer delays the
/// control API and real-time guests by at most one slice — the pattern fair-share guests follow
/// (`Deploy/config-reference.md`, partitions).
struct EthernetReadSlice {
    let framesPerPass: Int
    let bytesPerPass: Int
    private(set) var frames = 0
    private(set) var bytes = 0
    /// In the device's list of attachments to reset at the end of this pass.
    var isListed = false
    /// The most frames switched from this attachment in one pass since it started (at most `framesPerPass`).
    private(set) var mostFramesInOnePass = 0
    /// Passes that ended with the slice used up (the attachment had more to give).
    private(set) var passesAtBudget: UInt64 = 0

    init(framesPerPass: Int, bytesPerPass: Int) {
        self.framesPerPass = max(1, framesPerPass)
        self.bytesPerPass = max(1, bytesPerPass)
    }

    /// Whether this pass's slice is used up: the attachment must not read again before the pass ends.
    @inline(__always)
    var isUsed: Bool { frames >= framesPerPass || bytes >= bytesPerPass }

    /// Whether one more frame may be switched this pass.
    @inline(__always)
    var hasRoomForFrame: Bool { frames < framesPerPass }

    @inline(__always)
    var isEmpty: Bool { frames == 0 && bytes == 0 }

    @inline(__always)
    mutating func countFrame() { frames += 1 }

    @inline(__always)
    mutating func countBytes(_ count: Int) { bytes += count }

    /// Closes this pass's accounting.
    mutating func endPass() {
        if isUsed { passesAtBudget += 1 }
        mostFramesInOnePass = max(mostFramesInOnePass, frames)
        frames = 0
        bytes = 0
    }

    /// For `eth.ports`: the budget and what the attachment took of it.
    var json: JSON {
        [
            "framesPerPass": .int(Int64(framesPerPass)), "bytesPerPass": .int(Int64(bytesPerPass)),
            "mostFramesInOnePass": .int(Int64(max(mostFramesInOnePass, frames))),
            "passesAtBudget": .uint(passesAtBudget),
        ]
    }
}

/// An attachment read in slices: the device calls `nextPass` at the end of every pass in which it read.
protocol EthernetSlicedReader: AnyObject {
    var slice: EthernetReadSlice { get set }
    /// The pass ended: close the slice's accounting and, if reading stopped because the slice was used, take the
    /// next slice (what is buffered first) and read again.
    func nextPass()
}

extension EthernetDevice {
    /// A fresh slice with the configured budgets.
    func makeReadSlice() -> EthernetReadSlice {
        let limits = host.limits
        return EthernetReadSlice(
            framesPerPass: limits.ethernetReadFramesPerPass, bytesPerPass: limits.ethernetReadBytesPerPass)
    }

    /// `reader` switched or read something this pass: its slice is reset at the end of the pass.
    func noteRead(_ reader: EthernetSlicedReader) {
        guard !reader.slice.isListed, let readPass, !host.isShuttingDown else { return }
        reader.slice.isListed = true
        slicedReaders.append(reader)
        if !readPass.isArmed { readPass.arm { [unowned self] in self.endReadPass() } }
    }

    /// End of a pass (libuv's check phase, after every connection was polled): every reader that read takes its
    /// next slice. One re-listed here is reset at the end of the next pass (`EndOfPass` semantics).
    private func endReadPass() {
        let readers = slicedReaders
        slicedReaders.removeAll(keepingCapacity: true)
        for reader in readers {
            reader.slice.isListed = false
            reader.nextPass()
        }
    }
}
