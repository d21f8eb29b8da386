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

    /// One delivery pass, message batches spread into one `Delivered` per message.
    func drain(budget: Int = 1000) -> [Delivered] {
        var out: [Action] = []
        platform.drainDeliveries(budget: budget, into: &out)
        return expand(out)
    }

    func expand(_ actions: [Action]) -> [Delivered] {
        actions.flatMap { action -> [Delivered] in
            if case .deliverMessages(let batch) = action { return platform.messages(in: batch).map(Delivered.message) }
            return [.action(action)]
        }
    }

    func takeActions() -> [Action] {
        defer { actions.removeAll() }
        return actions
    }

    var events: [HypervisorEvent] {
        actions.compactMap { if case .event(let event) = $0 { event } else { nil } }
    }
}

/// What a delivery pass produced, with message batches spread out.
enum Delivered {
    case action(Action)
    case message(MessageDelivery)

    var interrupt: (session: SessionID, line: Int, priority: UInt8, coalesced: UInt32)? {
        if case .action(let action) = self { return action.interrupt }
        return nil
    }

    var message: MessageDelivery? {
        if case .message(let delivery) = self { return delivery }
        return nil
    }
}

extension Action {
    var interrupt: (session: SessionID, line: Int, priority: UInt8, coalesced: UInt32)? {
        if case .deliverInterrupt(let session, let line, let priority, let coalesced) = self {
            return (session, line, priority, coalesced)
        }
        return nil
    }

}
