import JSON
import ManagementWire
import PlatformConfig

/// A refused command: one of the codes of `Protocols/management.md` §4 and a sentence for people.
package struct ManagementRefusal: Error, Equatable, Sendable {
    package var code: String
    package var detail: String

    package init(_ code: String, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}

/// The decimal numbers of command parameters (`Protocols/management.md` §1): ASCII digits only — no sign,
/// space or point — at most `maxDigits` of them (leading zeros count), checked before the conversion, so a
/// value is never read by a parser laxer than the specification (Swift's `Int("+1")` is 1).
package enum DecimalParameter {
    package static func value(_ text: String, maxDigits: Int) -> UInt64? {
        guard !text.isEmpty, text.utf8.count <= maxDigits, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return UInt64(text)
    }
}

/// A command that passed every check of `Protocols/management.md` §4: signed by enough of its authority's
/// current keys, unexpired, fresh, and within the authority's grants. In the hub only the verifier makes one;
/// the initializer is `package` so an executor's tests can.
package struct VerifiedCommand: Sendable {
    /// The command as signed.
    package let command: ManagementCommand
    /// Whether the authority may install older software (`rollback_refused` is the executor's to decide).
    package let mayDowngrade: Bool
    /// Where it came from: `control` or `guest:PARTITION` (the relay).
    package let source: String

    package init(command: ManagementCommand, mayDowngrade: Bool, source: String) {
        self.command = command
        self.mayDowngrade = mayDowngrade
        self.source = source
    }
}

/// Carries out verified commands. The hub's software-slot engine implements the operations on partitions;
/// `rotateKeys` is the verifier's own and never reaches an executor.
package protocol ManagementOperationExecutor: AnyObject {
    /// Carries the command out and answers now.
    func execute(_ command: VerifiedCommand) -> Result<JSON, ManagementRefusal>
    /// Carries the command out and calls `completion` once with the answer: at once, or later on the same thread
    /// when the operation's long work runs elsewhere first (a software image copied off the hub's loop,
    /// `Protocols/management.md` §4). By default, `execute(_:)`'s answer at once.
    func execute(_ command: VerifiedCommand, completion: @escaping (Result<JSON, ManagementRefusal>) -> Void)
}

extension ManagementOperationExecutor {
    package func execute(
        _ command: VerifiedCommand, completion: @escaping (Result<JSON, ManagementRefusal>) -> Void
    ) {
        completion(execute(command))
    }
}

/// The executor used while no engine is plugged in: refuses every partition operation with
/// `operation_unavailable`, so a verified command is never silently dropped.
package final class UnavailableOperationExecutor: ManagementOperationExecutor {
    package init() {}

    package func execute(_ command: VerifiedCommand) -> Result<JSON, ManagementRefusal> {
        .failure(
            ManagementRefusal(
                "operation_unavailable",
                "this hub has no engine for '\(command.command.operation)' (Protocols/management.md §3)"))
    }
}
