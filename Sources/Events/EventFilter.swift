import JSON

/// Which events a subscriber or a waiter wants. Each dimension is optional (nil = any); an event
/// matches when it matches every dimension that is set.
///
/// - `partitions` / `devices`: exact names; an event without a partition (device) never matches a
///   filter that names partitions (devices).
/// - `kinds`: patterns; `irq.raised` matches that kind exactly, `irq.*` matches every kind that starts
///   with `irq.`, and `*` matches everything.
public struct EventFilter: Sendable, Hashable {
    public var partitions: [String]?
    public var devices: [String]?
    public var kinds: [String]?

    /// Matches every event.
    public static let all = EventFilter()

    public init(partitions: [String]? = nil, devices: [String]? = nil, kinds: [String]? = nil) {
        self.partitions = partitions
        self.devices = devices
        self.kinds = kinds
    }

    public func matches(_ event: HubEvent) -> Bool {
        if let partitions {
            guard let partition = event.partition, partitions.contains(partition) else { return false }
        }
        if let devices {
            guard let device = event.device, devices.contains(device) else { return false }
        }
        if let kinds {
            guard kinds.contains(where: { EventFilter.kind(event.kind, matches: $0) }) else { return false }
        }
        return true
    }

    /// Whether `kind` matches one pattern.
    public static func kind(_ kind: String, matches pattern: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix(".*") { return kind.hasPrefix(pattern.dropLast()) }
        return kind == pattern
    }

    /// The filter as JSON (only the dimensions that are set).
    public var json: JSON {
        var object: JSONObject = [:]
        if let partitions { object["partitions"] = .array(partitions.map(JSON.string)) }
        if let devices { object["devices"] = .array(devices.map(JSON.string)) }
        if let kinds { object["kinds"] = .array(kinds.map(JSON.string)) }
        return .object(object)
    }

    /// Why a filter in a request was refused; the server reports it as `-32602` naming `field`.
    public struct Invalid: Error, Sendable, Hashable {
        /// Path of the offending member, e.g. `filter.kinds`.
        public var field: String
        public var expected: String
        public var detail: String
    }

    /// Reads `{"partitions":[…],"devices":[…],"kinds":[…]}`. Each member may also be a single string,
    /// and the singular names `partition`, `device`, `kind` are accepted as aliases. `null` means any.
    /// A kind pattern must be non-empty and may use `*` only as `*` or as a final `.*`.
    public init(json: JSON?, field: String = "filter") throws(Invalid) {
        self.init()
        guard let json, json != .null else { return }
        guard case .object(let object) = json else {
            throw Invalid(field: field, expected: "object", detail: "must be an object, got \(json.typeName)")
        }
        for key in object.keys
        where !["partitions", "partition", "devices", "device", "kinds", "kind"].contains(key) {
            throw Invalid(
                field: "\(field).\(key)", expected: "partitions, devices or kinds", detail: "is not a filter member")
        }
        partitions = try Self.strings(object, "partitions", "partition", field)
        devices = try Self.strings(object, "devices", "device", field)
        kinds = try Self.strings(object, "kinds", "kind", field)
        for pattern in kinds ?? [] {
            let body = pattern.hasSuffix(".*") ? String(pattern.dropLast(2)) : pattern
            guard pattern == "*" || (!body.isEmpty && !body.contains("*")) else {
                throw Invalid(
                    field: "\(field).kinds", expected: "kind pattern",
                    detail: "'\(pattern)' is not a kind pattern (use a kind, 'prefix.*' or '*')")
            }
        }
    }

    private static func strings(_ object: JSONObject, _ plural: String, _ singular: String, _ field: String)
        throws(Invalid) -> [String]?
    {
        if object[plural] != nil && object[singular] != nil {
            throw Invalid(
                field: "\(field).\(singular)", expected: "one of \(plural) or \(singular)",
                detail: "cannot be given together with \(plural)")
        }
        let key = object[plural] != nil ? plural : singular
        guard let value = object[key], value != .null else { return nil }
        if let single = value.stringValue { return [single] }
        guard let array = value.arrayValue else {
            throw Invalid(
                field: "\(field).\(key)", expected: "array of strings", detail: "must be an array of strings")
        }
        var out: [String] = []
        for element in array {
            guard let string = element.stringValue else {
                throw Invalid(
                    field: "\(field).\(key)", expected: "array of strings", detail: "must be an array of strings")
            }
            out.append(string)
        }
        return out
    }
}
