import JSON
import PlatformConfig

/// What the hub trusts per authority and must remember across restarts (`Protocols/management.md` §5): the
/// highest accepted counter and the current key set, which `rotateKeys` replaces.
package struct AuthorityTrust: Equatable, Sendable {
    /// The highest counter accepted; 0 before any.
    package var counter: UInt64
    /// Current Ed25519 public keys, 64 lowercase hex digits each.
    package var keys: [String]
    /// How many distinct current keys must sign.
    package var threshold: Int
    /// The keys the configuration named when this record was made: when the configuration names other keys,
    /// the operator re-keyed the authority by hand and the configuration wins (the counter is kept).
    package var configuredKeys: [String]

    package init(counter: UInt64, keys: [String], threshold: Int, configuredKeys: [String]) {
        self.counter = counter
        self.keys = keys
        self.threshold = threshold
        self.configuredKeys = configuredKeys
    }
}

/// The trusted state of every configured authority, and its JSON form on disk.
package struct ManagementTrust: Equatable, Sendable {
    package var authorities: [String: AuthorityTrust]

    /// The state for `config`, starting from `persisted` (nil: nothing on disk): counters always carry over;
    /// rotated keys carry over unless the configuration's keys changed since.
    package init(config: ManagementConfig, persisted: ManagementTrust?) {
        var authorities: [String: AuthorityTrust] = [:]
        for authority in config.authorities {
            let fresh = AuthorityTrust(
                counter: 0, keys: authority.keys, threshold: authority.threshold, configuredKeys: authority.keys)
            guard var old = persisted?.authorities[authority.name] else {
                authorities[authority.name] = fresh
                continue
            }
            if old.configuredKeys != authority.keys || old.threshold > old.keys.count {
                old.keys = authority.keys
                old.threshold = authority.threshold
                old.configuredKeys = authority.keys
            }
            authorities[authority.name] = old
        }
        self.authorities = authorities
    }

    package var json: JSON {
        var object = JSONObject()
        for name in authorities.keys.sorted() {
            guard let trust = authorities[name] else { continue }
            object[name] = [
                "counter": .string(String(trust.counter)), "keys": .array(trust.keys.map { .string($0) }),
                "threshold": .int(Int64(trust.threshold)),
                "configuredKeys": .array(trust.configuredKeys.map { .string($0) }),
            ]
        }
        return ["version": 1, "authorities": .object(object)]
    }

    /// Reads the on-disk form; nil when it is not one (the caller refuses to start rather than forget
    /// counters), or when it names a key the configuration would refuse (a weak key is never trusted).
    package init?(json: JSON) {
        guard json["version"]?.intValue == 1, let object = json["authorities"]?.objectValue else { return nil }
        var authorities: [String: AuthorityTrust] = [:]
        for member in object.members {
            let value = member.value
            guard let counterText = value["counter"]?.stringValue, let counter = UInt64(counterText),
                let keys = value["keys"]?.arrayValue?.compactMap(\.stringValue),
                let threshold = value["threshold"]?.intValue,
                let configured = value["configuredKeys"]?.arrayValue?.compactMap(\.stringValue),
                keys.allSatisfy({ ManagementConfig.publicKeyProblem($0) == nil }),
                (1...max(keys.count, 1)).contains(threshold)
            else { return nil }
            authorities[member.key] = AuthorityTrust(
                counter: counter, keys: keys, threshold: threshold, configuredKeys: configured)
        }
        self.authorities = authorities
    }
}
