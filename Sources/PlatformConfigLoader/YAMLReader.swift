import PlatformConfig
import YAML

/// Typed, path-tracking reads from a composed YAML node tree that record every problem instead of stopping at the first.
///
/// Reads return `nil` after recording an issue, so decoding carries on and the caller sees all issues.
/// The reader also remembers where each path sits in the text, so later (semantic) issues get line numbers.
final class YAMLReader {
    private(set) var issues: [ConfigIssue] = []
    /// Source position of every node read, by path; lets validation issues point at a line.
    private(set) var marks: [String: Mark] = [:]

    func report(_ path: String, _ reason: String, at node: Node?) {
        let mark = node?.mark ?? marks[path]
        issues.append(ConfigIssue(path: path, reason: reason, line: mark?.line, column: mark?.column))
    }

    /// Checks made after decoding (reading secret files), by path: where the key's value sits, and how many
    /// issues decoding had reported when it reached the key.
    private var deferredChecks: [String: (mark: Mark?, slot: Int)] = [:]

    /// Records that the value at `path` is checked after decoding (`reportDeferred`).
    func deferCheck(_ path: String, at node: Node) {
        deferredChecks[path] = (node.mark, issues.count)
    }

    /// Reports the issue of a deferred check where decoding would have reported it, so the report reads as if
    /// the check had run while decoding. Deferred checks report in decoding order.
    func reportDeferred(_ path: String, _ reason: String) {
        guard let check = deferredChecks.removeValue(forKey: path) else { return report(path, reason, at: nil) }
        let issue = ConfigIssue(path: path, reason: reason, line: check.mark?.line, column: check.mark?.column)
        issues.insert(issue, at: check.slot)
        for (key, other) in deferredChecks where other.slot >= check.slot {
            deferredChecks[key]?.slot += 1
        }
    }

    /// YAML aliases can make a small text expand into an enormous tree ("billion laughs"); decoding stops
    /// after this many nodes. Real configurations have a few hundred. Composing bounds alias expansion
    /// (`ComposeLimits`); this budget, raised to the composed size of a large document, is a backstop.
    static let maxNodes = 100_000
    let maxNodes: Int
    private var nodesRead = 0

    init(maxNodes: Int = YAMLReader.maxNodes) { self.maxNodes = maxNodes }
    /// Set when the budget ran out; reported first, since everything after it is incomplete.
    private(set) var budgetIssue: ConfigIssue?

    func note(_ path: String, _ node: Node) {
        nodesRead += 1
        marks[path] = node.mark
    }

    /// False (after reporting once) when the node budget is spent.
    private func withinBudget(_ path: String, _ node: Node) -> Bool {
        if nodesRead < maxNodes { return true }
        if budgetIssue == nil {
            budgetIssue = ConfigIssue(
                path: "", reason: "the document has more than \(maxNodes) nodes",
                line: node.mark.line, column: node.mark.column)
        }
        return false
    }

    static func child(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    static func element(_ path: String, _ index: Int) -> String {
        "\(path)[\(index)]"
    }

    /// The mapping's entries by key; reports a non-mapping, non-string keys and keys outside `allowed`.
    /// `allowed` nil takes any key (a mapping keyed by names, such as `power.partitionDrawMw`).
    func mapping(_ node: Node, at path: String, allowed: [String]?) -> Fields? {
        guard withinBudget(path, node) else { return nil }
        note(path, node)
        guard case .mapping(let mapping) = node else {
            report(path, "expected a mapping, found \(Self.kind(of: node))", at: node)
            return nil
        }
        var values: [String: Node] = [:]
        var keys: [String] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(path, "mapping keys must be strings, found \(Self.kind(of: keyNode))", at: keyNode)
                continue
            }
            let keyPath = Self.child(path, key.string)
            guard allowed?.contains(key.string) ?? true else {
                report(keyPath, "unknown key", at: keyNode)
                continue
            }
            note(keyPath, value)
            if values[key.string] == nil { keys.append(key.string) }
            values[key.string] = value
        }
        return Fields(path: path, node: node, values: values, reader: self, keys: keys)
    }

    /// The elements of a sequence, each with its path.
    func sequence(_ node: Node, at path: String) -> [(path: String, node: Node)]? {
        guard withinBudget(path, node) else { return nil }
        note(path, node)
        guard case .sequence(let sequence) = node else {
            if Self.isNull(node) { return [] }
            report(path, "expected a list, found \(Self.kind(of: node))", at: node)
            return nil
        }
        return sequence.enumerated().map { index, element in
            let elementPath = Self.element(path, index)
            note(elementPath, element)
            return (elementPath, element)
        }
    }

    func string(_ node: Node, at path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(path, "expected a string, found \(Self.kind(of: node))", at: node)
            return nil
        }
        return scalar.string
    }

    func int(_ node: Node, at path: String) -> Int? {
        guard case .scalar(let scalar) = node, scalar.style == .plain else {
            report(path, "expected an integer, found \(Self.kind(of: node))", at: node)
            return nil
        }
        guard let value = Self.parseInteger(scalar.string) else {
            report(path, "expected an integer, found \(Self.kind(of: node))", at: node)
            return nil
        }
        return value
    }

    /// A decimal number (`300`, `12.5`, `1e3`); YAML's `.nan` and `.inf` and anything non-finite are refused
    /// here, naming the value, so no NaN reaches a model.
    func number(_ node: Node, at path: String) -> Double? {
        guard case .scalar(let scalar) = node, scalar.style == .plain else {
            report(path, "expected a number, found \(Self.kind(of: node))", at: node)
            return nil
        }
        let text = scalar.string
        let lowered = text.lowercased()
        if lowered.hasSuffix(".nan") || lowered == "nan" {
            report(path, "'\(text)' is not a number (NaN)", at: node)
            return nil
        }
        if lowered.hasSuffix(".inf") || lowered.hasSuffix("inf") || lowered.hasSuffix("infinity") {
            report(path, "'\(text)' is infinite", at: node)
            return nil
        }
        guard text.utf8.count <= 64,
            text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }),
            let value = Double(text)
        else {
            report(path, "expected a number, found '\(text)'", at: node)
            return nil
        }
        guard value.isFinite else {
            report(path, "'\(text)' is too large (not a finite number)", at: node)
            return nil
        }
        return value
    }

    func bool(_ node: Node, at path: String) -> Bool? {
        if case .scalar(let scalar) = node, scalar.style == .plain {
            switch scalar.string {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        report(path, "expected true or false, found \(Self.kind(of: node))", at: node)
        return nil
    }

    /// A byte count: a plain integer or a string like `512KiB`, `64MiB`, `1GiB`.
    func size(_ node: Node, at path: String) -> UInt64? {
        if case .scalar(let scalar) = node, let value = ByteSize.parse(scalar.string) {
            return value
        }
        report(
            path, "expected a size such as 4096, 512KiB, 64MiB or 1GiB, found \(Self.kind(of: node))", at: node)
        return nil
    }

    /// A byte count that must also fit in `Int`.
    func intSize(_ node: Node, at path: String) -> Int? {
        guard let value = size(node, at: path) else { return nil }
        guard value <= UInt64(Int.max) else {
            report(path, "\(value) is too large", at: node)
            return nil
        }
        return Int(value)
    }

    func choice<T: RawRepresentable & CaseIterable>(_ node: Node, at path: String, as: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, at: path) else { return nil }
        if let value = T(rawValue: text) { return value }
        let options = T.allCases.map(\.rawValue).joined(separator: ", ")
        report(path, "'\(text)' is not one of \(options)", at: node)
        return nil
    }

    func endpoint(_ node: Node, at path: String) -> Endpoint? {
        guard let text = string(node, at: path) else { return nil }
        do {
            return try Endpoint(parsing: text)
        } catch {
            report(path, error.description, at: node)
            return nil
        }
    }

    func stringList(_ node: Node, at path: String) -> [String]? {
        guard let elements = sequence(node, at: path) else { return nil }
        return elements.map { string($0.node, at: $0.path) ?? "" }
    }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// Decimal integers only: YAML 1.1 octal/hex/sexagesimal forms are more surprising than useful here.
    static func parseInteger(_ text: String) -> Int? {
        let digits = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.count <= 19, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        return Int(text)
    }

    static func kind(of node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar):
            if isNull(node) { return "null" }
            let text = scalar.string.count > 40 ? String(scalar.string.prefix(40)) + "…" : scalar.string
            return scalar.style == .plain ? "'\(text)'" : "the string \"\(text)\""
        }
    }

    /// The checked keys of one mapping.
    struct Fields {
        let path: String
        let node: Node
        let values: [String: Node]
        let reader: YAMLReader
        /// The keys in document order.
        var keys: [String] = []

        func path(_ key: String) -> String { YAMLReader.child(path, key) }

        /// The value of `key`, treating an explicit null as absent.
        func optional(_ key: String) -> Node? {
            guard let value = values[key], !YAMLReader.isNull(value) else { return nil }
            return value
        }

        /// The value of `key`; reports it missing.
        func required(_ key: String) -> Node? {
            if let value = optional(key) { return value }
            reader.report(path(key), "required key is missing", at: values[key] ?? node)
            return nil
        }

        func read<T>(_ key: String, _ decode: (Node, String) -> T?) -> T? {
            optional(key).flatMap { decode($0, path(key)) }
        }

        func readRequired<T>(_ key: String, _ decode: (Node, String) -> T?) -> T? {
            required(key).flatMap { decode($0, path(key)) }
        }
    }
}
