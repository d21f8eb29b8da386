import Foundation
import PlatformConfig
import PlatformConfigLoader
import Testing

/// Secret files are read after decoding (`Deploy/config-reference.md`, secrets); their issues still read as
/// if they had been found while decoding: at the key, in the order of the file, beside the other issues.
@Suite struct SecretFileOrderTests {
    static let yaml = """
        platform: {name: secrets}
        partitions:
          - name: a
            class: fair-share
            priority: 1
            memoryBytes: 16MiB
            secretFile: &missing missing-a.secret
          - name: b
            class: fair-share
            priority: *missing
            memoryBytes: 16MiB
            secretFile: missing-b.secret
        devices:
          framebuffers:
            - name: fb0
              width: 64
              height: 64
              rfbEndpoints: [tcp:127.0.0.1:0]
              passwordFile: missing-fb.secret
              refreshHz: fast
        """

    /// `partitions[1].priority` is an alias of the value of `partitions[0].secretFile`, so both issues sit at
    /// the same line and column: only the order in which they were found separates them, and the secret file
    /// of partition 0 is reached first.
    @Test func issuesOfUnreadableSecretFilesKeepTheFileOrder() throws {
        let directory = try TemporaryDirectory()
        let issues = loadIssues(Self.yaml, base: directory.path)
        #expect(
            issues.map(\.description) == [
                "partitions[0].secretFile: cannot open '\(directory.path)/missing-a.secret': No such file or directory",
                "partitions[1].priority: expected an integer, found 'missing-a.secret'",
                "partitions[1].secretFile: cannot open '\(directory.path)/missing-b.secret': No such file or directory",
                "devices.framebuffers[0].passwordFile: "
                    + "cannot open '\(directory.path)/missing-fb.secret': No such file or directory",
                "devices.framebuffers[0].refreshHz: expected an integer, found 'fast'",
            ])
        #expect(issues[0].line == 7 && issues[0].line == issues[1].line && issues[0].column == issues[1].column)
    }

    /// Once the files exist, the same document loads them all, each relative to the base directory.
    @Test func readableSecretFilesAreLoadedAfterDecoding() throws {
        let directory = try TemporaryDirectory()
        try directory.write("missing-a.secret", "secret-of-a-from-file\n")
        try directory.write("missing-b.secret", "secret-of-b-from-file\n")
        try directory.write("missing-fb.secret", "vncpass\n")
        let yaml = Self.yaml.replacingOccurrences(of: "priority: *missing", with: "priority: 2")
            .replacingOccurrences(of: "refreshHz: fast", with: "refreshHz: 30")
        let config = try PlatformConfiguration.load(yaml: yaml, baseDirectory: directory.path)
        #expect(config.partitions.map(\.secret) == ["secret-of-a-from-file", "secret-of-b-from-file"])
        #expect(config.partitions.map(\.secretFile) == ["missing-a.secret", "missing-b.secret"])
        #expect(config.devices.framebuffers[0].password == "vncpass")
        #expect(config.devices.framebuffers[0].passwordFile == "missing-fb.secret")
    }
}
