extension PlatformConfiguration {
    /// Decodes and validates a YAML configuration. Throws every problem found, not only the first.
    public static func load(yaml: String, baseDirectory: String? = nil) throws(ConfigurationError)
        -> PlatformConfiguration
    {
        throw ConfigurationError(issues: [ConfigIssue(path: "", reason: "loading is not implemented yet")])
    }

    /// Reads `path` (`-` for standard input) and loads it; relative `secretFile`s resolve against its directory.
    public static func load(path: String) throws(ConfigurationError) -> PlatformConfiguration {
        throw ConfigurationError(issues: [ConfigIssue(path: "", reason: "loading is not implemented yet")])
    }

    /// YAML that `load(yaml:)` accepts and decodes to a value equal to `self`.
    public func encodeYAML() -> String {
        ""
    }
}
