import JSON

/// Typed access to a request's named parameters; every failure is a `-32602` error naming the
/// parameter and the expected type, so handlers stay one line per parameter:
///
/// ```swift
/// let params = try ControlParams(request.params, allowed: ["partition", "line", "as"])
/// let partition = try params.requireString("partition")
/// let line = try params.requireInt("line", in: 0...63)
/// ```
public struct ControlParams: Sendable {
    /// The parameters object (empty when the request had none).
    public let object: JSONObject

    /// Wraps `params`; refuses positional (array) parameters and, when `allowed` is given, unknown names.
    public init(_ params: JSON?, allowed: [String]? = nil) throws(ControlError) {
        switch params {
        case nil, .null?: object = [:]
        case .object(let value)?: object = value
        default:
            throw ControlError(
                code: .invalidParams, reason: "invalid_params",
                message: "Invalid params: parameters must be given by name (an object)",
                details: ["expected": "object"])
        }
        if let allowed {
            for key in object.keys where !allowed.contains(key) {
                throw ControlError(
                    code: .invalidParams, reason: "invalid_params",
                    message: "Invalid params: unknown parameter '\(key)'",
                    details: ["param": .string(key), "allowed": .array(allowed.map { .string($0) })])
            }
        }
    }

    /// The raw value, nil when absent. A JSON `null` counts as absent.
    public subscript(name: String) -> JSON? {
        guard let value = object[name], value != .null else { return nil }
        return value
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    private func missing(_ name: String, _ expected: String) -> ControlError {
        .invalidParams(param: name, expected: expected, detail: "is required (\(expected))")
    }

    private func wrongType(_ name: String, _ expected: String, _ got: JSON) -> ControlError {
        .invalidParams(param: name, expected: expected, detail: "must be \(expected), got \(got.typeName)")
    }

    // MARK: Strings

    public func optionalString(_ name: String) throws(ControlError) -> String? {
        guard let value = self[name] else { return nil }
        guard let string = value.stringValue else { throw wrongType(name, "string", value) }
        return string
    }

    public func requireString(_ name: String) throws(ControlError) -> String {
        guard let value = try optionalString(name) else { throw missing(name, "string") }
        return value
    }

    // MARK: Integers

    public func optionalInt(_ name: String, in range: ClosedRange<Int64>? = nil) throws(ControlError) -> Int64? {
        guard let value = self[name] else { return nil }
        guard let number = value.int64Value else { throw wrongType(name, "integer", value) }
        if let range, !range.contains(number) {
            let expected = "integer in \(range.lowerBound)...\(range.upperBound)"
            throw .invalidParams(param: name, expected: expected, detail: "must be an \(expected), got \(number)")
        }
        return number
    }

    public func requireInt(_ name: String, in range: ClosedRange<Int64>? = nil) throws(ControlError) -> Int64 {
        guard let value = try optionalInt(name, in: range) else { throw missing(name, "integer") }
        return value
    }

    /// A non-negative integer (sequence numbers, counts).
    public func optionalUInt64(_ name: String) throws(ControlError) -> UInt64? {
        guard let value = try optionalInt(name, in: 0...Int64.max) else { return nil }
        return UInt64(value)
    }

    // MARK: Others

    public func optionalBool(_ name: String) throws(ControlError) -> Bool? {
        guard let value = self[name] else { return nil }
        guard let flag = value.boolValue else { throw wrongType(name, "boolean", value) }
        return flag
    }

    public func requireBool(_ name: String) throws(ControlError) -> Bool {
        guard let value = try optionalBool(name) else { throw missing(name, "boolean") }
        return value
    }

    public func optionalObject(_ name: String) throws(ControlError) -> JSONObject? {
        guard let value = self[name] else { return nil }
        guard let object = value.objectValue else { throw wrongType(name, "object", value) }
        return object
    }

    public func requireObject(_ name: String) throws(ControlError) -> JSONObject {
        guard let value = try optionalObject(name) else { throw missing(name, "object") }
        return value
    }

    public func optionalArray(_ name: String) throws(ControlError) -> [JSON]? {
        guard let value = self[name] else { return nil }
        guard let array = value.arrayValue else { throw wrongType(name, "array", value) }
        return array
    }

    /// An array of strings, or a single string taken as a one-element array.
    public func optionalStrings(_ name: String) throws(ControlError) -> [String]? {
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
    public func optionalChoice(_ name: String, of choices: [String]) throws(ControlError) -> String? {
        guard let value = try optionalString(name) else { return nil }
        guard choices.contains(value) else {
            let expected = "one of " + choices.joined(separator: ", ")
            throw .invalidParams(param: name, expected: expected, detail: "must be \(expected), got \"\(value)\"")
        }
        return value
    }

    /// Base64 bytes (RFC 4648 §4, padding required), at most `maxLength` decoded bytes.
    public func optionalBase64(_ name: String, maxLength: Int) throws(ControlError) -> [UInt8]? {
        guard let text = try optionalString(name) else { return nil }
        guard text.utf8.count / 4 * 3 <= maxLength + 2 else {
            throw .limitExceeded(name, value: Int64(text.utf8.count / 4 * 3))
        }
        guard let bytes = Base64.decode(text) else {
            throw .invalidParams(param: name, expected: "base64 string", detail: "is not valid base64")
        }
        guard bytes.count <= maxLength else { throw .limitExceeded(name, value: Int64(bytes.count)) }
        return bytes
    }
}
