import JSON
import Management

/// Verified management commands: `activatePolicy` switches the policy profile named by the command's target
/// (`base`: the base policy; `Protocols/policy.md` §5, `Protocols/management.md` §3) through `activate`, which the
/// hub wires to its policy switch; every other operation goes to the engine behind it (the software slots, or
/// `operation_unavailable`).
package final class PolicyCommandExecutor: ManagementOperationExecutor {
    /// Switches to the profile (nil: the base policy) on behalf of `by`; the activation's JSON, or the refusal.
    package typealias Activate = (_ profile: String?, _ by: String) -> Result<JSON, ManagementRefusal>

    private let activate: Activate
    private let next: any ManagementOperationExecutor

    package init(next: any ManagementOperationExecutor, activate: @escaping Activate) {
        self.activate = activate
        self.next = next
    }

    package func execute(_ verified: VerifiedCommand) -> Result<JSON, ManagementRefusal> {
        let command = verified.command
        guard command.operation == "activatePolicy" else { return next.execute(verified) }
        guard command.parameters.isEmpty, command.softwareSHA256 == nil else {
            return .failure(ManagementRefusal("bad_parameters", "activatePolicy takes no parameters nor software"))
        }
        let profile = command.target == "base" ? nil : command.target
        return activate(profile, "management:\(command.authority)")
    }

    package func execute(
        _ verified: VerifiedCommand, completion: @escaping (Result<JSON, ManagementRefusal>) -> Void
    ) {
        guard verified.command.operation == "activatePolicy" else {
            return next.execute(verified, completion: completion)
        }
        completion(execute(verified))
    }
}
