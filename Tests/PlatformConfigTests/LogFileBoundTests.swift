import PlatformConfig
import PlatformConfigLoader
import Testing

/// `partitions[].launch.logFileMaxBytes` (`Deploy/config-reference.md`): 8 MiB by default, 4KiB...64GiB, written
/// back as it was read.
@Suite struct LogFileBoundTests {
    static func yaml(_ bound: String?) -> String {
        baseYAML.replacingOccurrences(
            of: "    secret: b-secret\n",
            with: "    secret: b-secret\n    launch:\n      command: [/bin/true]\n      logFile: /tmp/b.log\n"
                + (bound.map { "      logFileMaxBytes: \($0)\n" } ?? ""))
    }

    @Test func defaultsBoundsAndRoundTrips() throws {
        #expect(try PlatformConfiguration.load(yaml: Self.yaml(nil)).partitions[1].launch?.logFileMaxBytes == 8 << 20)
        let config = try PlatformConfiguration.load(yaml: Self.yaml("64KiB"))
        #expect(config.partitions[1].launch?.logFileMaxBytes == 64 << 10)
        #expect(try PlatformConfiguration.load(yaml: config.encodeYAML()) == config)
        #expect(issues(Self.yaml("1KiB")).contains { $0.hasPrefix("partitions[1].launch.logFileMaxBytes: ") })
    }
}
