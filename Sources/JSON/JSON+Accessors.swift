// Typed views of a JSON value: each returns nil when the value has another type, so callers can
// write `params["line"]?.intValue` and report a precise error when it is nil.

extension JSON {
    /// The member `key` of an object; nil for a missing member or a non-object.
    package subscript(key: String) -> JSON? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }

    /// The element at `index` of an array; nil when out of range or not an array.
    package subscript(index: Int) -> JSON? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    package var isNull: Bool { self == .null }

    package var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    package var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer, also from a double with an exact integral value in range (some writers emit `3.0`).
    package var int64Value: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value):
            guard value.rounded() == value, let exact = Int64(exactly: value) else { return nil }
            return exact
        default: return nil
        }
    }

    /// ``int64Value`` as `Int`.
    package var intValue: Int? { int64Value.flatMap { Int(exactly: $0) } }

    /// A non-negative integer as `UInt64` (sequence numbers, counters).
    package var uint64Value: UInt64? { int64Value.flatMap { UInt64(exactly: $0) } }

    /// Any number as a double.
    package var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    package var arrayValue: [JSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    package var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The JSON type name used in error messages: "null", "boolean", "integer", "number", "string", "array", "object".
    package var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSON {
    /// A counter or sequence number as JSON; values past `Int64.max` are clamped (they never occur in practice).
    package static func uint(_ value: UInt64) -> JSON { .int(Int64(clamping: value)) }

    /// An integer of any width as JSON.
    package static func integer(_ value: some BinaryInteger) -> JSON { .int(Int64(clamping: value)) }
}
