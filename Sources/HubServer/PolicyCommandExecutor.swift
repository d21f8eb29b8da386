import JSON
import Management
import PlatformControl

/// Verified management commands: `activatePolicy` switches the policy profile named by the command's target
/// (`base`: the base policy; `Protocols/policy.md` §5, `Protocols/management.md` §3); every other operation goes
/// to the engine behind it (the software slots, or `operation_unavailable`).
final class PolicyCommandExecutor: ManagementOperationExecutor {
    private let policy: PolicyControl
    private let next: any ManagementOperationExecutor

    init(policy: PolicyControl, next: any ManagementOperationExecutor) {
        self.policy = policy
        self.next = next
    }

    func execute(_ verified: VerifiedCommand) -> Result<JSON, ManagementRefusal> {
        let command = verified.command
        guard command.operation == "activatePolicy" else { return next.execute(verified) }
        guard command.parameters.isEmpty, command.softwareSHA256 == nil else {
            return .failure(ManagementRefusal("bad_parameters", "activatePolicy takes no parameters nor software"))
        }
        let profile = command.target == "base" ? nil : command.target
        do throws(PolicyActivationError) {
            let activation = try policy.activate(profile, by: "management:\(command.authority)")
            return .success(PolicyControl.activationJSON(activation))
        } catch {
            switch error {
            case .unknownProfile(let name):
                return .failure(ManagementRefusal("unknown_profile", "no profile '\(name)'"))
            case .invalidPolicy(let reason): return .failure(ManagementRefusal("invalid_policy", reason))
            }
        }
    }
}
