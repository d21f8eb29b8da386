import Foundation
import PlatformConfig
import PlatformConfigLoader
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct DecodingTests {
    @Test func syntaxErrorHasLineAndColumn() {
        do {
            _ = try PlatformConfiguration.load(yaml: "platform:\n  name: x\npartitions: [\n  a: b\n")
            Issue.record("accepted broken YAML")
        } catch {
            #expect(error.issues.count == 1)
            let issue = error.issues[0]
            #expect(issue.path == "")
            #expect(issue.reason.hasPrefix("YAML syntax error: "))
            #expect(issue.line == 5 && issue.column == 1)
        }
    }

    @Test func duplicateKeyIsAnError() throws {
        let issue = try #require(loadIssues("platform: {name: a}\nplatform: {name: b}\npartitions: []\n").first)
        #expect(issue.reason == "duplicate key 'platform' in one mapping")
        #expect(issue.line == 1)
    }

    @Test func documentShapes() {
        #expect(issues("") == ["the document is empty"])
        #expect(issues("# only a comment\n") == ["the document is empty"])
        #expect(issues("- a\n- b\n") == ["expected a mapping, found a list"])
        #expect(
            issues("platform: {name: x}\n") == ["partitions: required key is missing"])
        #expect(
            issues("platform: {name: x}\npartitions: []\n") == ["partitions: at least one partition is required"])
        #expect(
            issues("partitions: [{name: a, class: real-time, priority: 0, memoryBytes: 4096, secret: s}]\n") == [
                "platform: required key is missing"
            ])
    }

    @Test func unknownKeyIsReportedWithItsPath() {
        let yaml = baseYAML.replacingOccurrences(of: "priority: 8", with: "priority: 8\n    prioritty: 9")
        #expect(issues(yaml) == ["partitions[1].prioritty: unknown key"])
    }

    @Test func issuesCarryLines() throws {
        let yaml = baseYAML.replacingOccurrences(of: "priority: 8", with: "priority: 80")
        let issue = try #require(loadIssues(yaml).first)
        #expect(issue.description == "partitions[1].priority: 80 is outside 0...15")
        #expect(issue.line == 17 && issue.column == 15)
    }

    @Test func nullMeansAbsent() throws {
        let yaml = baseYAML.replacingOccurrences(
            of: "priority: 8", with: "priority: 8\n    heartbeatMs: ~\n    weight: null")
        let config = try PlatformConfiguration.load(yaml: yaml)
        #expect(config.partitions[1].heartbeatMs == nil)
        #expect(config.partitions[1].weight == PartitionConfig.defaultWeight)
    }

    @Test func defaultsApplyWhenOmitted() throws {
        let config = try PlatformConfiguration.load(path: TestFiles.example("minimal.yaml"))
        #expect(config.hub == HubSettings())
        let linux = try #require(config.partition(named: "linux"))
        #expect(linux.weight == 100 && linux.interruptLines == 32 && !linux.allowTakeover && linux.heartbeatMs == nil)
        #expect(linux.restart == RestartPolicy())
        #expect(linux.memoryBytes == 256 << 20)
        #expect(
            config.links == [LinkConfig(name: "rtos-linux", a: "rtos", b: "linux", maxMessageBytes: 4096, depth: 256)])
        #expect(config.regions.isEmpty && config.devices == DevicesConfig())
    }

    @Test func remoteControlExample() throws {
        let config = try PlatformConfiguration.load(path: TestFiles.example("remote-control.yaml"))
        #expect(config.hub.controlEndpoints.first == .tcp(host: "0.0.0.0", port: 7400))
        #expect(config.hub.controlEndpoints.first?.isLoopback == false)
        #expect(config.hub.controlToken == "change-me-to-a-long-random-token")
        #expect(config.hub.limits.controlMaxClients == 32 && config.hub.limits.controlMaxLineBytes == 256 << 10)
        var withoutToken = config
        withoutToken.hub.controlToken = nil
        #expect(
            withoutToken.validate().map(\.description) == [
                "hub.controlEndpoints[0]: tcp:0.0.0.0:7400 is not loopback, so hub.controlToken is required"
            ])
    }

    @Test func secretFileIsReadRelativeToTheConfiguration() throws {
        let directory = try TemporaryDirectory()
        try directory.write("keys/a.secret", "  s3cr3t-from-file \n\n")
        let yaml = baseYAML.replacingOccurrences(of: "secret: a-secret", with: "secretFile: keys/a.secret")
        try directory.write("platform.yaml", yaml)
        let config = try PlatformConfiguration.load(path: directory.path + "/platform.yaml")
        #expect(config.partitions[0].secret == "  s3cr3t-from-file")
        #expect(config.partitions[0].secretFile == "keys/a.secret")
        // The encoded form names the file and never contains the secret itself.
        let encoded = config.encodeYAML()
        #expect(!encoded.contains("s3cr3t"))
        #expect(try PlatformConfiguration.load(yaml: encoded, baseDirectory: directory.path) == config)

        try directory.write("keys/a.secret", "\n")
        #expect(
            throws: ConfigurationError.self,
            performing: { try PlatformConfiguration.load(path: directory.path + "/platform.yaml") })
        #expect(
            loadIssues(yaml, base: directory.path).map(\.description) == [
                "partitions[0].secretFile: '\(directory.path)/keys/a.secret' is empty"
            ])
    }

    @Test func missingFile() {
        do {
            _ = try PlatformConfiguration.load(path: "/nonexistent/handsethub.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(
                error.issues.map(\.description) == [
                    "cannot open '/nonexistent/handsethub.yaml': No such file or directory"
                ])
        }
    }

    @Test func oversizedDocumentIsRefused() {
        let huge = String(repeating: "#", count: PlatformConfiguration.maxYAMLBytes + 1)
        #expect(issues(huge) == ["the document is larger than \(PlatformConfiguration.maxYAMLBytes) bytes"])
    }

    @Test func aliasExpansionIsBounded() {
        // 300 aliases of a partition holding 1000 peers expand to 300,000 nodes from a few kilobytes.
        let peers = Array(repeating: "x", count: 1000).joined(separator: ", ")
        var yaml = "platform: {name: x}\ntemplates:\n  - &p {name: a, class: real-time, priority: 0, "
        yaml += "memoryBytes: 4096, secret: s, mayInterrupt: [\(peers)]}\n"
        yaml += "partitions: [" + Array(repeating: "*p", count: 300).joined(separator: ", ") + "]\n"
        // One precise issue, found before composing, instead of the budget's note and a thousand consequences.
        let found = loadIssues(yaml)
        #expect(found.count == 1)
        #expect(found.first?.reason.hasPrefix("aliases expand the document by more than 100000 nodes (at *p") == true)
        #expect(found.first?.line == 4)
    }

    @Test func errorDescriptionListsEveryIssue() {
        let error = ConfigurationError(issues: [
            ConfigIssue(path: "a.b", reason: "bad", line: 3, column: 4), ConfigIssue(path: "", reason: "worse"),
        ])
        #expect(error.description == "invalid configuration: 2 errors\n  a.b: bad (line 3, column 4)\n  worse")
    }
}

@Suite struct ByteSizeTests {
    @Test func parsesPlainAndBinaryUnits() {
        #expect(ByteSize.parse("4096") == 4096)
        #expect(ByteSize.parse("4096B") == 4096)
        #expect(ByteSize.parse("512KiB") == 512 << 10)
        #expect(ByteSize.parse("64MiB") == 64 << 20)
        #expect(ByteSize.parse("64 MiB") == 64 << 20)
        #expect(ByteSize.parse("2GiB") == 2 << 30)
        #expect(ByteSize.parse("1TiB") == 1 << 40)
        #expect(ByteSize.parse("0") == 0)
    }

    @Test func refusesAmbiguousOrMalformedSizes() {
        for text in ["", "MiB", "64MB", "64M", "64mib", "-1", "1.5MiB", "0x10", "64 ", " 64", "64  MiB", "1e6"] {
            #expect(ByteSize.parse(text) == nil, "\(text)")
        }
        #expect(ByteSize.parse("18446744073709551615") == UInt64.max)
        #expect(ByteSize.parse("18446744073709551616") == nil)
        #expect(ByteSize.parse("16777216TiB") == nil)
    }

    @Test func formatsExactly() {
        #expect(ByteSize.format(4096) == "4KiB")
        #expect(ByteSize.format(64 << 20) == "64MiB")
        #expect(ByteSize.format((1 << 20) + 64) == "1048640")
        #expect(ByteSize.format(1 << 30) == "1GiB")
        #expect(ByteSize.format(1000) == "1000")
        #expect(ByteSize.format(0) == "0")
        for value: UInt64 in [1, 1023, 1024, 1536, 3 << 40, UInt64.max] {
            #expect(ByteSize.parse(ByteSize.format(value)) == value)
        }
    }

    @Test func sizesInYAML() throws {
        let yaml = baseYAML.replacingOccurrences(of: "sizeBytes: 4KiB", with: "sizeBytes: 8192")
        #expect(try PlatformConfiguration.load(yaml: yaml).regions[0].sizeBytes == 8192)
        let quoted = baseYAML.replacingOccurrences(of: "sizeBytes: 4KiB", with: "sizeBytes: \"2MiB\"")
        #expect(try PlatformConfiguration.load(yaml: quoted).regions[0].sizeBytes == 2 << 20)
    }
}

/// Loads expecting failure and returns the raw issues.
func loadIssues(_ yaml: String, base: String? = nil) -> [ConfigIssue] {
    do {
        _ = try PlatformConfiguration.load(yaml: yaml, baseDirectory: base)
        return []
    } catch {
        return error.issues
    }
}

/// A scratch directory removed when the value is released.
final class TemporaryDirectory {
    let path: String
    private var files: Set<String> = []
    private var directories: [String] = []

    init() throws {
        var template = Array("/tmp/platformconfig-test-XXXXXX".utf8CString)
        guard let result = mkdtemp(&template) else { throw TestFiles.CError.open("mkdtemp") }
        path = String(cString: result)
    }

    func write(_ name: String, _ text: String) throws {
        let full = path + "/" + name
        if let slash = full.lastIndex(of: "/"), String(full[..<slash]) != path {
            let directory = String(full[..<slash])
            if mkdir(directory, 0o700) == 0 { directories.append(directory) }
        }
        files.insert(full)
        guard let file = fopen(full, "w") else { throw TestFiles.CError.open(full) }
        defer { fclose(file) }
        _ = Array(text.utf8).withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
    }

    deinit {
        for file in files { unlink(file) }
        for directory in directories.reversed() { rmdir(directory) }
        rmdir(path)
    }
}
