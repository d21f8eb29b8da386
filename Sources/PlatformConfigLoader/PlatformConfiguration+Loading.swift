import PlatformConfig
import Yams

extension PlatformConfiguration {
    /// Largest configuration text accepted; real files are a few kilobytes.
    package static let maxYAMLBytes = 4 << 20
    /// A report longer than this is cut (with a final "... and N more issues" line): nobody reads further,
    /// and alias-expanded documents could otherwise produce millions.
    package static let maxReportedIssues = 1000
    /// Nodes YAML aliases may add to a document (`YAMLAliasScan`); a fixed bound of the loader, not configurable.
    package static let maxYAMLAliasNodes = YAMLAliasScan.maxAliasNodes

    /// Decodes and validates a YAML configuration, reporting every problem found, not only the first.
    ///
    /// - Parameter baseDirectory: where relative `secretFile` paths are resolved; `nil` for the working directory.
    package static func load(yaml: String, baseDirectory: String? = nil) throws(ConfigurationError)
        -> PlatformConfiguration
    {
        guard yaml.utf8.count <= maxYAMLBytes else {
            throw ConfigurationError(issues: [
                ConfigIssue(path: "", reason: "the document is larger than \(maxYAMLBytes) bytes")
            ])
        }
        // Aliases are bounded before composing: Yams itself walks alias-expanded mapping keys (YAMLAliasScan).
        let scan = YAMLAliasScan.scan(yaml)
        if let issue = scan.issue { throw ConfigurationError(issues: [issue]) }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ConfigurationError(issues: [ConfigIssue(path: "", reason: "the document is empty")])
            }
            root = node
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(issues: [syntaxIssue(error)])
        }
        // The reader's own node budget is a backstop; the scan already bounded the tree it walks.
        let reader = YAMLReader(maxNodes: max(YAMLReader.maxNodes, 2 * scan.expandedNodes))
        var config = ConfigDecoder(reader: reader).decode(root: root)
        config.resolveSecretFiles(relativeTo: baseDirectory, reader: reader)
        // With the budget spent, the tree was only partly decoded; leave one slot for saying so.
        var issues = merge(decoding: reader.issues, validation: config.validate(), marks: reader.marks)
        guard issues.isEmpty else {
            let room = maxReportedIssues - (reader.budgetIssue == nil ? 0 : 1)
            if issues.count > room {
                let more = issues.count - room
                issues.removeLast(more)
                issues.append(ConfigIssue(path: "", reason: "... and \(more) more issues"))
            }
            if let budget = reader.budgetIssue { issues.insert(budget, at: 0) }
            throw ConfigurationError(issues: issues)
        }
        return config
    }

    /// Reads `path` (`-` for standard input) and loads it; relative `secretFile`s resolve against its directory.
    package static func load(path: String) throws(ConfigurationError) -> PlatformConfiguration {
        let bytes: [UInt8]
        do {
            bytes = try SecretFile.readAll(path: path, limit: maxYAMLBytes)
        } catch {
            throw ConfigurationError(issues: [ConfigIssue(path: "", reason: error.description)])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(issues: [ConfigIssue(path: "", reason: "'\(path)' is not valid UTF-8")])
        }
        var base: String? = nil
        if path != "-", let slash = path.lastIndex(of: "/") {
            base = slash == path.startIndex ? "/" : String(path[..<slash])
        }
        return try load(yaml: text, baseDirectory: base)
    }

    /// Decoding issues come first in authority: a validation issue at or below a path that already failed to
    /// decode is a consequence of the placeholder used there, so it is dropped. The rest get line numbers
    /// from the nearest recorded node and are sorted into file order.
    private static func merge(decoding: [ConfigIssue], validation: [ConfigIssue], marks: [String: Mark])
        -> [ConfigIssue]
    {
        let failed = Set(decoding.map(\.path))
        func isConsequence(_ path: String) -> Bool {
            var current = Substring(path)
            while true {
                if failed.contains(String(current)) { return true }
                guard let cut = current.lastIndex(where: { $0 == "." || $0 == "[" }) else {
                    return failed.contains("")
                }
                current = current[..<cut]
            }
        }
        func mark(for path: String) -> Mark? {
            var current = Substring(path)
            while true {
                if let mark = marks[String(current)] { return mark }
                guard let cut = current.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
                current = current[..<cut]
            }
        }
        var all = decoding
        for issue in validation where !isConsequence(issue.path) {
            var located = issue
            let position = mark(for: issue.path)
            located.line = position?.line
            located.column = position?.column
            all.append(located)
        }
        return all.enumerated().sorted { lhs, rhs in
            let left = (lhs.element.line ?? Int.max, lhs.element.column ?? 0, lhs.offset)
            let right = (rhs.element.line ?? Int.max, rhs.element.column ?? 0, rhs.offset)
            return left < right
        }.map(\.element)
    }

    private static func syntaxIssue(_ error: any Error) -> ConfigIssue {
        guard let yamlError = error as? YamlError else {
            return ConfigIssue(path: "", reason: "YAML error: \(error)")
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var reason = "YAML syntax error: \(problem)"
            if let context { reason += " (\(context.text))" }
            return ConfigIssue(path: "", reason: reason, line: mark.line, column: mark.column)
        case .reader(let problem, _, _, _):
            return ConfigIssue(path: "", reason: "unreadable YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ConfigIssue(
                path: "", reason: "duplicate key \(keys) in one mapping", line: context.mark.line,
                column: context.mark.column)
        default:
            return ConfigIssue(path: "", reason: "YAML error: \(yamlError)")
        }
    }
}
