import JSON

/// Which events a subscriber or a waiter wants. Each dimension is optional (nil = any); an event
/// matches when it matches every dimension that is set.
///
/// - `partitions` / `devices`: exact names; an event without a partition (device) never matches a
///   filter that names partitions (devices).
/// - `kinds`: patterns; `irq.raised` matches that kind exactly, `irq.*` matches every kind that starts
///   with `irq.`, and `*` matches everything.
///
/// Matching costs the same however many entries the filter has (`Protocols/control.md` §5.3): names and
/// exact kinds are looked up in sets, and prefix patterns by each dotted prefix of the event's kind, so
/// an event costs a few hash lookups per dot of its kind. Filters from requests are also bounded in size
/// (``Bounds``).
package struct EventFilter: Sendable, Hashable {
    package var partitions: [String]? { didSet { rebuild() } }
    package var devices: [String]? { didSet { rebuild() } }
    package var kinds: [String]? { didSet { rebuild() } }

    /// The lookup form of the members above, rebuilt whenever one changes.
    private var partitionSet: Set<String>?
    private var deviceSet: Set<String>?
    private var matchesAnyKind = false
    private var exactKinds: Set<String> = []
    /// Prefix patterns without their `*` (`irq.` for `irq.*`).
    private var kindPrefixes: Set<String> = []
    /// Bit n set when a prefix pattern is n UTF-8 bytes long (n < 64; bit 63 stands for every longer one), so
    /// only the prefixes of a kind that could be patterns are looked up.
    private var prefixLengths: UInt64 = 0

    /// Matches every event.
    package static let all = EventFilter()

    package init(partitions: [String]? = nil, devices: [String]? = nil, kinds: [String]? = nil) {
        self.partitions = partitions
        self.devices = devices
        self.kinds = kinds
        rebuild()
    }

    private mutating func rebuild() {
        partitionSet = partitions.map(Set.init)
        deviceSet = devices.map(Set.init)
        matchesAnyKind = kinds?.contains("*") ?? true
        exactKinds = []
        kindPrefixes = []
        prefixLengths = 0
        for pattern in kinds ?? [] where pattern != "*" {
            if pattern.hasSuffix(".*") {
                let prefix = String(pattern.dropLast())
                kindPrefixes.insert(prefix)
                prefixLengths |= EventFilter.lengthBit(prefix.utf8.count)
            } else {
                exactKinds.insert(pattern)
            }
        }
    }

    // Equality and hashing see the filter as written; the lookup sets are derived from it.
    package static func == (lhs: EventFilter, rhs: EventFilter) -> Bool {
        lhs.partitions == rhs.partitions && lhs.devices == rhs.devices && lhs.kinds == rhs.kinds
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(partitions)
        hasher.combine(devices)
        hasher.combine(kinds)
    }

    package func matches(_ event: HubEvent) -> Bool {
        if let partitionSet {
            guard let partition = event.partition, partitionSet.contains(partition) else { return false }
        }
        if let deviceSet {
            guard let device = event.device, deviceSet.contains(device) else { return false }
        }
        return matchesAnyKind || matchesKind(event.kind)
    }

    private func matchesKind(_ kind: String) -> Bool {
        if !exactKinds.isEmpty && exactKinds.contains(kind) { return true }
        guard !kindPrefixes.isEmpty else { return false }
        // `irq.*` matches kinds starting with `irq.`: try each prefix of the kind that ends with a dot and is as
        // long as some pattern.
        let utf8 = kind.utf8
        var position = utf8.startIndex
        while let dot = utf8[position...].firstIndex(of: UInt8(ascii: ".")) {
            let next = utf8.index(after: dot)
            if prefixLengths & EventFilter.lengthBit(utf8.distance(from: utf8.startIndex, to: next)) != 0,
                kindPrefixes.contains(String(kind[..<next]))
            {
                return true
            }
            position = next
        }
        return false
    }

    private static func lengthBit(_ length: Int) -> UInt64 { 1 << UInt64(min(length, 63)) }

    /// Whether `kind` matches one pattern.
    package static func kind(_ kind: String, matches pattern: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix(".*") { return kind.hasPrefix(pattern.dropLast()) }
        return kind == pattern
    }

    /// The filter as JSON (only the dimensions that are set).
    package var json: JSON {
        var object: JSONObject = [:]
        if let partitions { object["partitions"] = .array(partitions.map(JSON.string)) }
        if let devices { object["devices"] = .array(devices.map(JSON.string)) }
        if let kinds { object["kinds"] = .array(kinds.map(JSON.string)) }
        return .object(object)
    }

    /// Why a filter in a request was refused; the server reports it as `-32602` naming `field`.
    package struct Invalid: Error, Sendable, Hashable {
        /// Path of the offending member, e.g. `filter.kinds`.
        package var field: String
        package var expected: String
        package var detail: String
        /// Set when a size bound was passed: which one (`maxEntries` or `maxEntryBytes`) and the offending size.
        package var limit: (name: String, value: Int)?

        package static func == (lhs: Invalid, rhs: Invalid) -> Bool {
            lhs.field == rhs.field && lhs.expected == rhs.expected && lhs.detail == rhs.detail
                && lhs.limit?.name == rhs.limit?.name && lhs.limit?.value == rhs.limit?.value
        }

        package func hash(into hasher: inout Hasher) {
            hasher.combine(field)
            hasher.combine(detail)
        }
    }

    /// How large a filter from a request may be.
    package struct Bounds: Sendable, Hashable {
        /// Entries in one member (`partitions`, `devices`, `kinds`).
        package var maxEntries: Int
        /// Bytes in one name or pattern.
        package var maxEntryBytes: Int
        /// Names on the wire are at most 32 bytes and kinds are short: these defaults leave room.
        package static let `default` = Bounds(maxEntries: 64, maxEntryBytes: 128)
        package init(maxEntries: Int, maxEntryBytes: Int) {
            self.maxEntries = maxEntries
            self.maxEntryBytes = maxEntryBytes
        }
    }

    /// Reads `{"partitions":[…],"devices":[…],"kinds":[…]}`. Each member may also be a single string,
    /// and the singular names `partition`, `device`, `kind` are accepted as aliases. `null` means any.
    /// A kind pattern must be non-empty and may use `*` only as `*` or as a final `.*`. A member with more
    /// than `bounds.maxEntries` entries, or an entry longer than `bounds.maxEntryBytes`, is refused
    /// (``Invalid/limit`` names the bound) before anything else is done with it.
    package init(json: JSON?, field: String = "filter", bounds: Bounds = .default) throws(Invalid) {
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
        partitions = try Self.strings(object, "partitions", "partition", field, bounds)
        devices = try Self.strings(object, "devices", "device", field, bounds)
        kinds = try Self.strings(object, "kinds", "kind", field, bounds)
        for pattern in kinds ?? [] {
            let body = pattern.hasSuffix(".*") ? String(pattern.dropLast(2)) : pattern
            guard pattern == "*" || (!body.isEmpty && !body.contains("*")) else {
                throw Invalid(
                    field: "\(field).kinds", expected: "kind pattern",
                    detail: "'\(pattern)' is not a kind pattern (use a kind, 'prefix.*' or '*')")
            }
        }
        // Property observers do not run inside an initializer.
        rebuild()
    }

    private static func strings(
        _ object: JSONObject, _ plural: String, _ singular: String, _ field: String, _ bounds: Bounds
    ) throws(Invalid) -> [String]? {
        if object[plural] != nil && object[singular] != nil {
            throw Invalid(
                field: "\(field).\(singular)", expected: "one of \(plural) or \(singular)",
                detail: "cannot be given together with \(plural)")
        }
        let key = object[plural] != nil ? plural : singular
        guard let value = object[key], value != .null else { return nil }
        if let single = value.stringValue {
            try checkEntry(single, "\(field).\(key)", bounds)
            return [single]
        }
        guard let array = value.arrayValue else {
            throw Invalid(
                field: "\(field).\(key)", expected: "array of strings", detail: "must be an array of strings")
        }
        guard array.count <= bounds.maxEntries else {
            throw Invalid(
                field: "\(field).\(key)", expected: "at most \(bounds.maxEntries) entries",
                detail: "has \(array.count) entries, more than the limit of \(bounds.maxEntries)",
                limit: ("maxEntries", array.count))
        }
        var out: [String] = []
        for element in array {
            guard let string = element.stringValue else {
                throw Invalid(
                    field: "\(field).\(key)", expected: "array of strings", detail: "must be an array of strings")
            }
            try checkEntry(string, "\(field).\(key)", bounds)
            out.append(string)
        }
        return out
    }

    private static func checkEntry(_ entry: String, _ field: String, _ bounds: Bounds) throws(Invalid) {
        let length = entry.utf8.count
        guard length <= bounds.maxEntryBytes else {
            throw Invalid(
                field: field, expected: "entries of at most \(bounds.maxEntryBytes) bytes",
                detail: "has an entry of \(length) bytes, longer than the limit of \(bounds.maxEntryBytes)",
                limit: ("maxEntryBytes", length))
        }
    }
}
