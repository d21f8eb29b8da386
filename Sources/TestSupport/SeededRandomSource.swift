import Hypervisor

/// Deterministic "random" bytes and numbers (SplitMix64), so tests can predict resume tokens and a generated
/// case that fails is written again by the next run.
package final class SeededRandomSource: RandomSource, RandomNumberGenerator {
    private var state: UInt64

    package init(seed: UInt64 = 0x5EED) { state = seed }

    package func randomBytes(count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(max(0, count))
        while bytes.count < count {
            var value = next()
            for _ in 0..<8 where bytes.count < count {
                bytes.append(UInt8(truncatingIfNeeded: value))
                value >>= 8
            }
        }
        return bytes
    }

    package func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
