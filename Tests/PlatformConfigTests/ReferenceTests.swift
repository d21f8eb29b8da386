import PlatformConfig
import PlatformConfigLoader
import Testing

@Suite struct ReferenceTests {
    @Test func referenceMatchesDesign() throws {
        let reference = PlatformConfiguration.reference
        #expect(reference.validate() == [])
        #expect(reference.partitions.map(\.name) == ["rtos", "linux", "secure", "mgmt"])
        let rtos = try #require(reference.partition(named: "rtos"))
        #expect(rtos.schedulingClass == .realTime && rtos.priority == 0)
        #expect(rtos.grant(for: "modem0")?.access == .dedicated)
        #expect(rtos.grant(for: "fb0")?.access == .shared)
        #expect(rtos.mayInterrupt == ["linux", "secure"] && rtos.mayMessage == ["linux", "secure"])
        let linux = try #require(reference.partition(named: "linux"))
        #expect(linux.schedulingClass == .fairShare && linux.priority == 8 && linux.weight == 100)
        #expect(linux.mayMessage == ["rtos", "secure", "mgmt"])
        let secure = try #require(reference.partition(named: "secure"))
        #expect(secure.schedulingClass == .realTime && secure.priority == 1)
        #expect(secure.mayInterrupt == ["rtos", "linux"] && secure.mayMessage == ["rtos", "linux"])
        let mgmt = try #require(reference.partition(named: "mgmt"))
        #expect(mgmt.schedulingClass == .fairShare && mgmt.priority == 12 && mgmt.weight == 50)
        #expect(Set(mgmt.mayMessage) == ["rtos", "linux", "secure"])
        #expect(reference.partition(named: "nobody") == nil)

        #expect(reference.links.count == 6)
        #expect(reference.regions.map(\.name) == ["shared-status"])
        #expect(reference.regions[0].doorbellLine == 1)
        #expect(reference.devices.ethernet.map(\.name) == ["lan0"])
        #expect(reference.devices.ethernet[0].ports.compactMap(\.partition) == ["rtos", "linux"])
        #expect(reference.devices.modems == [ModemConfig(name: "modem0", owner: "rtos", backend: .builtin)])
        #expect(
            reference.devices.framebuffers == [
                FramebufferConfig(
                    name: "fb0", width: 480, height: 800, bitsPerPixel: 32,
                    rfbEndpoints: [.tcp(host: "127.0.0.1", port: 5900)],
                    layout: [
                        ScreenRegionConfig(name: "status-bar", owner: "rtos", x: 0, y: 0, width: 480, height: 40, z: 1),
                        ScreenRegionConfig(name: "apps", owner: "linux", x: 0, y: 40, width: 480, height: 760, z: 0),
                    ],
                    defaultFocus: "linux", preemptors: ["rtos"], frameDoneLine: 8, inputLine: 9, refreshHz: 60)
            ])
        #expect(
            reference.hub.controlEndpoints == [
                .tcp(host: "127.0.0.1", port: 7400), .unix(path: "/tmp/handsethub/control.sock"),
            ])
        #expect(
            reference.hub.guestEndpoints == [
                .tcp(host: "127.0.0.1", port: 7401), .unix(path: "/tmp/handsethub/guest.sock"),
            ])
        #expect(reference.hub.controlToken == nil)
        #expect(reference.hub.handshakeTimeoutMs == 5000)
        #expect(reference.hub.limits == Limits())
    }

    /// The built-in model is written in Swift and the text by hand: loading the text gives exactly the model.
    @Test func referenceYAMLLoadsToTheSwiftBuiltModel() throws {
        #expect(try PlatformConfiguration.load(yaml: PlatformConfiguration.referenceYAML) == .reference)
    }

    @Test func exampleFileIsTheBuiltInReference() throws {
        let path = TestFiles.example("reference-handset.yaml")
        let fromFile = try PlatformConfiguration.load(path: path)
        #expect(fromFile == PlatformConfiguration.reference)
        // The example is the embedded text verbatim, so documentation and binary cannot drift.
        let text = try TestFiles.readText(path)
        #expect(text == PlatformConfiguration.referenceYAML + "\n")
    }

    @Test func defaultLimits() {
        let limits = Limits()
        #expect(limits.controlMaxLineBytes == 1 << 20)
        #expect(limits.controlMaxClients == 256)
        #expect(limits.controlOutboxEvents == 1024)
        #expect(limits.eventReplayEvents == 4096)
        #expect(limits.guestMaxFrameBytes == (1 << 20) + 64)
        #expect(limits.guestMaxSessions == 4096)
    }
}
