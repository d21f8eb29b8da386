import PlatformConfig
import YAML

extension PlatformConfiguration {
    /// Largest configuration text accepted; real files are a few kilobytes.
    package static let maxYAMLBytes = 4 << 20
    /// A report longer than this is cut (with a final "... and N more issues" line): nobody reads further,
    /// and alias-expanded documents could otherwise produce millions.
    package static let maxReportedIssues = 1000
    /// Nodes YAML aliases may add to a document (`ComposeLimits`); a fixed bound of the loader, not configurable.
    package static let maxYAMLAliasNodes = 100_000
    /// Mappings and lists nested in one another (`ComposeLimits`); real configurations nest six deep. A fixed
    /// bound of the loader, not configurable: the readers of the tree recurse.
    package static let maxYAMLDepth = 64
    static let yamlLimits = ComposeLimits(maxAliasNodes: maxYAMLAliasNodes, maxDepth: maxYAMLDepth)

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
        // Composing bounds aliases (an alias chain stands for an exponential tree) and nesting.
        let document: Composed?
        do {
            document = try Composer.compose(yaml, limits: yamlLimits)
        } catch {
            let issue = ConfigIssue(path: "", reason: error.reason, line: error.mark?.line, column: error.mark?.column)
            throw ConfigurationError(issues: [issue])
        }
        guard let composed = document else {
            throw ConfigurationError(issues: [ConfigIssue(path: "", reason: "the document is empty")])
        }
        // The reader's own node budget is a backstop; composing already bounded the tree it walks.
        let reader = YAMLReader(maxNodes: max(YAMLReader.maxNodes, 2 * composed.expandedNodes))
        var config = ConfigDecoder(reader: reader).decode(root: composed.root)
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
}
