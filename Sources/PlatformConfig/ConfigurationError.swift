/// Everything wrong with a configuration, reported at once.
package struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One entry per problem, in file order as far as possible.
    package var issues: [ConfigIssue]

    package init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    /// A header line, then one line per issue (`  path: reason (line L, column C)`).
    package var description: String {
        let count = issues.count
        var text = "invalid configuration: \(count) \(count == 1 ? "error" : "errors")"
        for issue in issues {
            text += "\n  \(issue.description)"
            if let line = issue.line {
                text += issue.column.map { " (line \(line), column \($0))" } ?? " (line \(line))"
            }
        }
        return text
    }
}

/// One problem in a configuration: where, and why.
package struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    /// Path to the field, like `partitions[1].priority`; empty for the whole document.
    package var path: String
    /// What is wrong, like `17 is outside 0...15`.
    package var reason: String
    /// 1-based line in the YAML text, when known.
    package var line: Int?
    /// 1-based column in the YAML text, when known.
    package var column: Int?

    package init(path: String, reason: String, line: Int? = nil, column: Int? = nil) {
        self.path = path
        self.reason = reason
        self.line = line
        self.column = column
    }

    /// `path: reason`, or just the reason when the path is empty.
    package var description: String {
        path.isEmpty ? reason : "\(path): \(reason)"
    }
}
