import JSON
import PlatformConfig
import YAML

/// The configuration as a JSON tree for `hub.config`: the YAML the encoder writes, node for node,
/// so scripts see exactly the structure documented in `Deploy/config-reference.md`.
package enum ConfigJSON {
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
