/// Where the model takes random bytes (resume tokens). Injected so tests are deterministic.
package protocol RandomSource: AnyObject {
    func randomBytes(count: Int) -> [UInt8]
}

/// Random bytes from the system's cryptographically secure generator.
package final class SystemRandomSource: RandomSource {
    package init() {}

    package func randomBytes(count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<max(0, count)).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
