import JSON

/// Typed access to a request's named parameters; every failure is a `-32602` error naming the
/// parameter and the expected type, so handlers stay one line per parameter:
///
/// ```swift
/// let params = try ControlParams(request.params, allowed: ["partition", "line", "as"])
/// let partition = try params.requireString("partition")
/// let line = try params.requireInt("line", in: 0...63)
/// ```
///
/// Numbers from a request are never converted before they are range-checked: ``optionalInteger(_:in:)``
/// and ``optionalNumber(_:in:)`` refuse fractions, values past the range and past the target type with
/// a `-32602` naming the parameter and the range, so handlers never call `Int(x)` or `UInt64(x)` on
/// request data themselves.
package struct ControlParams: Sendable {
    /// The parameters object (empty when the request had none).
    package let object: JSONObject
    /// Where this object sits in the request (e.g. `egress` for a nested object), prefixed to parameter
    /// names in errors; nil at the top level.
    package let path: String?

    /// Wraps `params`; refuses positional (array) parameters and, when `allowed` is given, unknown names.
    /// `path` names a nested object in errors (`egress.rateBitsPerSecond`).
    package init(_ params: JSON?, allowed: [String]? = nil, path: String? = nil) throws(ControlError) {
        self.path = path
        switch params {
        case nil, .null?: object = [:]
        case .object(let value)?: object = value
        default:
            throw ControlError(
                code: .invalidParams, reason: "invalid_params",
                message:
                    "Invalid params: \(path.map { "'\($0)' must be an object" } ?? "parameters must be given by name (an object)")",
                details: path.map { ["param": .string($0), "expected": "object"] } ?? ["expected": "object"])
        }
        if let allowed {
            for member in object.members where !allowed.contains(member.key) {
                let key = member.key
                let name = path.map { "\($0).\(key)" } ?? key
                throw ControlError(
                    code: .invalidParams, reason: "invalid_params",
                    message: "Invalid params: unknown parameter '\(name)'",
                    details: ["param": .string(name), "allowed": .array(allowed.map { .string($0) })])
            }
        }
    }

    /// The raw value, nil when absent. A JSON `null` counts as absent.
    package subscript(name: String) -> JSON? {
        guard let value = object[name] else { return nil }
        if case .null = value { return nil }
        return value
    }

    package func contains(_ name: String) -> Bool { self[name] != nil }

    /// The parameter's name as errors report it (with ``path``).
    package func qualified(_ name: String) -> String { path.map { "\($0).\(name)" } ?? name }

    private func missing(_ name: String, _ expected: String) -> ControlError {
        .invalidParams(param: qualified(name), expected: expected, detail: "is required (\(expected))")
    }

    private func wrongType(_ name: String, _ expected: String, _ got: JSON) -> ControlError {
        .invalidParams(param: qualified(name), expected: expected, detail: "must be \(expected), got \(got.typeName)")
    }

    // MARK: Strings

    package func optionalString(_ name: String) throws(ControlError) -> String? {
        guard let value = self[name] else { return nil }
        guard let string = value.stringValue else { throw wrongType(name, "string", value) }
        return string
    }

    package func requireString(_ name: String) throws(ControlError) -> String {
        guard let value = try optionalString(name) else { throw missing(name, "string") }
        return value
    }

    // MARK: Integers

    /// An integer of type `T` within `range`, nil when absent. The number is checked before it is converted:
    /// a fraction, a value past `range` or past `T` (`1e20`, `-1` for an unsigned field) is a `-32602` naming
    /// the parameter and the range. An integral double (`3.0`) is accepted as its integer.
    package func optionalInteger<T: FixedWidthInteger>(_ name: String, in range: ClosedRange<T>) throws(ControlError)
        -> T?
    {
        guard let value = self[name] else { return nil }
        let converted: T?
        switch value {
        case .int(let integer): converted = T(exactly: integer)
        // `T(exactly:)` is nil for NaN, infinities, fractions and values past T: it never traps.
        case .double(let number): converted = T(exactly: number)
        default: throw wrongType(name, "integer", value)
        }
        guard let converted, range.contains(converted) else {
            // Spelled out only for the error: formatting the range was most of a good call's cost.
            let expected = "integer in \(range.lowerBound)...\(range.upperBound)"
            throw .invalidParams(
                param: qualified(name), expected: expected,
                detail: "must be an \(expected), got \(value.serialized())")
        }
        return converted
    }

    /// ``optionalInteger(_:in:)`` for a parameter that must be present.
    package func requireInteger<T: FixedWidthInteger>(_ name: String, in range: ClosedRange<T>) throws(ControlError)
        -> T
    {
        guard let value = try optionalInteger(name, in: range) else {
            throw missing(name, "integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A finite number within `range` (fractions allowed), nil when absent; anything else is a `-32602`
    /// naming the parameter and the range.
    package func optionalNumber(_ name: String, in range: ClosedRange<Double>) throws(ControlError) -> Double? {
        guard let value = self[name] else { return nil }
        let expected =
            "number in \(JSON.double(range.lowerBound).serialized())...\(JSON.double(range.upperBound).serialized())"
        guard let number = value.doubleValue else { throw wrongType(name, "number", value) }
        guard number.isFinite, range.contains(number) else {
            throw .invalidParams(
                param: qualified(name), expected: expected,
                detail: "must be a \(expected), got \(value.serialized())")
        }
        return number
    }

    package func optionalInt(_ name: String, in range: ClosedRange<Int64>? = nil) throws(ControlError) -> Int64? {
        guard let range else {
            guard let value = self[name] else { return nil }
            guard let number = value.int64Value else { throw wrongType(name, "integer", value) }
            return number
        }
        return try optionalInteger(name, in: range)
    }

    package func requireInt(_ name: String, in range: ClosedRange<Int64>? = nil) throws(ControlError) -> Int64 {
        guard let value = try optionalInt(name, in: range) else { throw missing(name, "integer") }
        return value
    }

    /// A non-negative integer (sequence numbers, counts).
    package func optionalUInt64(_ name: String) throws(ControlError) -> UInt64? {
        try optionalInteger(name, in: 0...UInt64(Int64.max))
    }

    // MARK: Others

    package func optionalBool(_ name: String) throws(ControlError) -> Bool? {
        guard let value = self[name] else { return nil }
        guard let flag = value.boolValue else { throw wrongType(name, "boolean", value) }
        return flag
    }

    package func requireBool(_ name: String) throws(ControlError) -> Bool {
        guard let value = try optionalBool(name) else { throw missing(name, "boolean") }
        return value
    }

    package func optionalObject(_ name: String) throws(ControlError) -> JSONObject? {
        guard let value = self[name] else { return nil }
        guard let object = value.objectValue else { throw wrongType(name, "object", value) }
        return object
    }

    package func requireObject(_ name: String) throws(ControlError) -> JSONObject {
        guard let value = try optionalObject(name) else { throw missing(name, "object") }
        return value
    }

    package func optionalArray(_ name: String) throws(ControlError) -> [JSON]? {
        guard let value = self[name] else { return nil }
        guard let array = value.arrayValue else { throw wrongType(name, "array", value) }
        return array
    }

    /// An array of strings, or a single string taken as a one-element array.
    package func optionalStrings(_ name: String) throws(ControlError) -> [String]? {
        guard let value = self[name] else { return nil }
        if let single = value.stringValue { return [single] }
        guard let array = value.arrayValue else { throw wrongType(name, "array of strings", value) }
        var strings: [String] = []
        for element in array {
            guard let string = element.stringValue else { throw wrongType(name, "array of strings", element) }
            strings.append(string)
        }
        return strings
    }

    /// A string that must be one of `choices`.
    package func optionalChoice(_ name: String, of choices: [String]) throws(ControlError) -> String? {
        guard let value = try optionalString(name) else { return nil }
        guard choices.contains(value) else {
            let expected = "one of " + choices.joined(separator: ", ")
            throw .invalidParams(
                param: qualified(name), expected: expected, detail: "must be \(expected), got \"\(value)\"")
        }
        return value
    }

    /// Base64 bytes (RFC 4648 §4, padding required), at most `maxLength` decoded bytes. More is `-32004` naming
    /// `limit` (a `hub.limits` name, with its value) when the bound is one, else `-32602` naming the parameter.
    /// The length is checked before anything is decoded.
    package func optionalBase64(_ name: String, maxLength: Int, limit: String? = nil) throws(ControlError) -> [UInt8]? {
        guard let text = try optionalString(name) else { return nil }
        func tooLong(_ got: Int) -> ControlError {
            guard let limit else {
                return .invalidParams(
                    param: qualified(name), expected: "at most \(maxLength) bytes",
                    detail: "is \(got) bytes, over \(maxLength)")
            }
            return .limitExceeded(limit, value: Int64(maxLength))
        }
        guard text.utf8.count / 4 * 3 <= maxLength + 2 else { throw tooLong(text.utf8.count / 4 * 3) }
        guard let bytes = Base64.decode(text) else {
            throw .invalidParams(param: qualified(name), expected: "base64 string", detail: "is not valid base64")
        }
        guard bytes.count <= maxLength else { throw tooLong(bytes.count) }
        return bytes
    }
}
