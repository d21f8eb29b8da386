import HubSystem
import Testing

@Suite struct SecureRandomTests {
    @Test(arguments: [0, 1, 32, 256, 257, 1 << 20])
    func fillsExactlyTheCountAskedFor(count: Int) {
        let bytes = SecureRandom.bytes(count)
        #expect(bytes.count == count)
        guard count >= 256 else { return }
        // Over 256 bytes every byte value is expected about count/256 times: a buffer left partly unfilled (a
        // short read not asked for again) would be dominated by zeros.
        let zeros = bytes.lazy.filter { $0 == 0 }.count
        #expect(zeros < max(16, count / 64), "\(zeros) zero bytes of \(count)")
    }

    @Test func twoNoncesDiffer() {
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }
}
