import PlatformConfig
import PlatformConfigLoader
import Testing

@Suite struct RoundTripTests {
    @Test func referenceRoundTrips() throws {
        let yaml = PlatformConfiguration.reference.encodeYAML()
        let reloaded = try PlatformConfiguration.load(yaml: yaml)
        #expect(reloaded == PlatformConfiguration.reference)
        // Encoding is deterministic: the printed default is a fixed point.
        #expect(reloaded.encodeYAML() == yaml)
    }

    @Test(arguments: ["reference-handset.yaml", "minimal.yaml", "remote-control.yaml", "living-handset.yaml"])
    func exampleRoundTrips(name: String) throws {
        let original = try PlatformConfiguration.load(path: TestFiles.example(name))
        let yaml = original.encodeYAML()
        let reloaded = try PlatformConfiguration.load(yaml: yaml)
        #expect(reloaded == original)
        #expect(reloaded.encodeYAML() == yaml)
    }

    @Test func awkwardStringsRoundTrip() throws {
        var config = try PlatformConfiguration.load(yaml: baseYAML)
        for text in [
            "", "null", "~", "yes", "NO", "true", "17", "0x1F", "1_000", "-dash", "a: b", "x #y", "[list]", "{map}",
            "quote\"back\\slash", "tab\tnew\nline", "trailing ", " leading", "ends:", "* star", "&anchor", "!tag",
            "%percent", "@at", "`tick`", "'single'", "ünïcödé ✓", "\u{1}control",
        ] {
            config.platform.description = text
            config.hub.controlToken = "token-" + text + String(repeating: "x", count: 16)
            let reloaded = try PlatformConfiguration.load(yaml: config.encodeYAML())
            #expect(reloaded == config, "\(text.debugDescription)")
        }
    }

    @Test func everyOptionalFieldRoundTrips() throws {
        var config = try PlatformConfiguration.load(yaml: baseYAML)
        config.hub.controlEndpoints = [.tcp(host: "0.0.0.0", port: 7400), .tcp(host: "::1", port: 0)]
        config.hub.controlToken = "0123456789abcdef0123"
        config.hub.guestEndpoints = []
        config.hub.limits.guestMaxSessions = 12
        config.hub.limits.controlMaxLineBytes = 5000
        config.partitions[1].heartbeatMs = 250
        config.partitions[1].allowTakeover = true
        config.partitions[1].restart = RestartPolicy(
            mode: .never, maxRestarts: 0, windowSeconds: 1, backoffInitialMs: 0, backoffMaxMs: 0)
        config.partitions[1].interruptLines = 8
        config.partitions[1].weight = 9999
        config.devices.modems[0].pin = "0000"
        config.devices.modems[0].backend = .remote(.tcp(host: "10.0.0.5", port: 7600))
        config.devices.modems[0].backendCommandTimeoutMs = 750
        config.devices.modems[0].backendKeepaliveMs = 1500
        config.devices.modems[0].backendBacklogBytes = 8192
        config.devices.framebuffers[0].bitsPerPixel = 16
        config.devices.ethernet[0].mtu = 9000
        config.devices.ethernet[0].ports.append(EthernetPortConfig(name: "tap"))
        config.regions[0].doorbellLine = nil
        config.links[0].maxMessageBytes = 1000
        #expect(config.validate() == [])
        let reloaded = try PlatformConfiguration.load(yaml: config.encodeYAML())
        #expect(reloaded == config)
    }

    @Test func emptyListsRoundTrip() throws {
        let config = PlatformConfiguration(
            platform: PlatformInfo(name: "bare"),
            hub: HubSettings(controlEndpoints: [], guestEndpoints: []),
            partitions: [
                PartitionConfig(name: "solo", schedulingClass: .realTime, priority: 3, memoryBytes: 4096, secret: "s")
            ])
        #expect(config.validate() == [])
        #expect(try PlatformConfiguration.load(yaml: config.encodeYAML()) == config)
    }
}
