import JSON
import PlatformConfig
import YAML

/// The configuration as a JSON tree for `hub.config`: the YAML the encoder writes, node for node,
/// so scripts see exactly the structure documented in `Deploy/config-reference.md`.
package enum ConfigJSON {
    /// `hub.config`'s answer for `configuration`: secrets redacted, as the tree its YAML reads back as (the YAML
    /// itself when it does not). Encoding and reading back cost about a millisecond for the reference handset,
    /// so the hub builds it once for its configuration, which does not change while it runs.
    package static func redactedTree(_ configuration: PlatformConfiguration) -> JSON {
        let yaml = configuration.redacted.encodeYAML()
        return tree(fromYAML: yaml) ?? .string(yaml)
    }

    /// `hub.limits`' `limits` member: every configured limit with its value, range and summary, and the time a
    /// guest has for its handshake.
    package static func limits(_ hub: HubSettings) -> JSONObject {
        var configured = JSONObject()
        for field in Limits.fields {
            configured[field.key] = [
                "value": .int(Int64(hub.limits.value(of: field))), "min": .int(Int64(field.range.lowerBound)),
                "max": .int(Int64(field.range.upperBound)), "summary": .string(field.summary),
            ]
        }
        configured["handshakeTimeoutMs"] = [
            "value": .int(Int64(hub.handshakeTimeoutMs)),
            "min": .int(Int64(HubSettings.handshakeTimeoutRange.lowerBound)),
            "max": .int(Int64(HubSettings.handshakeTimeoutRange.upperBound)),
            "summary": "time a guest has to complete its handshake",
        ]
        return configured
    }

    package static func tree(fromYAML yaml: String) -> JSON? {
        guard let composed = try? Composer.compose(yaml, limits: PlatformConfiguration.yamlLimits) else { return nil }
        return json(composed.root)
    }

    private static func json(_ node: Node) -> JSON {
        switch node {
        case .scalar(let scalar):
            // Quoted scalars stay strings; plain ones become the JSON type they spell.
            if scalar.style != .plain { return .string(scalar.string) }
            switch scalar.string {
            case "null", "~", "": return .null
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: break
            }
            if let integer = Int64(scalar.string) { return .int(integer) }
            return .string(scalar.string)
        case .sequence(let sequence):
            return .array(sequence.map(json))
        case .mapping(let mapping):
            return .object(JSONObject(mapping.map { (key, value) in (key.string ?? "\(key)", json(value)) }))
        }
    }
}
