/// The management authorities (`Deploy/config-reference.md`, management; `Protocols/management.md` §3): who
/// may sign management commands, with which keys, and what each may do.
package struct ManagementConfig: Sendable, Equatable {
    /// The authorities, in file order; names are unique.
    package var authorities: [ManagementAuthorityConfig]
    /// The audit log keeps this many newest entries (`Protocols/management.md` §5).
    package var auditMaxEntries: Int
    /// A command whose expiry lies further ahead than this is refused (`expiry_too_far`,
    /// `Protocols/management.md` §4): a withheld command cannot be kept for use in the far future (freeze).
    package var maxCommandLifetimeMs: Int = Self.defaultMaxCommandLifetimeMs
    /// Entries per audit segment file (`Protocols/management.md` §5). A segment that fills is `fsync`ed and the
    /// next one created (three `fsync`s on the loop), and refusals, which anyone who may submit can cause at will,
    /// fill segments too: this, not `auditMaxEntries`, sets how often a flood of them pays that.
    package var auditSegmentEntries: Int = Self.defaultAuditSegmentEntries

    package init(authorities: [ManagementAuthorityConfig] = [], auditMaxEntries: Int = Self.defaultAuditMaxEntries) {
        self.authorities = authorities
        self.auditMaxEntries = auditMaxEntries
    }

    /// 30 days.
    package static let defaultMaxCommandLifetimeMs = 30 * 86_400_000
    /// One minute to ten years.
    package static let maxCommandLifetimeMsRange = 60_000...(3650 * 86_400_000)

    package static let defaultAuditMaxEntries = 1000
    package static let auditMaxEntriesRange = 16...100_000
    package static let defaultAuditSegmentEntries = 16_384
    /// At most half the largest `auditMaxEntries`: the longest segment a reader accepts.
    package static let auditSegmentEntriesRange = 1...50_000

    /// The operations a command may name (`Protocols/management.md` §3).
    package static let operations: Set<String> = [
        "upgrade", "rollback", "backup", "install", "remove", "provision", "deprovision", "rotateKeys",
        "activatePolicy",
    ]
    /// The target of `activatePolicy` that names the base policy (`Protocols/policy.md` §5); no profile may take it.
    package static let basePolicyTarget = "base"
    /// At most this many keys per authority (the envelope carries at most 16 signatures).
    package static let maxKeys = 16
    /// At most this many authorities.
    package static let maxAuthorities = 64
}

/// One authority: a name, its Ed25519 public keys and how many of them must sign, and its grants.
package struct ManagementAuthorityConfig: Sendable, Equatable {
    /// The name commands carry in their `authority` field.
    package var name: String
    /// Ed25519 public keys, 64 lowercase hex digits each (32 bytes), distinct.
    package var keys: [String]
    /// How many distinct keys of `keys` must sign a command (k of n), 1...keys.count.
    package var threshold: Int
    /// What the authority may do: each grant allows its operations on its partitions.
    package var grants: [ManagementGrant]
    /// Whether the authority may install software older than what a partition runs (`rollback_refused`
    /// otherwise; `Protocols/management.md` §4).
    package var mayDowngrade: Bool
    /// What the authority may provision at run time (`provision`/`deprovision`); nil: nothing.
    package var budget: ProvisioningBudget? = nil

    package init(
        name: String, keys: [String], threshold: Int = 1, grants: [ManagementGrant] = [], mayDowngrade: Bool = false
    ) {
        self.name = name
        self.keys = keys
        self.threshold = threshold
        self.grants = grants
        self.mayDowngrade = mayDowngrade
    }

    /// Whether a grant allows `operation` on `target`. `rotateKeys` needs no grant: it targets the authority
    /// itself (`Protocols/management.md` §3).
    package func allows(_ operation: String, on target: String) -> Bool {
        // A provisioned partition does not exist when the grant is written: the budget's name prefix is the
        // grant (`Protocols/management.md` §9), so a budget can never name a configured partition.
        if operation == "provision" || operation == "deprovision" {
            return budget?.admitsName(target) ?? false
        }
        return grants.contains { $0.operations.contains(operation) && $0.partitions.contains(target) }
    }
}

/// Operations × partitions.
package struct ManagementGrant: Sendable, Equatable {
    package var operations: [String]
    package var partitions: [String]

    package init(operations: [String], partitions: [String]) {
        self.operations = operations
        self.partitions = partitions
    }
}

extension ManagementConfig {
    /// Whether `text` is an Ed25519 public key as the configuration writes it: 64 lowercase hex digits.
    package static func isPublicKeyHex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Why `text` may not be an authority's public key (`Protocols/management.md` §5, Keys), or nil. Besides
    /// the format, a weak key is refused: RFC 8032 verification accepts, under a small-order point (the
    /// identity among them), signatures anyone can make without a private key (R the identity, S 0), and a
    /// non-canonical encoding is a second spelling of a point. Compared with the sign bit (the top bit of the
    /// last byte) cleared, so each point's both spellings are refused. Then the key must decode to a point
    /// (`Ed25519PointCheck`): under 32 bytes that are none no signature verifies, so rotating to one would
    /// lock the authority out.
    package static func publicKeyProblem(_ text: String) -> String? {
        guard isPublicKeyHex(text) else { return "is not an Ed25519 public key (64 lowercase hex digits)" }
        var digits = Array(text.utf8)
        let signNibble = digits[62] <= 0x39 ? digits[62] - 0x30 : digits[62] - 0x61 + 10
        digits[62] = 0x30 + (signNibble & 0x7)
        let y = String(decoding: digits, as: UTF8.self)
        if smallOrderPoints.contains(y) { return "is a small-order point: a weak key (signatures forgeable)" }
        // y ≥ p = 2^255 − 19, little-endian: ed…ff 7f and above. Lowercase hex digits sort as their values.
        if digits[2..<62].allSatisfy({ $0 == UInt8(ascii: "f") }), y.hasSuffix("7f"), y.prefix(2) >= "ed" {
            return "is not a canonical encoding (y is not below 2^255 - 19)"
        }
        let nibbles = text.utf8.map { $0 <= 0x39 ? $0 - 0x30 : $0 - 0x61 + 10 }
        let bytes = (0..<32).map { nibbles[2 * $0] << 4 | nibbles[2 * $0 + 1] }
        switch Ed25519PointCheck.check(bytes) {
        case .point: return nil
        case .nonCanonical: return "is not a canonical encoding (y is not below 2^255 - 19)"
        case .zeroXWithSign: return "is not a canonical encoding (x is 0 but the sign bit is set)"
        case .notOnCurve:
            return "is not a point on the Ed25519 curve ((y^2 - 1)/(d*y^2 + 1) is not a square mod 2^255 - 19): "
                + "no signature could verify under it"
        }
    }

    /// The y-coordinates (little-endian, sign bit clear) of the eight points of small order on RFC 8032's
    /// curve — five values, as a point and its negation share one — and the non-canonical spellings y = p and
    /// y = p + 1 of two of them.
    static let smallOrderPoints: Set<String> = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ]

    /// Every problem with the authorities, paths as in the file (`management.authorities[i].…`).
    /// `policyTargets`: the targets `activatePolicy` grants may name instead of partitions (the profiles and
    /// `base`).
    func validationIssues(partitionNames: Set<String>, stateDirectory: String?, policyTargets: Set<String> = [])
        -> [ConfigIssue]
    {
        var issues: [ConfigIssue] = []
        if !authorities.isEmpty && stateDirectory == nil {
            issues.append(
                ConfigIssue(
                    path: "management.authorities",
                    reason: "needs hub.stateDirectory: counters and keys must persist across restarts"))
        }
        if authorities.count > Self.maxAuthorities {
            issues.append(ConfigIssue(path: "management.authorities", reason: "more than \(Self.maxAuthorities)"))
        }
        if !Self.auditMaxEntriesRange.contains(auditMaxEntries) {
            issues.append(
                ConfigIssue(
                    path: "management.auditMaxEntries",
                    reason:
                        "\(auditMaxEntries) is outside \(Self.auditMaxEntriesRange.lowerBound)...\(Self.auditMaxEntriesRange.upperBound)"
                ))
        }
        if !Self.auditSegmentEntriesRange.contains(auditSegmentEntries) {
            issues.append(
                ConfigIssue(
                    path: "management.auditSegmentEntries",
                    reason:
                        "\(auditSegmentEntries) is outside \(Self.auditSegmentEntriesRange.lowerBound)...\(Self.auditSegmentEntriesRange.upperBound)"
                ))
        }
        if !Self.maxCommandLifetimeMsRange.contains(maxCommandLifetimeMs) {
            issues.append(
                ConfigIssue(
                    path: "management.maxCommandLifetimeMs",
                    reason:
                        "\(maxCommandLifetimeMs) is outside \(Self.maxCommandLifetimeMsRange.lowerBound)...\(Self.maxCommandLifetimeMsRange.upperBound)"
                ))
        }
        var seen: Set<String> = []
        for (index, authority) in authorities.enumerated() {
            let path = "management.authorities[\(index)]"
            if !seen.insert(authority.name).inserted {
                issues.append(ConfigIssue(path: "\(path).name", reason: "'\(authority.name)' is already an authority"))
            }
            issues += authority.validationIssues(path, partitionNames: partitionNames, policyTargets: policyTargets)
        }
        return issues
    }
}

extension ManagementAuthorityConfig {
    func validationIssues(_ path: String, partitionNames: Set<String>, policyTargets: Set<String> = []) -> [ConfigIssue]
    {
        var issues: [ConfigIssue] = []
        func add(_ field: String, _ reason: String) { issues.append(ConfigIssue(path: path + field, reason: reason)) }
        if !ConfigValidator.isValidName(name) { add(".name", "'\(name)' is not a valid name") }
        if keys.isEmpty || keys.count > ManagementConfig.maxKeys {
            add(".keys", "needs 1...\(ManagementConfig.maxKeys) keys, has \(keys.count)")
        }
        for (index, key) in keys.enumerated() {
            if let problem = ManagementConfig.publicKeyProblem(key) { add(".keys[\(index)]", problem) }
        }
        if Set(keys).count != keys.count { add(".keys", "lists a key twice") }
        if threshold < 1 || threshold > max(keys.count, 1) {
            add(".threshold", "\(threshold) is outside 1...\(max(keys.count, 1)) (the number of keys)")
        }
        for (index, grant) in grants.enumerated() {
            for operation in grant.operations where !ManagementConfig.operations.contains(operation) {
                add(".grants[\(index)].operations", "'\(operation)' is not a management operation")
            }
            let policyOnly = !grant.operations.isEmpty && grant.operations.allSatisfy { $0 == "activatePolicy" }
            for partition in grant.partitions
            where !partitionNames.contains(partition) && !(policyOnly && policyTargets.contains(partition)) {
                add(
                    ".grants[\(index)].partitions",
                    policyOnly ? "'\(partition)' is not a policy profile nor base" : "'\(partition)' is not a partition"
                )
            }
        }
        return issues
    }
}
