import Hypervisor
import PlatformConfig
import TestSupport

/// A platform on the reference handset with a manual clock and seeded randomness.
final class Fixture {
    let clock = ManualClock()
    let random = SeededRandomSource(seed: 42)
    let platform: Platform
    var actions: [Action] = []

    init(_ configuration: PlatformConfiguration = .reference, options: Platform.Options = Platform.Options()) throws {
        platform = try Platform(configuration: configuration, scheduler: clock, random: random, options: options)
    }

    /// Attaches and returns the welcome; fails the test by trapping on refusal (tests expect success).
    @discardableResult
    func attach(_ name: String, resumeToken: [UInt8]? = nil, window: Int? = nil) -> AttachInfo {
        let outcome = platform.attach(
            partition: name, resumeToken: resumeToken, receiveWindow: window, actions: &actions)
        guard case .attached(let info) = outcome else { fatalError("attach \(name) refused: \(outcome)") }
        return info
    }

    func drain(budget: Int = 1000) -> [Action] {
        var out: [Action] = []
        platform.drainDeliveries(budget: budget, into: &out)
        return out
    }

    func takeActions() -> [Action] {
        defer { actions.removeAll() }
        return actions
    }

    var events: [HypervisorEvent] {
        actions.compactMap { if case .event(let event) = $0 { event } else { nil } }
    }
}

extension Action {
    var interrupt: (session: SessionID, line: Int, priority: UInt8, coalesced: UInt32)? {
        if case .deliverInterrupt(let session, let line, let priority, let coalesced) = self {
            return (session, line, priority, coalesced)
        }
        return nil
    }

    var message: MessageDelivery? {
        if case .deliverMessage(let delivery) = self { return delivery }
        return nil
    }
}
